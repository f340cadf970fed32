"""Differential test: ``ColumnarPlan.apply`` against the per-record plan on a generated corpus.

Every rule kind x every ``error_handling`` x source columns of every flavour (strings
canonical and not, integers, booleans, floats, decimals, mixed JSON, structs, lists) with
valid, invalid, null and missing values, required or not, with or without a default, in
UTC and Europe/Paris. Outputs (in the table shape), failures (index, record, message,
details) and counters must be identical. No database.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.mapping import MappingDefinitionError, compile_plan
from integration_orchestrator.mapping.columnar import compile_columnar
from integration_orchestrator.model.enums import MAPPING_ERROR_HANDLING

STRINGS = [
    "0", "7", "007", "-0", "+7", " 7", "7.0", "-42", "123456789012345678", "9999999999999999999", "1_000",
    "12.50", "0.0000001", "0.000001", "0.0000000", "1E3", "-0.5", "00.5", "NaN", "abc", "", "é", "abc\n",
    "2026-01-31", "2026-02-30", "0000-01-01", "0999-12-31", "2026-W01-1", "20260131", " 2026-01-31",
    "2026-01-31T10:00:00", "2026-03-29T02:30:00", "2026-10-25T02:30:00", "2026-01-31T10:00:00+05:30",
    "2026-01-31T10:00:00-00:00", "2026-01-31T10:00:00Z", "2026-01-31T10:00", "2026-01-31 10:00:00",
    "true", "Yes", "yes", "off", " on", "DE", "FR", "XX", "a,b", "a,b,c", "a", "a,,b", ",", "12",
]
FLAVOURS: dict[str, list[Any]] = {
    "str": STRINGS,
    "int": [0, 1, -5, 42, 7, 2**62],
    "bool": [True, False],
    "float": [1.0, 2.5, -0.0],
    "decimal": [Decimal("1.50"), Decimal("1E+2"), Decimal("-0"), Decimal("42"), Decimal("0.0000001")],
    "mixed": ["7", 7, "DE"],
    "struct": [{"first": "Ada", "last": "Lovelace"}, {"first": "Alan", "last": None}, {"first": "x,y", "last": "z"}],
    "list": [["a", "b"], ["a", None], [], ["DE"]],
}
LOOKUP = {"DE": "Germany", "FR": "France", "7": "seven", "true": "yes", "1": "one", "a": "A"}
RULES: dict[str, Any] = {
    "none": None,
    "direct": {"type": "direct"},
    "cast_string": {"type": "cast", "to": "string"},
    "cast_integer": {"type": "cast", "to": "integer"},
    "cast_number": {"type": "cast", "to": "number"},
    "cast_boolean": {"type": "cast", "to": "boolean"},
    "cast_date": {"type": "cast", "to": "date"},
    "cast_datetime": {"type": "cast", "to": "datetime"},
    "cast_date_format": {"type": "cast", "to": "date", "format": "%Y%m%d"},
    "lookup": {"type": "lookup", "values": LOOKUP},
    "lookup_default": {"type": "lookup", "values": LOOKUP, "default": "other"},
    "lookup_int": {"type": "lookup", "values": {"DE": 49, "FR": 33}, "default": 0},
    "lookup_null": {"type": "lookup", "values": {"DE": None, "FR": "France"}},
    "template_value": {"type": "template", "template": "<{value}>"},
    "template_fields": {"type": "template", "template": "{first} {last}"},
    "template_spec": {"type": "template", "template": "{first:>6}"},
    "concat_fields": {"type": "concat", "separator": "-", "fields": ["first", "last", "nope"]},
    "concat_list": {"type": "concat", "separator": "/"},
    "split": {"type": "split", "separator": ","},
    "split_fields": {"type": "split", "separator": ",", "fields": ["a", "b"]},
    "split_maxsplit": {"type": "split", "separator": ",", "maxsplit": 1},
    "date_format_iso": {"type": "date_format", "to": "%d/%m/%Y %H:%M"},
    "date_format_from": {"type": "date_format", "from": "%Y-%m-%d", "to": "%Y%m%d"},
    "chain": {"type": "chain", "steps": [{"type": "cast", "to": "string"}, {"type": "lookup", "values": LOOKUP}]},
    "jmespath": {"type": "jmespath", "expression": "first"},
}
EXTRAS: list[dict[str, Any]] = [
    {},
    {"target_data_type": "integer"},
    {"target_data_type": "number"},
    {"target_data_type": "string", "source_data_type": "string"},
    {"source_data_type": "date"},
    {"validation_rules": {"pre": {"type": "string", "pattern": "^[0-9]+$"}}},
    {"validation_rules": {"pre": {"minLength": 2, "maxLength": 5}}},
    {"validation_rules": {"post": {"type": "integer", "minimum": 0, "maximum": 100}}, "target_data_type": "integer"},
    {"validation_rules": {"post": {"enum": ["Germany", "France", "7"]}}},
    {"validation_rules": {"post": {"type": "string", "pattern": "(?<=a)b"}}},
]
PER_RECORD_ONLY = {"jmespath", "cast_date_format", "template_spec", "split_maxsplit"}
CORPUS: dict[str, tuple[int, int]] = {}  # rule -> (rows checked, rows mapped in Polars)
DEFAULTS = {"integer": "5", "number": "1.50", "string": "dflt", None: "dflt"}


def _canon(value: Any) -> Any:
    """A comparable form that tells types (and a Decimal's scale) apart, ignoring key order."""
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _canon(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_canon(v) for v in value))
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    return (type(value).__name__, repr(value))


