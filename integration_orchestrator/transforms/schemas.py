"""``input_schema`` / ``output_schema`` checks and ``error_output_schema`` shaping."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from integration_orchestrator.transforms.row import TransformationRow

__all__ = ["SchemaChecker", "sample_indexes", "shape_error"]

SAMPLE_EVERY = 100
SAMPLE_HEAD = 100


def sample_indexes(count: int, mode: str) -> Iterator[int]:
    """Indexes to check: all of them, or the first 100 and every 100th after (``sample``)."""
    if mode == "all":
        yield from range(count)
        return
    yield from range(min(count, SAMPLE_HEAD))
    yield from range(SAMPLE_HEAD, count, SAMPLE_EVERY)


@dataclass
class SchemaChecker:
    """A compiled JSON Schema; ``errors(record)`` lists what is wrong with a record."""

    schema: Mapping[str, Any]
    label: str

    def __post_init__(self) -> None:
        cls = jsonschema.validators.validator_for(self.schema)
        self._validator = cls(self.schema, format_checker=cls.FORMAT_CHECKER)

    def errors(self, record: Any) -> list[str]:
        found = sorted(self._validator.iter_errors(record), key=lambda e: list(e.absolute_path))
        return [f"{self.label}: {_where(e)}{e.message}" for e in found]


def _where(error: jsonschema.ValidationError) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"at ${path}: " if path else ""


def shape_error(
    row: TransformationRow, index: int, record: Any, message: str, extra: Mapping[str, Any]
) -> dict[str, Any]:
    """The error object for a failed record.

    The full object has ``index``, ``record``, ``error`` (the message), ``transformation``,
    ``transformation_id``, ``transformation_type``, ``language`` and any contract extras
    (``errors`` for validate). With an ``error_output_schema`` that lists ``properties``,
    only those keys are kept (``message`` is accepted as an alias of ``error``); keys the
    schema requires but we do not know are left out, so the schema decides the shape.
    """
    full: dict[str, Any] = {
        "index": index,
        "record": record,
        "error": message,
        "message": message,
        "transformation": row.transformation_name,
        "transformation_id": None if row.id is None else str(row.id),
        "transformation_type": row.transformation_type,
        "language": row.language,
        **extra,
    }
    schema = row.error_output_schema
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(properties, Mapping):
        full.pop("message")
        return full
    return {key: full[key] for key in properties if key in full}
