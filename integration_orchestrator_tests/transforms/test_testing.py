"""The built-in test case runner (``test_cases``), through the sandboxed path."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.transforms import TransformationDefinitionError
from integration_orchestrator.transforms.testing import run_test_cases

JS_VALIDATE = {"code": "function transform(r) { return r.email ? [] : ['email is required']; }"}

# (language, type, logic, case, passes)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], bool]] = [
    ("jmespath", "map", {"expression": "{n: name}"}, {"input": {"name": "a"}, "expected": {"n": "a"}}, True),
    ("jmespath", "map", {"expression": "{n: name}"}, {"input": {"name": "a"}, "expected": {"n": "b"}}, False),
    ("jmespath", "map", {"expression": "{n: name}"}, {"input": [{"name": "a"}], "expected": [{"n": "a"}]}, True),
    ("jmespath", "filter", {"expression": "age > `17`"}, {"input": {"age": 18}, "expected": True}, True),
    ("jmespath", "filter", {"expression": "age > `17`"}, {"input": {"age": 3}, "expected": True}, False),
    (
        "jmespath",
        "filter",
        {"expression": "age > `17`"},
        {"input": [{"age": 3}, {"age": 30}], "expected": [{"age": 30}]},
        True,
    ),
    ("javascript", "validate", JS_VALIDATE, {"input": {"email": "x@y"}, "expected": True}, True),
    ("javascript", "validate", JS_VALIDATE, {"input": {}, "expected": False}, True),
    ("javascript", "validate", JS_VALIDATE, {"input": {}, "expected": {"error": "email is required"}}, True),
    (
        "python",
        "map",
        {"code": "def transform(r):\n    return {'x': 1 / r['d']}"},
        {"input": {"d": 0}, "expected": {"error": "ZeroDivisionError"}},
        True,
    ),
    (
        "python",
        "map",
        {"code": "def transform(r):\n    return {'x': 1 / r['d']}"},
        {"input": {"d": 0}, "expected": {"x": 1}},
        False,
    ),
    (
        "python",
        "map",
        {"code": "def transform(r):\n    while True:\n        pass"},
        {"input": {}, "expected": {"error": "timed out"}},
        True,
    ),
    (
        "sql",
        "aggregate",
        {"query": "SELECT count(*) AS n FROM records"},
        {"input": [{}, {}], "expected": [{"n": 2}]},
        True,
    ),
]


@pytest.mark.parametrize(("language", "kind", "logic", "case", "passes"), CASES)
def test_case_outcomes(
    compile_row: Any, language: str, kind: str, logic: dict[str, Any], case: dict[str, Any], passes: bool
) -> None:
    compiled = compile_row(language, kind, logic, timeout_seconds=1, test_cases={"cases": [{"name": "c", **case}]})
    (result,) = run_test_cases(compiled)
    assert result.name == "c"
    assert result.passed is passes, result.message


def test_failure_message_shows_expected_and_actual(compile_row: Any) -> None:
    compiled = compile_row(
        "jmespath",
        "map",
        {"expression": "{n: name}"},
        test_cases={"cases": [{"input": {"name": "a"}, "expected": {"n": "b"}}]},
    )
    (result,) = run_test_cases(compiled)
    assert result.message == "expected {'n': 'b'}, got {'n': 'a'}"
    assert result.name == "case 1"


@pytest.mark.parametrize(
    ("cases", "field"),
    [
        ({"cases": {}}, "test_cases.cases"),
        ({"cases": [{"input": {}}]}, "test_cases.cases[0]"),
        ({"cases": [{"input": 3, "expected": 3}]}, "test_cases.cases[0].input"),
    ],
)
def test_malformed_cases_name_the_field(compile_row: Any, cases: dict[str, Any], field: str) -> None:
    with pytest.raises(TransformationDefinitionError) as info:
        run_test_cases(compile_row("jmespath", "map", {"expression": "@"}, test_cases=cases))
    assert info.value.field == field
