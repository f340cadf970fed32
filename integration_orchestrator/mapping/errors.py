"""Errors of the mapping engine: bad definitions (compile time) and field errors (run time)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integration_orchestrator.errors import RowError

__all__ = ["FieldError", "FieldFailure", "MappingDefinitionError"]


class MappingDefinitionError(RowError):
    """An ``integration_mappings`` row cannot be compiled.

    The message names the mapping, its id, the column (``field``) and the problem, e.g.
    "In mapping `order_total` (id 3f2a..), field `transformation_rules.type`: unknown
    rule type 'upper'".
    """

    def __init__(self, name: str | None, reason: str, *, row_id: Any = None, field: str | None = None) -> None:
        super().__init__("mapping", name, reason, row_id=row_id, field=field)


class FieldFailure(Exception):
    """Raised inside a compiled mapping when one value cannot be mapped (internal)."""

    def __init__(self, reason: str, value: Any = None, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.value = value
        self.path = path


@dataclass(frozen=True, slots=True)
class FieldError:
    """Why one mapping failed on one record: the mapping, the source path, the value, the reason."""

    mapping: str
    path: str
    value: Any
    reason: str

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"mapping `{self.mapping}`, path `{self.path}`: {self.reason} (value {shown})"

    def as_dict(self) -> dict[str, Any]:
        return {"mapping": self.mapping, "path": self.path, "value": self.value, "reason": self.reason}
