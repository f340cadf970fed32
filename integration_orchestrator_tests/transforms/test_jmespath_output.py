"""In-process JMESPath output is capped: an expression copying its record 100 times fails
that record with a clear error instead of growing the batch 100×; ordinary ones are untouched."""

from __future__ import annotations

import pytest

from integration_orchestrator.transforms.base import RecordFailure
from integration_orchestrator.transforms.jmespath import JMESPathEngine
from integration_orchestrator.transforms.jmespath_output import MAX_AMPLIFICATION, SLACK, capped, weight

HUNDRED_COPIES = "{" + ", ".join(f"k{i}: @" for i in range(100)) + "}"


def _inline(expression: str):  # type: ignore[no-untyped-def]
    program = JMESPathEngine().inline({"expression": expression}, "map")
    assert program is not None, "expected the expression to run in process"
    return program


def test_amplifying_expression_fails_the_big_record_only() -> None:
    small, big = {"id": 1, "note": "x" * 10}, {"id": 2, "note": "x" * 100_000}
    out = _inline(HUNDRED_COPIES)([small, big])
    assert out[0] == {f"k{i}": small for i in range(100)}
    assert isinstance(out[1], RecordFailure)
    assert f"exceeds {MAX_AMPLIFICATION}× the record's size" in out[1].message
    assert "copies its input 100 times" in out[1].message


@pytest.mark.parametrize(
    "expression",
    ["@", "{a: id, b: note}", "{a: @, b: @, c: @, d: @}", "[note, note, note, note]", "join(`,`, [note, note])"],
)
def test_expressions_within_free_copies_are_not_checked(expression: str) -> None:
    big = {"id": 2, "note": "x" * 1_000_000}
    (value,) = _inline(expression)([big])
    assert not isinstance(value, RecordFailure)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", 4), (1, 1), (None, 1), ([1, 2], 3), ({"ab": "cd"}, 1 + 2 + 3), ([{"a": 1}] * 3, 1 + 3 * (1 + 1 + 1))],
)
def test_weight(value: object, expected: int) -> None:
    assert weight(value) == expected


def test_weight_stops_at_the_budget() -> None:
    shared = ["x" * 1000]
    assert weight([shared] * 1_000_000, budget=10_000) <= 10_000 + 1002


def test_capped_wrapper_allows_up_to_the_limit() -> None:
    record = {"a": "x" * 10_000}
    limit = MAX_AMPLIFICATION * weight(record) + SLACK
    just_under = capped(lambda r: ["y" * (limit - 2)], copies=5)
    assert just_under(record) == ["y" * (limit - 2)]
    with pytest.raises(ValueError, match="exceeds"):
        capped(lambda r: ["y" * limit], copies=5)(record)


def test_amplifying_expression_has_no_columnar_form() -> None:
    from integration_orchestrator.transforms.columnar import compile_columnar_step

    row = {"transformation_name": "t", "language": "jmespath", "transformation_type": "map",
           "transformation_logic": {"expression": HUNDRED_COPIES}}
    assert compile_columnar_step({**row, "transformation_logic": {"expression": "{a: @, b: id}"}}) is not None
    assert compile_columnar_step(row) is None  # per record, where the output is capped
