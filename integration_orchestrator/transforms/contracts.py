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

from integration_orchestrator.jsontypes import json_type_phrase
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
    return [f"validate must return errors (a list of messages), got {json_type_phrase(value)}"]


def apply_record_contract(
    transformation_type: str, records: list[dict[str, Any]], results: list[Any]
) -> tuple[list[int], list[dict[str, Any]], list[Failure]]:
    """Turn per-record ``results`` into the output records, their input indexes, and failures."""
    if len(records) != len(results):
        raise ValueError(f"the engine returned {len(results)} results for {len(records)} records")
    if transformation_type == "map" and all(type(v) is dict for v in results):
        return list(range(len(results))), results, []
    if transformation_type == "enrich" and all(type(v) is dict for v in results):
        return list(range(len(results))), [{**r, **v} for r, v in zip(records, results, strict=True)], []
    if transformation_type == "filter" and not any(isinstance(v, RecordFailure) for v in results):
        kept = [i for i, v in enumerate(results) if (v is True or (v is not False and truthy(v)))]
        return kept, [records[i] for i in kept], []
    indexes: list[int] = []
    out: list[dict[str, Any]] = []
    failures: list[Failure] = []
    for index, (record, value) in enumerate(zip(records, results, strict=True)):
        if isinstance(value, RecordFailure):
            failures.append((index, record, value.message, {}))
            continue
        result, problem = _one(transformation_type, record, value)
        if problem is not None:
            failures.append((index, record, problem[0], problem[1]))
        elif result is not None:
            indexes.append(index)
            out.append(result)
    return indexes, out, failures


def _one(
    kind: str, record: dict[str, Any], value: Any
) -> tuple[dict[str, Any] | None, tuple[str, dict[str, Any]] | None]:
    """(output record or None when dropped, (message, extra) when the record failed)."""
    if kind == "map":
        if isinstance(value, dict):
            return value, None
        return None, (f"map must return an object, got {json_type_phrase(value)}", {})
    if kind == "filter":
        return (record if truthy(value) else None), None
    if kind == "enrich":
        if value is None:
            return record, None
        if isinstance(value, dict):
            return {**record, **value}, None
        return None, (f"enrich must return an object, got {json_type_phrase(value)}", {})
    if kind == "validate":
        messages = validation_messages(value)
        if messages:
            return None, ("; ".join(messages), {"errors": messages})
        return record, None
    raise ValueError(f"not a per-record transformation type: {kind}")


def apply_batch_contract(transformation_type: str, value: Any) -> list[dict[str, Any]]:
    """Check an aggregate/custom result; raise ``ValueError`` with the reason when wrong."""
    if not isinstance(value, list):
        raise ValueError(f"{transformation_type} must return a list of objects, got {json_type_phrase(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ValueError(
                f"{transformation_type} must return a list of objects; item {i} is {json_type_phrase(item)}"
            )
    return value
