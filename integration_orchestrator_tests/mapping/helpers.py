"""Small builders for single-mapping plans."""

from __future__ import annotations

from typing import Any

from integration_orchestrator.mapping import MappingPlan, RecordResult, compile_plan


def row(**columns: Any) -> dict[str, Any]:
    """A mapping row reading ``v`` and writing ``out`` unless told otherwise."""
    return {"mapping_name": "m", "source_path": "v", "target_path": "out", **columns}


def plan_of(*rows: dict[str, Any], **options: Any) -> MappingPlan:
    return compile_plan(list(rows), **options)


def apply_one(value: Any, **columns: Any) -> RecordResult:
    """Map ``{"v": value}`` with one mapping built from ``columns``."""
    record = {} if value is _ABSENT else {"v": value}
    return plan_of(row(**columns)).apply(record)


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _Absent()
ABSENT: Any = _ABSENT