def _record(rng: random.Random, flavour: str) -> dict[str, Any]:
    values = FLAVOURS[flavour]
    roll = rng.random()
    if roll < 0.08:
        return {"other": 1}  # the field absent: null in the table shape
    if roll < 0.16:
        return {"v": None, "src": None, "other": 1}  # src null: src.v is MISSING
    value = rng.choice(values)
    return {"v": value, "src": {"v": value, "w": rng.choice(values)}, "other": 1}


def _batch(rng: random.Random, flavour: str, n: int) -> pa.RecordBatch:
    batch = records_to_batch([_record(rng, flavour) for _ in range(n)])
    if rng.random() < 0.1:
        batch = batch.drop_columns(["v"])  # the whole column absent: MISSING
    return batch


def _per_record(rows: list[dict[str, Any]], batch: pa.RecordBatch, timezone: str, columns: list[str]) -> Any:
    plan = compile_plan(rows, timezone=timezone)
    records = batch_to_records(batch)
    result = plan.apply_batch(records)
    failures = [
        (i, records[i], "; ".join(str(e) for e in r.errors), {"errors": [e.as_dict() for e in r.errors]})
        for i, r in result.failed
    ]
    targets = [tuple(row["target_path"].split(".")) for row in rows]
    table = records_to_batch([_with_nested_targets(o, targets) for o in result.outputs])
    if table.num_columns == 0:  # outputs without fields: a batch of no columns has no rows
        table = pa.RecordBatch.from_arrays([pa.nulls(len(result.outputs))], names=[columns[0]])
    for name in columns:
        if name not in table.schema.names:
            table = table.append_column(name, pa.nulls(len(result.outputs)))
    outputs = batch_to_records(table) if result.outputs else []
    return outputs, failures, {k: v.as_dict() for k, v in result.counters.items()}


def _with_nested_targets(output: dict[str, Any], targets: list[tuple[str, ...]]) -> dict[str, Any]:
    """The table shape declares every nested target field: absent ones read as null."""
    for keys in targets:
        node: Any = output
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if len(keys) > 1 and isinstance(node, dict):
            node.setdefault(keys[-1], None)
    return output


def _columnar(rows: list[dict[str, Any]], batch: pa.RecordBatch, timezone: str) -> Any:
    plan = compile_columnar(rows, timezone=timezone)
    mapped = plan.apply(batch)
    assert mapped.batch.schema.names == plan.target_columns
    assert mapped.fast_rows + mapped.slow_rows == batch.num_rows
    failures = [(f.index, f.record, f.message, dict(f.details)) for f in mapped.failures]
    assert all(f.step == "mappings" for f in mapped.failures)
    counters = {k: v.as_dict() for k, v in mapped.counters.items()}
    return batch_to_records(mapped.batch), failures, counters, plan.target_columns, mapped.fast_rows


