"""Mapping tests without a database: verdicts, actual output, coverage, policy warnings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.mapping import MappingRow
from integration_orchestrator.mapping.testing import policy_warnings, run_tests_for_mapping

STATUS = {
    "mapping_name": "status", "id": "m-1", "source_path": "status", "target_path": "person.status",
    "transformation_rules": {"type": "lookup", "values": {"A": "active"}}, "error_handling": "skip",
}
AMOUNT = {
    "mapping_name": "amount", "id": "m-2", "source_path": "amount", "target_path": "total",
    "target_data_type": "number", "default_value": "0", "error_handling": "fail",
}


def make_case(
    name: str, input_data: dict[str, Any], expected: dict[str, Any], test_type: str = "unit"
) -> dict[str, Any]:
    return {
        "id": name,
        "test_name": name,
        "test_type": test_type,
        "input_data": input_data,
        "expected_output": expected,
    }


VERDICTS = [
    (STATUS, make_case("hit", {"status": "A"}, {"person": {"status": "active"}}), "passed", None),
    (STATUS, make_case("dropped", {"status": "Z"}, {"dropped": True}), "passed", None),
    (
        STATUS,
        make_case("expected drop, mapped", {"status": "A"}, {"dropped": True}),
        "failed",
        "expected the record to be dropped, but it was mapped",
    ),
    (STATUS, make_case("wrong output", {"status": "A"}, {"person": {"status": "x"}}), "failed", "output differs"),
    (
        STATUS,
        make_case("unexpected drop", {"status": "Q"}, {"person": {"status": "x"}}),
        "failed",
        "the record was dropped",
    ),
    (AMOUNT, make_case("exact decimal", {"amount": "19.99"}, {"total": 19.99}), "passed", None),
    (AMOUNT, make_case("decimal vs float", {"amount": 0.1}, {"total": Decimal("0.10")}), "passed", None),
    (AMOUNT, make_case("bool is not a number", {"amount": "1"}, {"total": True}), "failed", "output differs"),
    (
        AMOUNT,
        make_case("error expected", {"amount": "abc"}, {"error": "cannot convert string 'abc' to number"}),
        "passed",
        None,
    ),
    (
        AMOUNT,
        make_case("error substring wrong", {"amount": "abc"}, {"error": "nope"}),
        "failed",
        "expected an error containing 'nope'",
    ),
    (
        AMOUNT,
        make_case("error expected, mapped", {"amount": "1"}, {"error": "x"}),
        "failed",
        "but the record was mapped",
    ),
    (AMOUNT, make_case("default", {}, {"total": 0}), "passed", None),
]


@pytest.mark.parametrize(("row", "case", "status", "message"), VERDICTS, ids=[v[1]["test_name"] for v in VERDICTS])
def test_verdicts(row: dict[str, Any], case: dict[str, Any], status: str, message: str | None) -> None:
    [result], _ = run_tests_for_mapping([row], row["id"], [case])
    assert result.status == status, result.error_message
    if message is None:
        assert result.error_message is None
    else:
        assert result.error_message is not None and message in result.error_message
    assert result.mapping_name == row["mapping_name"] and result.test_name == case["test_name"]
    assert isinstance(result.actual_output, dict)


def test_actual_output_shapes() -> None:
    results, _ = run_tests_for_mapping([STATUS], "status", [make_case("a", {"status": "Z"}, {"dropped": True})])
    assert results[0].actual_output == {
        "dropped": True,
        "reason": "mapping `status`, path `status`: no lookup entry for 'Z' (value 'Z')",
    }
    results, _ = run_tests_for_mapping(
        [AMOUNT],
        "amount",
        [make_case("b", {"amount": "x"}, {"error": "x"}), make_case("c", {"amount": "1.50"}, {"total": 1.5})],
    )
    assert results[0].actual_output["errors"][0]["reason"] == "cannot convert string 'x' to number"
    assert results[1].actual_output == {"total": 1.5}  # JSON-ready: exact decimals as JSON numbers


COVERAGE = [
    # behaviours of AMOUNT: present, missing/null, coercion failure, error policy fail = 4
    ([make_case("p", {"amount": "1"}, {"total": 1})], Decimal("25.00")),
    ([make_case("p", {"amount": "1"}, {"total": 1}), make_case("m", {}, {"total": 0})], Decimal("50.00")),
    (
        [
            make_case("p", {"amount": "1"}, {"total": 1}),
            make_case("m", {}, {"total": 0}),
            make_case("e", {"amount": "x"}, {"error": "number"}, "edge_case"),
        ],
        Decimal("100.00"),
    ),
    ([], Decimal("0.00")),
]


@pytest.mark.parametrize(("tests", "coverage"), COVERAGE)
def test_coverage(tests: list[dict[str, Any]], coverage: Decimal) -> None:
    assert run_tests_for_mapping([AMOUNT], "m-2", tests)[1] == coverage


def test_policy_warnings() -> None:
    row = MappingRow.from_dict(AMOUNT)
    unit_only, _ = run_tests_for_mapping([AMOUNT], "amount", [make_case("p", {"amount": "1"}, {"total": 1})])
    assert policy_warnings(row, unit_only) == [
        "mapping `amount`: no edge_case test (edge cases must cover error_handling `fail`)"
    ]
    edge_ok, _ = run_tests_for_mapping([AMOUNT], "amount", [make_case("e", {}, {"total": 0}, "edge_case")])
    assert policy_warnings(row, edge_ok) == ["mapping `amount`: no edge_case test exercises error_handling `fail`"]
    edge_fail, _ = run_tests_for_mapping(
        [AMOUNT], "amount", [make_case("e", {"amount": "x"}, {"error": "x"}, "edge_case")]
    )
    assert policy_warnings(row, edge_fail) == []


def test_invalid_definition_fails_every_test() -> None:
    bad = {**AMOUNT, "target_data_type": "money"}
    results, coverage = run_tests_for_mapping([bad], "amount", [make_case("a", {}, {}), make_case("b", {}, {})])
    assert [r.status for r in results] == ["failed", "failed"]
    assert "invalid mapping definition: In mapping `amount` (id m-2), field `target_data_type`" in (
        results[0].error_message or ""
    )
    assert coverage == Decimal("0.00")


def test_children_run_with_their_parent() -> None:
    rows: list[dict[str, Any]] = [
        {"mapping_name": "lines", "id": "p", "mapping_type": "array", "source_path": "items", "target_path": "lines",
         "transformation_rules": {"type": "direct", "children": ["sku"]}},
        {"mapping_name": "sku", "id": "c", "source_path": "sku", "target_path": "code", "is_required": True},
    ]
    ok, _ = run_tests_for_mapping(rows, "p", [make_case("t", {"items": [{"sku": "a"}]}, {"lines": [{"code": "a"}]})])
    assert ok[0].status == "passed"
    child, _ = run_tests_for_mapping(rows, "c", [make_case("t", {"sku": "a"}, {"code": "a"})])
    assert child[0].status == "passed"
