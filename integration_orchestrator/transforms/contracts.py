"""What each ``transformation_type`` makes of an engine's raw results.

map       record -> object             the object replaces the record
filter    record -> bool               records whose result is true are kept unchanged
enrich    record -> object | null      the object's keys are merged into the record
validate  record -> errors             null/true/""/[]/{} valid; false, a message, a list
                                       of messages or {field: message} make it fail
aggregate records -> list of objects   the output records
custom    records -> list of objects   the output records
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integration_orchestrator.transforms.base import RecordFailure

__all__ = ["Failure", "apply_batch_contract", "apply_record_contract", "truthy", "validation_messages"]

# (index, record, message, extra fields for the error payload)
Failure = tuple[int, Any, str, dict[str, Any]]


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; every number is true."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (str, list, dict, tuple)):
        return len(value) > 0
    return True


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def validation_messages(value: Any) -> list[str]:
    """The validation errors a ``validate`` result stands for (empty: the record is valid)."""
    if value is None or value is True:
        return []
    if value is False:
        return ["failed validation"]
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Mapping):
        return [f"{key}: {msg}" for key, msg in value.items() if msg]
    if isinstance(value, list):
        return [m if isinstance(m, str) else str(m) for m in value if m]
    return [f"validate must return errors (a list of messages), got {_type_name(value)}"]


def apply_record_contract(
    transformation_type: str, records: list[dict[str, Any]], results: list[Any], offset: int = 0
) -> tuple[list[tuple[int, dict[str, Any]]], list[Failure]]:
    """Turn per-record ``results`` into ``(input index, output record)`` pairs and failures."""
    out: list[tuple[int, dict[str, Any]]] = []
    failures: list[Failure] = []
    for i, (record, value) in enumerate(zip(records, results, strict=True)):
        index = offset + i
        if isinstance(value, RecordFailure):
            failures.append((index, record, value.message, {}))
        elif transformation_type == "map":
            if isinstance(value, dict):
                out.append((index, value))
            else:
                failures.append((index, record, f"map must return an object, got {_type_name(value)}", {}))
        elif transformation_type == "filter":
            if truthy(value):
                out.append((index, record))
        elif transformation_type == "enrich":
            if value is None:
                out.append((index, record))
            elif isinstance(value, dict):
                out.append((index, {**record, **value}))
            else:
                failures.append((index, record, f"enrich must return an object, got {_type_name(value)}", {}))
        elif transformation_type == "validate":
            messages = validation_messages(value)
            if messages:
                failures.append((index, record, "; ".join(messages), {"errors": messages}))
            else:
                out.append((index, record))
        else:  # pragma: no cover - guarded by TransformationRow.validate
            raise ValueError(f"not a per-record transformation type: {transformation_type}")
    return out, failures


def apply_batch_contract(transformation_type: str, value: Any) -> list[dict[str, Any]]:
    """Check an aggregate/custom result; raise ``ValueError`` with the reason when wrong."""
    if not isinstance(value, list):
        raise ValueError(f"{transformation_type} must return a list of objects, got {_type_name(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(f"{transformation_type} must return a list of objects; item {i} is {_type_name(item)}")
    return value
