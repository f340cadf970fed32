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


def test_generated_plan_function_equals_the_step_loop() -> None:
    from integration_orchestrator.mapping.plan import _step_loop

    rows: list[dict[str, Any]] = [
        {
            "mapping_name": "id",
            "source_path": "id",
            "target_path": "o.id",
            "target_data_type": "integer",
            "is_required": True,
        },
        {"mapping_name": "name", "source_path": "n.first", "target_path": "o.name", "default_value": "anon"},
        {"mapping_name": "tag", "source_path": "$.tags[0]", "target_path": "o.tag"},
        {
            "mapping_name": "kind",
            "source_path": "k",
            "target_path": "kind",
            "error_handling": "skip",
            "transformation_rules": {"type": "lookup", "values": {"a": "A"}},
        },
        {
            "mapping_name": "amt",
            "source_path": "amt",
            "target_path": "a.b.c",
            "target_data_type": "number",
            "error_handling": "null",
        },
    ]
    records = [
        {"id": "1", "n": {"first": "x"}, "tags": ["t"], "k": "a", "amt": "1.5"},
        {"id": "x", "k": "a"},
        {"k": "z", "id": 2},
        {"id": 3, "k": "a", "amt": "bad", "n": "str"},
        {"id": 4, "k": "a", "n": {"first": None}},
    ]
    fused = compile_plan(rows)
    looped = compile_plan(rows)
    looped._run = _step_loop(tuple(m.step for m in looped.mappings))
    assert [_outcome(fused.apply(r)) for r in records] == [_outcome(looped.apply(r)) for r in records]
    fused_batch, looped_batch = fused.apply_batch(records), looped.apply_batch(records)
    assert {k: v.as_dict() for k, v in fused_batch.counters.items()} == {
        k: v.as_dict() for k, v in looped_batch.counters.items()
    }
    assert [_outcome(r) for r in fused_batch.results] == [_outcome(r) for r in looped_batch.results]
    assert fused_batch.counters["name"].defaulted == 4 and fused_batch.counters["kind"].skipped == 1
