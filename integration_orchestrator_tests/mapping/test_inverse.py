"""Bidirectional mappings: the derived outbound plan returns the original record."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.mapping import MappingDefinitionError, compile_plan, compile_plan_tolerant
from integration_orchestrator.mapping.inverse import invert_rules
from integration_orchestrator_tests.mapping.helpers import row

ROUND_TRIPS = [
    ("direct", {}, "x"),
    ("nested paths", {"source_path": "$.a.b[0]", "target_path": "x.y.z"}, None),
    ("cast to integer", {"source_data_type": "string", "target_data_type": "integer"}, "42"),
    ("cast to number", {"source_data_type": "string", "target_data_type": "number"}, "19.99"),
    (
        "explicit cast rule",
        {"source_data_type": "string", "transformation_rules": {"type": "cast", "to": "integer"}},
        "7",
    ),
    (
        "cast date with format",
        {
            "source_data_type": "string",
            "target_data_type": "date",
            "transformation_rules": {"type": "cast", "to": "date", "format": "%d/%m/%Y"},
        },
        "31/01/2024",
    ),
    ("lookup", {"transformation_rules": {"type": "lookup", "values": {"A": "active", "I": "inactive"}}}, "I"),
    (
        "lookup with inverse_default",
        {
            "transformation_rules": {
                "type": "lookup",
                "values": {"A": "active"},
                "default": "other",
                "inverse_default": "A",
            }
        },
        "A",
    ),
    (
        "date_format",
        {"transformation_rules": {"type": "date_format", "from": "%d/%m/%Y", "to": "%Y-%m-%d"}},
        "31/01/2024",
    ),
    (
        "split fields",
        {"transformation_rules": {"type": "split", "separator": " ", "fields": ["first", "last"]}},
        "Ada Lovelace",
    ),
    ("concat", {"transformation_rules": {"type": "concat", "separator": "|"}}, ["a", "b"]),
    (
        "chain",
        {
            "source_data_type": "string",
            "transformation_rules": {
                "type": "chain",
                "steps": [
                    {"type": "cast", "to": "integer"},
                    {"type": "cast", "to": "string"},
                    {"type": "lookup", "values": {"1": "one", "2": "two"}},
                ],
            },
        },
        "2",
    ),
    (
        "explicit inverse",
        {
            "transformation_rules": {
                "type": "template",
                "template": "#{value}",
                "inverse": {
                    "type": "chain",
                    "steps": [{"type": "split", "separator": "#"}, {"type": "jmespath", "expression": "[1]"}],
                },
            }
        },
        "abc",
    ),
]


@pytest.mark.parametrize(("columns", "value"), [r[1:] for r in ROUND_TRIPS], ids=[r[0] for r in ROUND_TRIPS])
def test_round_trip(columns: dict[str, Any], value: Any) -> None:
    definition = row(mapping_direction="bidirectional", **columns)
    inbound = compile_plan([definition])
    outbound = compile_plan([definition], direction="outbound")
    source_path = columns.get("source_path", "v")
    record = {"a": {"b": ["deep"]}} if value is None else {"v": value}
    mapped = inbound.apply(record)
    assert mapped.ok, mapped.errors
    back = outbound.apply(mapped.output)
    assert back.ok, back.errors
    assert back.output == record, (source_path, mapped.output)


def test_round_trip_of_nested_array_mapping() -> None:
    rows = [
        row(
            mapping_name="lines",
            mapping_type="array",
            source_path="items",
            target_path="order.lines",
            mapping_direction="bidirectional",
            transformation_rules={"type": "direct", "children": ["sku", "qty"]},
        ),
        row(mapping_name="sku", source_path="sku", target_path="code"),
        row(
            mapping_name="qty",
            source_path="qty",
            target_path="amount.value",
            source_data_type="string",
            target_data_type="integer",
        ),
        row(
            mapping_name="status",
            source_path="st",
            target_path="status",
            mapping_direction="bidirectional",
            transformation_rules={"type": "lookup", "values": {"N": "new", "D": "done"}},
        ),
    ]
    record = {"items": [{"sku": "a", "qty": "2"}, {"sku": "b", "qty": "5"}], "st": "D"}
    mapped = compile_plan(rows).apply(record)
    assert mapped.output == {
        "order": {"lines": [{"code": "a", "amount": {"value": 2}}, {"code": "b", "amount": {"value": 5}}]},
        "status": "done",
    }
    assert compile_plan(rows, direction="outbound").apply(mapped.output).output == record


def test_outbound_swaps_validation_and_keeps_plain_defaults() -> None:
    definition = row(
        mapping_direction="bidirectional", source_data_type="string", target_data_type="integer", default_value="0",
        validation_rules={"pre": {"type": "string"}, "post": {"type": "integer", "minimum": 0}},
    )
    outbound = compile_plan([definition], direction="outbound")
    assert outbound.apply({"out": 5}).output == {"v": "5"}
    assert outbound.apply({}).output == {"v": "0"}
    assert "pre-validation failed" in outbound.apply({"out": -1}).errors[0].reason


NOT_INVERTIBLE = [
    (
        "template",
        {"transformation_rules": {"type": "template", "template": "{value}"}},
        "transformation_rules.type",
        "`template` rule has no automatic inverse",
    ),
    (
        "jmespath",
        {"transformation_rules": {"type": "jmespath", "expression": "a"}},
        "transformation_rules.type",
        "`jmespath` rule has no automatic inverse",
    ),
    (
        "lookup duplicates",
        {"transformation_rules": {"type": "lookup", "values": {"A": "x", "B": "x"}}},
        "transformation_rules.values.B",
        "appears for both 'A' and 'B'",
    ),
    (
        "lookup default",
        {"transformation_rules": {"type": "lookup", "values": {"A": "x"}, "default": "y"}},
        "transformation_rules.default",
        "needs `inverse_default`",
    ),
    (
        "cast without source type",
        {"transformation_rules": {"type": "cast", "to": "integer"}},
        "transformation_rules.to",
        "set source_data_type",
    ),
    (
        "formatted number cast",
        {"source_data_type": "number", "transformation_rules": {"type": "cast", "to": "string", "format": ".2f"}},
        "transformation_rules.format",
        "cannot be inverted",
    ),
    (
        "concat without separator",
        {"transformation_rules": {"type": "concat"}},
        "transformation_rules.separator",
        "without separator",
    ),
    ("wildcard source", {"source_path": "$.items[*].sku"}, "source_path", "not singular"),
    (
        "custom",
        {"mapping_type": "custom", "transformation_rules": {"type": "transformation", "transformation_id": "x"}},
        "mapping_type",
        "custom mapping cannot be inverted",
    ),
    (
        "default with changing rules",
        {
            "default_value": "x",
            "error_handling": "default",
            "transformation_rules": {"type": "lookup", "values": {"a": "b"}},
        },
        "error_handling",
        "cannot be inverted",
    ),
]


@pytest.mark.parametrize(
    ("columns", "field", "message"), [n[1:] for n in NOT_INVERTIBLE], ids=[n[0] for n in NOT_INVERTIBLE]
)
def test_not_invertible_is_rejected_in_both_directions(columns: dict[str, Any], field: str, message: str) -> None:
    definition = row(mapping_direction="bidirectional", **columns)
    for direction in ("inbound", "outbound"):
        with pytest.raises(MappingDefinitionError) as caught:
            compile_plan([definition], direction=direction)
        assert caught.value.field == field, str(caught.value)
        assert message in caught.value.reason, str(caught.value)


def test_inbound_only_template_is_fine() -> None:
    plan, errors = compile_plan_tolerant([row(transformation_rules={"type": "template", "template": "{value}!"})])
    assert not errors and plan.apply({"v": 1}).output == {"out": "1!"}


def test_invert_rules_shapes() -> None:
    assert invert_rules({"type": "split", "separator": ";", "fields": ["a"]}, None) == {
        "type": "concat",
        "separator": ";",
        "fields": ["a"],
    }
    assert invert_rules({"type": "date_format", "to": "%d"}, None) == {
        "type": "date_format",
        "from": "%d",
        "to": "%Y-%m-%d",
    }
    assert invert_rules(None, None) is None
