"""Definition errors are reported at compile time, naming the row, the field and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.errors import RowError
from integration_orchestrator.transforms import TransformationDefinitionError, TransformationRow, compile_transformation
from integration_orchestrator_tests.rows import loaded_transformation

ROW_ID = "00000000-0000-0000-0000-00000000000a"

# (language, type, logic, extra columns, field, message part)
BAD: list[tuple[str, str, Any, dict[str, Any], str, str]] = [
    ("jmespath", "map", {"expression": "foo[?"}, {}, "transformation_logic.expression", "invalid JMESPath"),
    ("jmespath", "map", {}, {}, "transformation_logic.expression", "non-empty JMESPath"),
    ("jsonpath", "map", {"path": "$.a["}, {}, "transformation_logic.path", "invalid JSONPath"),
    ("jsonpath", "map", {"fields": {"x": "$$"}}, {}, "transformation_logic.fields.x", "invalid JSONPath"),
    ("jsonpath", "map", {"path": "$.a", "fields": {"x": "$.b"}}, {}, "transformation_logic.path", "exactly one"),
    ("jsonpath", "aggregate", {"fields": {"x": "$.b"}}, {}, "transformation_logic.fields", 'needs "path"'),
    (
        "javascript",
        "map",
        {"code": "function transform(r) { return r +* 2; }"},
        {},
        "transformation_logic.code",
        "SyntaxError",
    ),
    (
        "javascript",
        "map",
        {"code": "function other(r) { return r; }"},
        {},
        "transformation_logic.code",
        "must define transform",
    ),
    (
        "python",
        "map",
        {"code": "def transform(r)\n    return r"},
        {},
        "transformation_logic.code",
        "syntax error (line 1)",
    ),
    (
        "python",
        "map",
        {"code": "def other(r):\n    return r"},
        {},
        "transformation_logic.code",
        "must define def transform",
    ),
    ("sql", "map", {"query": "SELEC 1"}, {}, "transformation_logic.query", "SQL syntax error"),
    ("sql", "map", {"query": "DELETE FROM records"}, {}, "transformation_logic.query", "must be a SELECT"),
    ("cobol", "map", {"code": "x"}, {}, "language", "unknown language 'cobol'"),
    ("python", "reduce", {"code": "x"}, {}, "transformation_type", "must be one of"),
    ("python", "map", [], {}, "transformation_logic", "must be a JSON object"),
    ("sql", "map", {"query": "SELECT 1"}, {"timeout_seconds": 0}, "timeout_seconds", "number of seconds"),
    ("sql", "map", {"query": "SELECT 1"}, {"performance_tier": "turbo"}, "performance_tier", "must be one of"),
    (
        "sql",
        "map",
        {"query": "SELECT 1"},
        {"input_schema": {"type": "nope"}},
        "input_schema",
        "not a valid JSON Schema",
    ),
    ("sql", "map", {"query": "SELECT 1"}, {"output_schema": []}, "output_schema", "must be a JSON Schema object"),
]


@pytest.mark.parametrize(
    ("language", "kind", "logic", "extra", "field", "message"), BAD, ids=[f"{b[0]}-{b[4]}-{b[5][:12]}" for b in BAD]
)
def test_bad_rows_fail_at_compile_time(
    language: str, kind: str, logic: Any, extra: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(TransformationDefinitionError) as info:
        compile_transformation(loaded_transformation(language, kind, logic, transformation_name="orders_fix", **extra))
    error = info.value
    assert isinstance(error, RowError)
    assert error.field == field
    assert message in error.reason
    assert str(error).startswith(f"In transformation `orders_fix` (id {ROW_ID}), field `{field}`: ")


def test_missing_required_column_is_named() -> None:
    with pytest.raises(TransformationDefinitionError, match="field `language`: is required"):
        compile_transformation({"transformation_name": "x", "transformation_type": "map", "transformation_logic": {}})


def test_compile_accepts_a_typed_row_and_keeps_it() -> None:
    row = TransformationRow(
        transformation_name="t",
        transformation_type="filter",
        language="jmespath",
        transformation_logic={"expression": "a"},
    )
    compiled = compile_transformation(row)
    assert compiled.row is row
    assert compiled.name == "t"


def test_definition_errors_found_only_when_run_are_still_definition_errors() -> None:
    """Top-level code that fails when executed (in the sandbox) names the code field."""
    row = loaded_transformation("python", "map", {"code": "x = 1 / 0\ndef transform(r):\n    return r"})
    compiled = compile_transformation(row)
    with pytest.raises(TransformationDefinitionError, match=r"field `transformation_logic.code`: ZeroDivisionError"):
        compiled.apply([{"a": 1}])
