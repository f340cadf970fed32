"""Bad definitions are rejected when compiling, naming the row, the field and the problem."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.errors import ConfigurationError, RowError
from integration_orchestrator.mapping import (
    MappingDefinitionError,
    compile_plan,
    compile_plan_tolerant,
    validate_mappings,
)
from integration_orchestrator_tests.mapping.helpers import row

BAD = [
    ("invalid source path", {"source_path": "$.a["}, "source_path", "invalid JSONPath '$.a['"),
    ("invalid dotted path", {"source_path": "a..b"}, "source_path", "cannot read dotted path"),
    ("wildcard target", {"target_path": "$.x[*]"}, "target_path", "not singular"),
    ("root target", {"target_path": "$"}, "target_path", "at least one key"),
    ("unknown mapping_type", {"mapping_type": "blob"}, "mapping_type", "'blob' is not one of"),
    ("unknown error_handling", {"error_handling": "ignore"}, "error_handling", "'ignore' is not one of"),
    ("unknown direction", {"mapping_direction": "sideways"}, "mapping_direction", "'sideways' is not one of"),
    ("unknown source type", {"source_data_type": "money"}, "source_data_type", "unknown data type 'money'"),
    ("unknown target type", {"target_data_type": "money"}, "target_data_type", "unknown data type 'money'"),
    (
        "bad default",
        {"target_data_type": "integer", "default_value": "many"},
        "default_value",
        "the default must be a valid integer",
    ),
    ("bad json default", {"target_data_type": "object", "default_value": "{a"}, "default_value", "not valid JSON"),
    ("default policy without default", {"error_handling": "default"}, "error_handling", "needs a default_value"),
    ("rules not object", {"transformation_rules": ["direct"]}, "transformation_rules", "must be an object"),
    (
        "unknown rule",
        {"transformation_rules": {"type": "magic"}},
        "transformation_rules.type",
        "unknown rule type 'magic'",
    ),
    (
        "impossible cast",
        {"source_data_type": "object", "transformation_rules": {"type": "cast", "to": "date"}},
        "transformation_rules.to",
        "impossible cast from object to date",
    ),
    ("validation not object", {"validation_rules": ["x"]}, "validation_rules", "must be an object"),
    ("validation unknown key", {"validation_rules": {"during": {}}}, "validation_rules.during", "unknown key"),
    ("bad schema", {"validation_rules": {"pre": {"type": "nope"}}}, "validation_rules.pre", "invalid JSON Schema"),
    (
        "children on field",
        {"transformation_rules": {"type": "direct", "children": ["x"]}},
        "transformation_rules.children",
        "only object and array mappings have children",
    ),
    (
        "unknown child",
        {"mapping_type": "object", "transformation_rules": {"type": "direct", "children": ["ghost"]}},
        "transformation_rules.children",
        "no active mapping named 'ghost'",
    ),
    (
        "empty children",
        {"mapping_type": "array", "transformation_rules": {"type": "direct", "children": []}},
        "transformation_rules.children",
        "non-empty list",
    ),
    ("empty name", {"mapping_name": " "}, "mapping_name", "non-empty"),
]


@pytest.mark.parametrize(("columns", "field", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_rejected(columns: dict[str, Any], field: str, message: str) -> None:
    definition = row(id="3f2a", **columns)
    with pytest.raises(MappingDefinitionError) as caught:
        compile_plan([definition])
    error = caught.value
    assert isinstance(error, RowError)
    assert error.kind == "mapping"
    assert error.field == field, str(error)
    assert message in error.reason, str(error)
    assert f"(id 3f2a), field `{field}`" in str(error)


def test_cycle_in_nested_mappings() -> None:
    rows = [
        row(mapping_name="a", mapping_type="object", transformation_rules={"type": "direct", "children": ["b"]}),
        row(mapping_name="b", mapping_type="object", transformation_rules={"type": "direct", "children": ["a"]}),
        row(mapping_name="self", mapping_type="array", transformation_rules={"type": "direct", "children": ["self"]}),
        row(mapping_name="ok", source_path="x", target_path="x"),
    ]
    plan, errors = compile_plan_tolerant(rows)
    messages = [str(e) for e in errors]
    assert any("In mapping `a`" in m and "cycle in nested mappings: a -> b -> a" in m for m in messages)
    assert any("In mapping `self`" in m and "self -> self" in m for m in messages)
    assert plan.mapping_names == ["ok"]


def test_one_bad_row_does_not_hide_the_others() -> None:
    rows = [
        row(mapping_name="good", source_path="a", target_path="a"),
        row(mapping_name="bad1", source_path="$[", target_path="b"),
        row(mapping_name="bad2", transformation_rules={"type": "nope"}),
        row(mapping_name="good2", source_path="c", target_path="c"),
    ]
    plan, errors = compile_plan_tolerant(rows)
    assert plan.mapping_names == ["good", "good2"]
    assert [(e.name, e.field) for e in errors] == [("bad1", "source_path"), ("bad2", "transformation_rules.type")]
    assert plan.apply({"a": 1, "c": 2}).output == {"a": 1, "c": 2}
    with pytest.raises(MappingDefinitionError, match="bad1"):
        compile_plan(rows)


def test_invalid_child_invalidates_its_parent() -> None:
    rows = [
        row(
            mapping_name="parent", mapping_type="object", transformation_rules={"type": "direct", "children": ["child"]}
        ),
        row(mapping_name="child", source_path="x", target_path="y", target_data_type="money"),
    ]
    _, errors = compile_plan_tolerant(rows)
    assert len(errors) == 1
    assert errors[0].name == "parent" and errors[0].field == "transformation_rules.children"
    assert "child mapping `child`" in errors[0].reason and "unknown data type 'money'" in errors[0].reason


def test_duplicate_names() -> None:
    rows = [row(mapping_name="same", id="1"), row(mapping_name="same", id="2", target_path="o2")]
    _, errors = compile_plan_tolerant(rows)
    assert [(e.row_id, e.field) for e in errors] == [("2", "mapping_name")]


def test_validate_mappings_checks_both_directions() -> None:
    rows = [
        row(mapping_name="out_bad", mapping_direction="outbound", source_path="$[", target_path="x"),
        row(
            mapping_name="both_bad",
            mapping_direction="bidirectional",
            transformation_rules={"type": "template", "template": "{value}"},
        ),
        row(mapping_name="fine"),
    ]
    errors = validate_mappings(rows)
    assert sorted((e.name for e in errors), key=str) == ["both_bad", "out_bad"]


def test_bad_plan_options() -> None:
    with pytest.raises(ConfigurationError, match="unknown timezone"):
        compile_plan([row()], timezone="Nowhere/Land")
    with pytest.raises(ConfigurationError, match="inbound or outbound"):
        compile_plan([row()], direction="bidirectional")
