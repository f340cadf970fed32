"""Every ``transformation_rules`` kind with good and bad input, through a compiled plan."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.mapping import MappingDefinitionError, compile_plan
from integration_orchestrator_tests.mapping.helpers import apply_one, row

LOOKUP = {"type": "lookup", "values": {"A": "active", "I": "inactive", "1": "one", "true": "yes"}}

GOOD = [
    ("direct", {"type": "direct"}, "x", "x"),
    ("cast int", {"type": "cast", "to": "integer"}, "42", 42),
    ("cast number", {"type": "cast", "to": "number"}, "19.99", Decimal("19.99")),
    ("cast date with format", {"type": "cast", "to": "date", "format": "%d/%m/%Y"}, "31/01/2024", "2024-01-31"),
    (
        "cast datetime with format",
        {"type": "cast", "to": "datetime", "format": "%d/%m/%Y %H:%M"},
        "31/01/2024 10:30",
        "2024-01-31T10:30:00+00:00",
    ),
    (
        "cast date to string with format",
        {"type": "cast", "to": "string", "format": "%d.%m.%Y"},
        "2024-01-31",
        "31.01.2024",
    ),
    ("cast number to string with format", {"type": "cast", "to": "string", "format": ",.2f"}, 1234.5, "1,234.50"),
    ("cast boolean", {"type": "cast", "to": "boolean"}, "yes", True),
    ("lookup hit", LOOKUP, "A", "active"),
    ("lookup number key", LOOKUP, 1, "one"),
    ("lookup boolean key", LOOKUP, True, "yes"),
    ("lookup default", {**LOOKUP, "default": "unknown"}, "Z", "unknown"),
    (
        "template object",
        {"type": "template", "template": "{first} {last}"},
        {"first": "Ada", "last": "Lovelace"},
        "Ada Lovelace",
    ),
    (
        "template nested",
        {"type": "template", "template": "{name.first}-{ids[1]}"},
        {"name": {"first": "A"}, "ids": [1, 2]},
        "A-2",
    ),
    ("template braces", {"type": "template", "template": "{{{first}}}"}, {"first": "Ada"}, "{Ada}"),
    ("template non-string field", {"type": "template", "template": "{n}-{b}"}, {"n": 1.5, "b": True}, "1.5-true"),
    ("template value", {"type": "template", "template": "#{value}"}, 7, "#7"),
    ("template spec", {"type": "template", "template": "{value:>4}"}, "ab", "  ab"),
    ("template null renders empty", {"type": "template", "template": "{a}|{b}"}, {"a": None, "b": 1}, "|1"),
    (
        "jmespath",
        {"type": "jmespath", "expression": "items[?qty > `0`].sku"},
        {"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 0}]},
        ["a"],
    ),
    ("date_format", {"type": "date_format", "from": "%d/%m/%Y", "to": "%Y%m%d"}, "31/01/2024", "20240131"),
    ("date_format iso in", {"type": "date_format", "to": "%d %b %Y"}, "2024-01-31T10:00:00Z", "31 Jan 2024"),
    ("concat list", {"type": "concat", "separator": " "}, ["a", None, 3], "a 3"),
    (
        "concat fields",
        {"type": "concat", "separator": ", ", "fields": ["city", "zip"]},
        {"city": "Paris", "zip": "75001"},
        "Paris, 75001",
    ),
    ("split", {"type": "split", "separator": ","}, "a,b,c", ["a", "b", "c"]),
    (
        "split fields",
        {"type": "split", "separator": " ", "fields": ["first", "last"]},
        "Ada King Lovelace",
        {"first": "Ada", "last": "King Lovelace"},
    ),
    (
        "chain",
        {
            "type": "chain",
            "steps": [
                {"type": "split", "separator": "-"},
                {"type": "jmespath", "expression": "[0]"},
                {"type": "cast", "to": "integer"},
            ],
        },
        "12-34",
        12,
    ),
    ("empty chain", {"type": "chain", "steps": []}, "x", "x"),
]


@pytest.mark.parametrize(("rules", "value", "expected"), [g[1:] for g in GOOD], ids=[g[0] for g in GOOD])
def test_rule_good(rules: dict[str, Any], value: Any, expected: Any) -> None:
    result = apply_one(value, transformation_rules=rules)
    assert result.ok, result.errors
    assert result.output == {"out": expected}


BAD_VALUES = [
    ("cast int", {"type": "cast", "to": "integer"}, "4.5", "fractional part"),
    ("cast date format", {"type": "cast", "to": "date", "format": "%d/%m/%Y"}, "2024-01-31", "format '%d/%m/%Y'"),
    ("lookup miss", LOOKUP, "Z", "no lookup entry for 'Z'"),
    ("lookup object", LOOKUP, {"a": 1}, "cannot look up a object"),
    (
        "template missing field",
        {"type": "template", "template": "{first} {last}"},
        {"first": "A"},
        "template field `last` is missing",
    ),
    ("jmespath error", {"type": "jmespath", "expression": "abs(@)"}, "x", "JMESPath 'abs(@)' failed"),
    ("date_format bad", {"type": "date_format", "from": "%d/%m/%Y", "to": "%Y"}, "2024-13-01", "to datetime"),
    ("concat not list", {"type": "concat"}, "x", "concat needs an array"),
    ("concat object in list", {"type": "concat"}, [{"a": 1}], "cannot convert object"),
    ("split not string", {"type": "split"}, 5, "split needs a string"),
    (
        "split wrong count",
        {"type": "split", "separator": " ", "fields": ["a", "b", "c"]},
        "x y",
        "split gave 2 part(s), expected 3",
    ),
    (
        "chain stops at failure",
        {"type": "chain", "steps": [LOOKUP, {"type": "cast", "to": "integer"}]},
        "A",
        "cannot convert string 'active' to integer",
    ),
]


@pytest.mark.parametrize(("rules", "value", "message"), [b[1:] for b in BAD_VALUES], ids=[b[0] for b in BAD_VALUES])
def test_rule_bad_value(rules: dict[str, Any], value: Any, message: str) -> None:
    result = apply_one(value, transformation_rules=rules)
    assert not result.ok and len(result.errors) == 1
    error = result.errors[0]
    assert error.mapping == "m" and error.path == "v" and error.value == value
    assert message in error.reason


BAD_DEFINITIONS = [
    ("no type", {"to": "integer"}, "transformation_rules", "must include `type`"),
    ("unknown type", {"type": "upper"}, "transformation_rules.type", "unknown rule type 'upper'"),
    (
        "unknown key",
        {"type": "lookup", "values": {}, "vaules": {}},
        "transformation_rules.vaules",
        "unknown key `vaules`",
    ),
    ("cast unknown type", {"type": "cast", "to": "money"}, "transformation_rules.to", "unknown type 'money'"),
    ("cast without to", {"type": "cast"}, "transformation_rules.to", "needs `to`"),
    (
        "cast bad format target",
        {"type": "cast", "to": "integer", "format": "%d"},
        "transformation_rules.format",
        "not supported for a cast to integer",
    ),
    (
        "lookup values not object",
        {"type": "lookup", "values": ["A"]},
        "transformation_rules.values",
        "must be an object",
    ),
    (
        "template not string",
        {"type": "template", "template": 3},
        "transformation_rules.template",
        "must be a format string",
    ),
    ("template bad", {"type": "template", "template": "{a"}, "transformation_rules.template", "invalid template"),
    (
        "template bad placeholder",
        {"type": "template", "template": "{a..b}"},
        "transformation_rules.template",
        "placeholder {a..b}",
    ),
    ("jmespath bad", {"type": "jmespath", "expression": "a[?"}, "transformation_rules.expression", "invalid JMESPath"),
    ("date_format no to", {"type": "date_format", "from": "%Y"}, "transformation_rules.to", "needs `to`"),
    (
        "date_format not pattern",
        {"type": "date_format", "to": "YYYY"},
        "transformation_rules.to",
        "not a strftime pattern",
    ),
    ("split empty separator", {"type": "split", "separator": ""}, "transformation_rules.separator", "non-empty"),
    ("split bad fields", {"type": "split", "fields": []}, "transformation_rules.fields", "non-empty list"),
    ("chain not list", {"type": "chain", "steps": {}}, "transformation_rules.steps", "must be a list"),
    (
        "chain bad step",
        {"type": "chain", "steps": [{"type": "direct"}, {"type": "nope"}]},
        "transformation_rules.steps[1].type",
        "unknown rule type",
    ),
    (
        "transformation without id",
        {"type": "transformation"},
        "transformation_rules.transformation_id",
        "needs `transformation_id`",
    ),
    (
        "transformation unknown id",
        {"type": "transformation", "transformation_id": "0b7c"},
        "transformation_rules.transformation_id",
        "not found",
    ),
]


@pytest.mark.parametrize(
    ("rules", "field", "message"), [b[1:] for b in BAD_DEFINITIONS], ids=[b[0] for b in BAD_DEFINITIONS]
)
def test_rule_bad_definition(rules: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(MappingDefinitionError) as caught:
        compile_plan([row(id="r-1", transformation_rules=rules)])
    error = caught.value
    assert error.field == field and message in error.reason
    assert str(error).startswith(f"In mapping `m` (id r-1), field `{field}`: ")


@pytest.mark.parametrize(
    ("source_type", "to"),
    [("object", "integer"), ("boolean", "date"), ("array", "string"), ("date", "integer"), ("integer", "uuid")],
)
def test_impossible_cast(source_type: str, to: str) -> None:
    with pytest.raises(MappingDefinitionError, match=f"impossible cast from {source_type} to {to}"):
        compile_plan([row(source_data_type=source_type, transformation_rules={"type": "cast", "to": to})])


def test_impossible_cast_inside_chain_uses_previous_cast() -> None:
    rules = {"type": "chain", "steps": [{"type": "cast", "to": "boolean"}, {"type": "cast", "to": "date"}]}
    with pytest.raises(MappingDefinitionError) as caught:
        compile_plan([row(source_data_type="string", transformation_rules=rules)])
    assert caught.value.field == "transformation_rules.steps[1].to"
    assert "impossible cast from boolean to date" in caught.value.reason


def test_transformation_without_engine_is_not_yet_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    from integration_orchestrator.mapping import transformation_rule

    monkeypatch.setattr(transformation_rule, "_transforms_available", lambda: False)
    rules = {"type": "transformation", "transformation_id": "11111111-1111-1111-1111-111111111111"}
    for mapping_type in ("field", "custom"):
        with pytest.raises(MappingDefinitionError) as caught:
            compile_plan([row(mapping_type=mapping_type, transformation_rules=rules)])
        assert caught.value.field == "transformation_rules.type"
        assert "not yet supported" in caught.value.reason
