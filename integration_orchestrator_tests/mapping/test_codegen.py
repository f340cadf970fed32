"""Generated steps (name-only paths) behave exactly like the closure steps (other paths)."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.mapping import compile_mapping, compile_plan
from integration_orchestrator_tests.mapping.helpers import ABSENT

CASES = [
    ({}, "x"),
    ({}, None),
    ({}, ABSENT),
    ({"target_data_type": "integer"}, "12"),
    ({"target_data_type": "integer"}, "1.5"),
    ({"target_data_type": "integer", "error_handling": "null"}, "bad"),
    ({"target_data_type": "integer", "error_handling": "skip"}, "bad"),
    ({"target_data_type": "integer", "error_handling": "default", "default_value": "0"}, "bad"),
    ({"is_required": True}, ABSENT),
    ({"default_value": "d"}, None),
    ({"source_data_type": "string"}, 5),
    ({"validation_rules": {"pre": {"type": "string"}, "post": {"maxLength": 2}}}, "abc"),
    ({"transformation_rules": {"type": "lookup", "values": {"a": "A"}}}, "b"),
    ({"transformation_rules": {"type": "lookup", "values": {"a": "A"}}, "target_data_type": "integer"}, "a"),
]


def _outcome(result: Any) -> tuple[Any, ...]:
    return (result.output, result.dropped, [(e.mapping, e.value, e.reason) for e in result.errors])


@pytest.mark.parametrize(("columns", "value"), CASES)
@pytest.mark.parametrize("target", ["out", "deep.out", "a.b.c"])
def test_generated_equals_closure(columns: dict[str, Any], value: Any, target: str) -> None:
    generated = compile_plan([{"mapping_name": "m", "source_path": "v", "target_path": target, **columns}])
    closure = compile_plan([{"mapping_name": "m", "source_path": "$.w[0]", "target_path": target, **columns}])
    record_named = {} if value is ABSENT else {"v": value}
    record_indexed = {"w": []} if value is ABSENT else {"w": [value]}
    assert _outcome(generated.apply(record_named)) == _outcome(closure.apply(record_indexed))


def test_traced_steps_record_the_same_behaviours() -> None:
    for source, record in (("v", {"v": "x"}), ("$.w[0]", {"w": ["x"]})):
        tracer: set[str] = set()
        row = {"mapping_name": "m", "source_path": source, "target_path": "o", "target_data_type": "integer"}
        plan, behaviours = compile_mapping([row], "m", tracer=tracer)
        plan.apply(record)
        assert tracer == {"value present", "coercion failure", "error policy fail"}
        assert set(behaviours) == {"value present", "value missing or null", "coercion failure", "error policy fail"}