def _mapping(name: str, rule: Any, extra: dict[str, Any], handling: str, rng: random.Random) -> dict[str, Any]:
    row: dict[str, Any] = {"mapping_name": name, "source_path": rng.choice(["v", "src.v", "$"]),
                           "target_path": rng.choice(["out", "a.b"]), "error_handling": handling,
                           "transformation_rules": rule, "is_required": rng.random() < 0.3, **extra}
    if handling == "default" or rng.random() < 0.3:
        row["default_value"] = DEFAULTS.get(extra.get("target_data_type"), "dflt")
    if rule is not None and rule.get("type") in ("template", "concat") and "fields" in str(rule):
        row["source_path"] = rng.choice(["v", "src.v"])
    return row


def _check(rows: list[dict[str, Any]], batch: pa.RecordBatch, timezone: str) -> tuple[int, int]:
    try:
        compile_plan(rows, timezone=timezone)
    except MappingDefinitionError:
        with pytest.raises(MappingDefinitionError):
            compile_columnar(rows, timezone=timezone)
        return 0, 0
    outputs, failures, counters, columns, fast = _columnar(rows, batch, timezone)
    expected_outputs, expected_failures, expected_counters = _per_record(rows, batch, timezone, columns)
    assert [_canon(o) for o in outputs] == [_canon(o) for o in expected_outputs], (rows, outputs, expected_outputs)
    assert [_canon(f) for f in failures] == [_canon(f) for f in expected_failures], rows
    assert counters == expected_counters, rows
    return batch.num_rows, fast


@pytest.mark.parametrize("rule_name", list(RULES))
def test_columnar_matches_per_record(rule_name: str) -> None:
    """Each rule kind x error_handling x flavour x extras (types, validation), seeded."""
    rng = random.Random(rule_name)
    rows_checked = fast_rows = 0
    for handling in MAPPING_ERROR_HANDLING:
        for flavour in FLAVOURS:
            for extra in rng.sample(EXTRAS, 2):
                timezone = rng.choice(["UTC", "Europe/Paris"])
                rows = [_mapping("m1", RULES[rule_name], extra, handling, rng)]
                if rng.random() < 0.5:  # a second mapping: another policy, maybe a sibling target
                    second = rng.choice(list(RULES))
                    rows.append(_mapping("m2", RULES[second], rng.choice(EXTRAS), rng.choice(MAPPING_ERROR_HANDLING),
                                         rng) | {"target_path": rng.choice(["a.c", "out2"])})
                checked, fast = _check(rows, _batch(rng, flavour, 40), timezone)
                rows_checked += checked
                fast_rows += fast
    assert rows_checked > 0
    CORPUS[rule_name] = (rows_checked, fast_rows)
    if rule_name not in PER_RECORD_ONLY:
        assert fast_rows > 0, "the columnar path was never taken"


def test_canonical_strings_run_columnar() -> None:
    """The pipeline benchmark's shape maps every clean row in Polars (no per-record rows)."""
    rows: list[dict[str, Any]] = [
        {"mapping_name": "id", "source_path": "c.id", "target_path": "id", "is_required": True,
         "transformation_rules": {"type": "cast", "to": "integer"}},
        {"mapping_name": "name", "source_path": "c.name", "target_path": "name",
         "transformation_rules": {"type": "template", "template": "{first} {last}"}},
        {"mapping_name": "total", "source_path": "total", "target_path": "total",
         "transformation_rules": {"type": "cast", "to": "number"}},
        {"mapping_name": "day", "source_path": "day", "target_path": "day",
         "transformation_rules": {"type": "cast", "to": "date"}},
    ]
    records = [{"c": {"id": str(i), "name": {"first": "A", "last": str(i)}}, "total": f"{i}.50",
                "day": (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat()} for i in range(100)]
    batch = records_to_batch(records)
    plan = compile_columnar(rows)
    mapped = plan.apply(batch)
    assert (mapped.fast_rows, mapped.slow_rows) == (100, 0)
    _check(rows, batch, "UTC")


def test_no_columnar_form_runs_per_record() -> None:
    rows = [{"mapping_name": "j", "source_path": "v", "target_path": "out",
             "transformation_rules": {"type": "jmespath", "expression": "@"}}]
    plan = compile_columnar(rows)
    assert not plan.columnar
    mapped = plan.apply(records_to_batch([{"v": "x"}, {"v": None}]))
    assert (mapped.fast_rows, mapped.slow_rows) == (0, 2)
    assert batch_to_records(mapped.batch) == [{"out": "x"}, {"out": None}]
