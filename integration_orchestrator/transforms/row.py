"""``TransformationRow``: a typed, validated ``integration_transformations`` row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from integration_orchestrator.model.enums import PERFORMANCE_TIERS, TRANSFORMATION_LANGUAGES, TRANSFORMATION_TYPES
from integration_orchestrator.transforms.errors import TransformationDefinitionError

__all__ = [
    "LANGUAGES",
    "PERFORMANCE_TIERS",
    "TRANSFORMATION_TYPES",
    "TransformationRow",
]

LANGUAGES = TRANSFORMATION_LANGUAGES
_SCHEMA_FIELDS = ("input_schema", "output_schema", "error_output_schema")


@dataclass(frozen=True)
class TransformationRow:
    """The columns of ``integration_transformations`` the engines use.

    ``language`` is not limited to :data:`LANGUAGES`: engines registered through the
    ``integration_orchestrator.engines`` entry point group add languages.
    """

    transformation_name: str
    transformation_type: str
    language: str
    transformation_logic: Mapping[str, Any]
    id: Any = None
    description: str | None = None
    input_schema: Mapping[str, Any] | None = None
    output_schema: Mapping[str, Any] | None = None
    error_output_schema: Mapping[str, Any] | None = None
    test_cases: Mapping[str, Any] | None = None
    performance_tier: str = "standard"
    timeout_seconds: float = 30
    is_reusable: bool = True
    organization_id: Any = None
    version: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, validate: bool = True) -> TransformationRow:
        """Build (and by default validate) a row from a database row or an inline dict."""
        known = set(cls.__dataclass_fields__) - {"extra"}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        name = values.get("transformation_name") or data.get("name")
        values["transformation_name"] = str(name) if name else "inline"
        row_id = values.get("id")
        if not validate:
            values.setdefault("transformation_type", "")
            values.setdefault("language", "")
            values.setdefault("transformation_logic", {})
        else:
            for required in ("transformation_type", "language", "transformation_logic"):
                if required not in values:
                    raise TransformationDefinitionError(name, "is required", row_id=row_id, field=required)
        row = cls(**values, extra={k: v for k, v in data.items() if k not in known})
        if validate:
            row.validate()
        return row

    def error(self, field_name: str | None, reason: str) -> TransformationDefinitionError:
        return TransformationDefinitionError(self.transformation_name, reason, row_id=self.id, field=field_name)

    def validate(self) -> None:
        """Check the columns whose shape does not depend on the engine."""
        if self.transformation_type not in TRANSFORMATION_TYPES:
            raise self.error(
                "transformation_type",
                f"must be one of {', '.join(TRANSFORMATION_TYPES)}, not {self.transformation_type!r}",
            )
        if not isinstance(self.transformation_logic, Mapping):
            raise self.error("transformation_logic", "must be a JSON object")
        if self.performance_tier not in PERFORMANCE_TIERS:
            raise self.error(
                "performance_tier", f"must be one of {', '.join(PERFORMANCE_TIERS)}, not {self.performance_tier!r}"
            )
        timeout: object = self.timeout_seconds  # as read from the row, before this check
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
            raise self.error("timeout_seconds", f"must be a number of seconds in (0, 3600], not {timeout!r}")
        for name in _SCHEMA_FIELDS:
            self._check_schema(name, getattr(self, name))
        if self.test_cases is not None and not isinstance(self.test_cases, Mapping):
            raise self.error("test_cases", 'must be a JSON object {"cases": [...]}')

    def _check_schema(self, name: str, schema: Any) -> None:
        if schema is None:
            return
        if not isinstance(schema, Mapping):
            raise self.error(name, "must be a JSON Schema object")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)  # type: ignore[arg-type]  # stubs say dict, any Mapping works
        except jsonschema.SchemaError as exc:
            raise self.error(name, f"is not a valid JSON Schema: {exc.message}") from None
