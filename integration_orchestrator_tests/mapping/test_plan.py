"""Every column of a mapping row does what it says: table-driven through compiled plans."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.mapping import MappingDefinitionError, compile_plan, compile_plan_tolerant
from integration_orchestrator_tests.mapping.helpers import ABSENT, apply_one, plan_of, row

# --- is_required x default_value x missing/null --------------------------------------------

ABSENCE = [
    # value, columns, output, error substring (None: ok), event
    (ABSENT, {}, {}, None),
    (None, {}, {"out": None}, None),
    (ABSENT, {"default_value": "7", "target_data_type": "integer"}, {"out": 7}, None),
    (None, {"default_value": "7", "target_data_type": "integer"}, {"out": 7}, None),
    (ABSENT, {"default_value": "1.50", "target_data_type": "number"}, {"out": Decimal("1.50")}, None),
    (ABSENT, {"default_value": '{"a": 1}', "target_data_type": "object"}, {"out": {"a": 1}}, None),
    (ABSENT, {"default_value": "n/a"}, {"out": "n/a"}, None),
    (ABSENT, {"default_value": "true", "target_data_type": "boolean"}, {"out": True}, None),
    (ABSENT, {"is_required": True}, {}, "required value is missing"),
    (None, {"is_required": True}, {}, "required value is null"),
    (ABSENT, {"is_required": True, "default_value": "x", "error_handling": "default"}, {"out": "x"}, None),
    (ABSENT, {"is_required": True, "error_handling": "null"}, {"out": None}, None),
]


@pytest.mark.parametrize(("value", "columns", "output", "error"), ABSENCE)
def test_absence(value: Any, columns: dict[str, Any], output: dict[str, Any], error: str | None) -> None:
    result = apply_one(value, **columns)
    assert result.output == output
    if error is None:
        assert result.ok
    else:
        assert [e.reason for e in result.errors] == [error]


# --- error_handling on a value that cannot be coerced --------------------------------------

POLICIES = [
    ("fail", {}, False, {}, "cannot convert string 'abc' to integer"),
    ("skip", {}, True, {}, None),
    ("default", {"default_value": "0"}, False, {"out": 0}, None),
    ("null", {}, False, {"out": None}, None),
]


@pytest.mark.parametrize(("policy", "extra", "dropped", "output", "error"), POLICIES)
def test_error_handling(
    policy: str, extra: dict[str, Any], dropped: bool, output: dict[str, Any], error: str | None
) -> None:
    result = apply_one("abc", target_data_type="integer", error_handling=policy, **extra)
    assert result.dropped is dropped
    if not dropped:
        assert result.output == output
    if error:
        assert len(result.errors) == 1 and error in result.errors[0].reason and result.errors[0].value == "abc"
    else:
        assert not result.errors
    if dropped:
        assert result.drop_reason is not None and "to integer" in result.drop_reason.reason


def test_skip_stops_the_record_and_is_counted() -> None:
    plan = plan_of(
        row(mapping_name="a", source_path="a", target_path="a", target_data_type="integer", error_handling="skip"),
        row(mapping_name="b", source_path="b", target_path="b"),
    )
    batch = plan.apply_batch([{"a": "1", "b": 1}, {"a": "x", "b": 2}, {"b": 3}])
    assert [r.dropped for r in batch.results] == [False, True, False]
    assert batch.outputs == [{"a": 1, "b": 1}, {"b": 3}]
    assert batch.counters["a"].as_dict() == {
        "written": 1,
        "missing": 1,
        "defaulted": 0,
        "nulled": 0,
        "failed": 0,
        "skipped": 1,
    }
    assert batch.counters["b"].as_dict() == {
        "written": 2,
        "missing": 0,
        "defaulted": 0,
        "nulled": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert [i for i, _ in batch.dropped] == [1]


def test_counters_by_mapping() -> None:
    plan = plan_of(
        row(mapping_name="req", source_path="id", target_path="id", is_required=True),
        row(mapping_name="dflt", source_path="c", target_path="c", default_value="EUR"),
        row(mapping_name="nul", source_path="n", target_path="n", target_data_type="integer", error_handling="null"),
    )
    batch = plan.apply_batch([{"id": 1, "c": "USD", "n": "1"}, {"n": "x"}, {"id": 3, "n": "2"}])
    assert batch.counters["req"].as_dict()["failed"] == 1 and batch.counters["req"].written == 2
    assert batch.counters["dflt"].defaulted == 2 and batch.counters["dflt"].written == 1
    assert batch.counters["nul"].nulled == 1 and batch.counters["nul"].written == 2
    assert len(batch.failed) == 1 and batch.failed[0][0] == 1
    assert batch.failed[0][1].errors[0].mapping == "req"


# --- source_data_type is checked, target_data_type coerced ------------------------------------

TYPES = [
    ("integer", "integer", 5, {"out": 5}, None),
    ("integer", "string", 5, {"out": "5"}, None),
    ("string", "integer", "5", {"out": 5}, None),
    ("integer", None, "5", None, "expected source type integer, got string"),
    ("number", "number", 0.1, {"out": Decimal("0.1")}, None),
    ("string", "date", "2024-02-30", None, "cannot convert string '2024-02-30' to date"),
    ("string", "boolean", "no", {"out": False}, None),
    ("uuid", "uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", {"out": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, None),
    ("object", "object", {"k": 1}, {"out": {"k": 1}}, None),
    ("array", "array", "x", None, "expected source type array, got string"),
    ("text", "int", "9", {"out": 9}, None),  # aliases
]


@pytest.mark.parametrize(("source", "target", "value", "output", "error"), TYPES)
def test_types(source: str, target: str | None, value: Any, output: dict[str, Any] | None, error: str | None) -> None:
    result = apply_one(value, source_data_type=source, target_data_type=target)
    if error is None:
        assert result.ok and result.output == output
    else:
        assert error in result.errors[0].reason


def test_datetime_uses_the_plan_timezone() -> None:
    plan = plan_of(row(target_data_type="datetime"), timezone="America/New_York")
    assert plan.apply({"v": "2024-01-15T09:00:00"}).output == {"out": "2024-01-15T09:00:00-05:00"}
    assert plan.apply({"v": "2024-07-15T09:00:00"}).output == {"out": "2024-07-15T09:00:00-04:00"}
    assert plan.apply({"v": "2024-07-15T09:00:00Z"}).output == {"out": "2024-07-15T09:00:00+00:00"}


# --- validation_rules ----------------------------------------------------------------------

VALIDATION = [
    ({"pre": {"type": "string", "pattern": "^[0-9]+$"}}, "12", {"out": 12}, None),
    ({"pre": {"type": "string", "pattern": "^[0-9]+$"}}, "1a", None, "pre-validation failed: '1a' does not match"),
    ({"post": {"type": "integer", "minimum": 10}}, "12", {"out": 12}, None),
    (
        {"post": {"type": "integer", "minimum": 10}},
        "9",
        None,
        "post-validation failed: 9 is less than the minimum of 10",
    ),
]


@pytest.mark.parametrize(("rules", "value", "output", "error"), VALIDATION)
def test_validation_rules(rules: dict[str, Any], value: Any, output: Any, error: str | None) -> None:
    result = apply_one(value, target_data_type="integer", validation_rules=rules)
    if error is None:
        assert result.ok and result.output == output
    else:
        assert error in result.errors[0].reason


def test_post_validation_sees_exact_decimals() -> None:
    rules = {"post": {"type": "number", "multipleOf": 0.01, "maximum": 100}}
    assert apply_one("19.99", target_data_type="number", validation_rules=rules).ok
    assert "maximum" in apply_one("100.01", target_data_type="number", validation_rules=rules).errors[0].reason
    integral = {"post": {"type": "integer"}}
    assert apply_one("7", target_data_type="number", validation_rules=integral).ok


def test_validation_error_names_nested_location() -> None:
    rules = {"pre": {"type": "object", "properties": {"a": {"type": "integer"}}}}
    result = apply_one({"a": "x"}, validation_rules=rules)
    assert "pre-validation failed at a: 'x' is not of type 'integer'" in result.errors[0].reason


# --- mapping types -------------------------------------------------------------------------


def test_object_mapping_copies_or_maps_children() -> None:
    plan = plan_of(
        row(mapping_name="addr_copy", mapping_type="object", source_path="address", target_path="copy"),
        row(
            mapping_name="addr", mapping_type="object", source_path="address", target_path="location",
            transformation_rules={"type": "direct", "children": ["city", "zip"]},
        ),
        row(mapping_name="city", source_path="city", target_path="name"),
        row(mapping_name="zip", source_path="zip", target_path="postal.code", target_data_type="string"),
    )
    out = plan.apply({"address": {"city": "Paris", "zip": 75001}}).output
    assert out == {"copy": {"city": "Paris", "zip": 75001}, "location": {"name": "Paris", "postal": {"code": "75001"}}}
    assert plan.mapping_names == ["addr_copy", "addr"]
    bad = plan.apply({"address": "Paris"})
    assert "an object mapping needs an object" in bad.errors[0].reason or "object" in bad.errors[0].reason


def test_array_mapping_with_children_and_filters() -> None:
    plan = plan_of(
        row(
            mapping_name="lines", mapping_type="array", source_path="$.items[?@.qty > 0]", target_path="order.lines",
            transformation_rules={"type": "direct", "children": ["sku", "qty"]},
        ),
        row(mapping_name="sku", source_path="sku", target_path="code", is_required=True),
        row(mapping_name="qty", source_path="qty", target_path="quantity", target_data_type="number"),
    )
    record = {
        "items": [{"sku": "a", "qty": 2}, {"sku": "b", "qty": 0}, {"sku": "c", "qty": 1.5}, {"sku": "d", "qty": "9"}]
    }
    assert plan.apply(record).output == {
        "order": {"lines": [{"code": "a", "quantity": 2}, {"code": "c", "quantity": Decimal("1.5")}]}
    }
    failing = plan.apply({"items": [{"sku": "a", "qty": 1}, {"qty": 1}]})
    assert len(failing.errors) == 1
    error = failing.errors[0]
    assert (
        error.mapping == "sku"
        and error.path == "$.items[?@.qty > 0][1] / sku"
        and error.reason == "required value is missing"
    )


def test_array_mapping_of_scalars_coerces_each_element() -> None:
    result = apply_one(["1", "2"], mapping_type="array", target_data_type="integer")
    assert result.output == {"out": [1, 2]}
    bad = apply_one(["1", "x"], mapping_type="array", target_data_type="integer")
    assert bad.errors[0].path == "v[1]" and "to integer" in bad.errors[0].reason
    assert apply_one(["1"], mapping_type="array", target_data_type="array").output == {"out": ["1"]}
    assert "needs an array" in apply_one("x", mapping_type="array").errors[0].reason


def test_child_skip_drops_the_element_only() -> None:
    plan = plan_of(
        row(mapping_name="lines", mapping_type="array", source_path="items", target_path="lines",
            transformation_rules={"type": "direct", "children": ["qty"]}),
        row(mapping_name="qty", source_path="qty", target_path="q", target_data_type="integer", error_handling="skip"),
    )
    result = plan.apply({"items": [{"qty": "1"}, {"qty": "x"}, {"qty": 3}]})
    assert result.ok and result.output == {"lines": [{"q": 1}, {"q": 3}]}


def test_nonsingular_field_source_reads_all_matches() -> None:
    result = apply_one(None, source_path="$.tags[*].name", transformation_rules={"type": "concat", "separator": ","})
    assert result.output == {}  # no match: missing
    plan = plan_of(row(source_path="$.tags[*].name", transformation_rules={"type": "concat", "separator": ","}))
    assert plan.apply({"tags": [{"name": "a"}, {"name": "b"}]}).output == {"out": "a,b"}


def test_custom_mapping_runs_a_transformation() -> None:
    from integration_orchestrator.transforms import compile_transformation

    ident = "11111111-1111-1111-1111-111111111111"
    compiled = compile_transformation({
        "id": ident, "transformation_name": "full_name", "transformation_type": "map", "language": "jmespath",
        "transformation_logic": {"expression": "{full: join(' ', [first, last])}"},
    })
    rules = {"type": "transformation", "transformation_id": ident}
    plan = compile_plan(
        [row(mapping_type="custom", source_path="$.person", target_path="person", transformation_rules=rules)],
        transformations={ident: compiled},
    )
    assert plan.apply({"person": {"first": "Ada", "last": "L"}}).output == {"person": {"full": "Ada L"}}


def test_transformation_rule_wraps_scalars() -> None:
    from integration_orchestrator.transforms import compile_transformation

    ident = "22222222-2222-2222-2222-222222222222"
    doubled = compile_transformation({
        "id": ident, "transformation_name": "double", "transformation_type": "map", "language": "jmespath",
        "transformation_logic": {"expression": "{value: join('-', [value, value])}"},
    })
    only_ok = compile_transformation({
        "id": ident, "transformation_name": "keep", "transformation_type": "filter", "language": "jmespath",
        "transformation_logic": {"expression": "value != 'x'"},
    })
    rules = {"type": "transformation", "transformation_id": ident}
    assert compile_plan([row(transformation_rules=rules)], transformations={ident: doubled}).apply(
        {"v": "ab"}
    ).output == {"out": "ab-ab"}
    filtered = compile_plan([row(transformation_rules=rules)], transformations={ident: only_ok}).apply({"v": "x"})
    assert "returned 0 records, expected 1" in filtered.errors[0].reason
    invalid = compile_plan_tolerant(
        [row(transformation_rules=rules)], transformations={ident: ValueError("bad logic")}
    )[1]
    assert "transformation 2222" in invalid[0].reason and "is invalid: bad logic" in invalid[0].reason


def test_custom_mapping_needs_a_transformation_rule() -> None:
    with pytest.raises(MappingDefinitionError, match="a custom mapping needs a `transformation` rule"):
        compile_plan([row(mapping_type="custom")])


def test_target_conflict_is_a_field_error() -> None:
    plan = plan_of(
        row(mapping_name="a", source_path="a", target_path="x"),
        row(mapping_name="b", source_path="b", target_path="x.y"),
    )
    result = plan.apply({"a": "str", "b": 1})
    assert result.errors[0].mapping == "b" and "cannot write target path `x.y`" in result.errors[0].reason


# --- direction -----------------------------------------------------------------------------


def test_direction_selects_rows() -> None:
    rows = [
        row(mapping_name="in", mapping_direction="inbound"),
        row(mapping_name="out", mapping_direction="outbound", source_path="out", target_path="v"),
        row(mapping_name="both", mapping_direction="bidirectional", source_path="b", target_path="bb"),
    ]
    assert compile_plan(rows).mapping_names == ["in", "both"]
    assert compile_plan(rows, direction="outbound").mapping_names == ["out", "both"]


def test_raw_transformation_rows_are_compiled_once() -> None:
    ident = "33333333-3333-3333-3333-333333333333"
    raw = {
        "id": ident, "transformation_name": "upper", "transformation_type": "map", "language": "jmespath",
        "transformation_logic": {"expression": "{value: join('', [value, value])}"},
    }
    rules = {"type": "transformation", "transformation_id": ident}
    rows = [
        row(mapping_name="a", transformation_rules=rules),
        row(mapping_name="b", source_path="w", target_path="o2", transformation_rules=rules),
    ]
    plan = compile_plan(rows, transformations={ident: raw})
    assert plan.apply({"v": "x", "w": "y"}).output == {"out": "xx", "o2": "yy"}
    broken = {**raw, "transformation_logic": {"expression": "a[?"}}
    _, errors = compile_plan_tolerant(rows[:1], transformations={ident: broken})
    assert errors[0].field == "transformation_rules.transformation_id" and "is invalid" in errors[0].reason
