"""Bidirectional mappings refuse inverses that lose data (issue 17, part 1).

Each data-dependent row checks each record's round trip in the direction it runs; rows
exact on their whole domain run unchecked (and columnar); a ``date_format`` that drops a
field is refused at load with a hint.
"""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.mapping import MappingDefinitionError, compile_plan
from integration_orchestrator.mapping.columnar import compile_columnar
from integration_orchestrator.mapping.inverse import round_trip_reason
from integration_orchestrator.model.rows import MappingRow
from integration_orchestrator_tests.mapping.helpers import row


def bidi(**columns: Any) -> dict[str, Any]:
    return row(mapping_direction="bidirectional", **columns)


CONCAT = bidi(source_data_type="array", target_data_type="string",
              transformation_rules={"type": "concat", "separator": "|"})
SPLIT = bidi(source_data_type="string", target_data_type="array",
             transformation_rules={"type": "split", "separator": "|"})
LOOKUP = bidi(transformation_rules={"type": "lookup", "values": {"1": "one"}})
CAST_INT = bidi(source_data_type="string", target_data_type="integer",
                transformation_rules={"type": "cast", "to": "integer"})
COERCE_NUMBER = bidi(source_data_type="string", target_data_type="number")
CAST_DATE = bidi(source_data_type="string", target_data_type="date",
                 transformation_rules={"type": "cast", "to": "date", "format": "%d/%m/%Y"})

# (case, row, direction, record, the clean output or the message's fragment)
LOSSY = [
    ("concat, separator inside a value", CONCAT, "inbound", {"v": ["a|b", "c"]},
     'maps to "a|b|c", which maps back to ["a","b","c"]'),
    ("concat, clean", CONCAT, "inbound", {"v": ["a", "c"]}, {"out": "a|c"}),
    ("split inbound, concat outbound", SPLIT, "outbound", {"out": ["a|b", "c"]},
     'maps to "a|b|c", which maps back to ["a","b","c"]'),
    ("split outbound, clean", SPLIT, "outbound", {"out": ["a", "c"]}, {"v": "a|c"}),
    ("lookup of the number 1", LOOKUP, "inbound", {"v": 1}, 'maps to "one", which maps back to "1"'),
    ("lookup of the string 1", LOOKUP, "inbound", {"v": "1"}, {"out": "one"}),
    ("cast 007", CAST_INT, "inbound", {"v": "007"}, 'maps to 7, which maps back to "7"'),
    ("cast 7", CAST_INT, "inbound", {"v": "7"}, {"out": 7}),
    ("coercion 1e2", COERCE_NUMBER, "inbound", {"v": "1e2"}, 'maps to 100, which maps back to "100"'),
    ("date 1/2/2024", CAST_DATE, "inbound", {"v": "1/2/2024"}, 'which maps back to "01/02/2024"'),
    ("date 01/02/2024", CAST_DATE, "inbound", {"v": "01/02/2024"}, {"out": "2024-02-01"}),
    ("date outbound", CAST_DATE, "outbound", {"out": "2024-02-01"}, {"v": "01/02/2024"}),
]


@pytest.mark.parametrize(("mapping", "direction", "record", "expected"), [c[1:] for c in LOSSY],
                         ids=[c[0] for c in LOSSY])
def test_record_that_would_lose_data_fails(mapping: dict[str, Any], direction: str, record: dict[str, Any],
                                           expected: Any) -> None:
    result = compile_plan([mapping | {"error_handling": "null"}], direction=direction).apply(record)
    if isinstance(expected, dict):
        assert result.ok, result.errors
        assert {k: str(v) if not isinstance(v, (str, int, list)) else v for k, v in result.output.items()} == expected
        return
    assert not result.ok and not result.dropped  # fails whatever error_handling says
    message = str(result.errors[0])
    assert "does not survive the round trip" in message and expected in message, message
    assert "explicit exact `inverse`" in message


def test_date_format_that_drops_precision_is_refused_with_a_hint() -> None:
    mapping = bidi(transformation_rules={"type": "date_format", "from": "%d/%m/%Y %H:%M", "to": "%Y-%m-%d"})
    with pytest.raises(MappingDefinitionError) as raised:
        compile_plan([mapping])
    message = str(raised.value)
    assert raised.value.field == "transformation_rules.to"
    assert "drops the hour, minute of `from`" in message and "explicit exact `inverse`" in message
    same_fields = bidi(transformation_rules={"type": "date_format", "from": "%d/%m/%Y %H:%M", "to": "%Y-%m-%dT%H:%M"})
    assert compile_plan([same_fields]).apply({"v": "31/01/2024 13:45"}).output == {"out": "2024-01-31T13:45"}


# (rule kind, columns, exact on the whole domain?) -- the table of ARCHITECTURE.md §6.2
EXACTNESS = [
    ("no rule, same types", {"source_data_type": "string", "target_data_type": "string"}, True),
    ("direct, untyped", {"transformation_rules": {"type": "direct"}}, True),
    ("direct, coerced", {"source_data_type": "string", "target_data_type": "integer"}, False),
    ("cast", {"source_data_type": "string", "transformation_rules": {"type": "cast", "to": "integer"}}, False),
    ("lookup of strings", {"source_data_type": "string", "transformation_rules":
                           {"type": "lookup", "values": {"A": "active"}}}, True),
    ("lookup, untyped source", {"transformation_rules": {"type": "lookup", "values": {"A": "active"}}}, False),
    ("lookup with default", {"source_data_type": "string", "transformation_rules":
                             {"type": "lookup", "values": {"A": "a"}, "default": "x", "inverse_default": "A"}}, False),
    ("date_format", {"transformation_rules": {"type": "date_format", "from": "%d/%m/%Y", "to": "%Y-%m-%d"}}, False),
    ("concat", {"transformation_rules": {"type": "concat", "separator": "|"}}, False),
    ("split", {"transformation_rules": {"type": "split"}}, False),
    ("chain of exact steps", {"source_data_type": "string", "transformation_rules": {"type": "chain", "steps": [
        {"type": "direct"}, {"type": "lookup", "values": {"A": "active"}}]}}, True),
    ("explicit inverse", {"transformation_rules": {"type": "template", "template": "#{value}", "inverse": {
        "type": "jmespath", "expression": "[1:]"}}}, False),
]


@pytest.mark.parametrize(("columns", "exact"), [c[1:] for c in EXACTNESS], ids=[c[0] for c in EXACTNESS])
def test_which_rows_are_exact(columns: dict[str, Any], exact: bool) -> None:
    assert (round_trip_reason(MappingRow.from_dict(bidi(**columns))) is None) is exact
    compiled = compile_plan([bidi(**columns)]).mappings[0]
    assert (compiled.round_trip is None) is exact


@pytest.mark.parametrize("direction", ["inbound", "outbound"])
def test_columnar_agrees_with_per_record(direction: str) -> None:
    """The checked row runs per record in the columnar plan; its failures are the per-record ones."""
    rows = [CONCAT if direction == "inbound" else SPLIT,
            bidi(mapping_name="status", source_path="s", target_path="status", source_data_type="string",
                 transformation_rules={"type": "lookup", "values": {"A": "active", "I": "inactive"}})]
    if direction == "inbound":
        records = [{"v": ["a|b", "c"], "s": "A"}, {"v": ["a", "c"], "s": "I"}]
    else:
        records = [{"out": ["a|b", "c"], "status": "active"}, {"out": ["a", "c"], "status": "inactive"}]
    per_record = compile_plan(rows, direction=direction).apply_batch(records)
    columnar = compile_columnar(rows, direction=direction)
    mapped = columnar.apply(records_to_batch(records))
    assert batch_to_records(mapped.batch) == per_record.outputs
    assert [(f.index, f.message) for f in mapped.failures] == [
        (i, "; ".join(str(e) for e in r.errors)) for i, r in per_record.failed
    ]
    assert [f.index for f in mapped.failures] == [0]
    exact_only = compile_columnar(rows[1:], direction=direction)
    assert exact_only.apply(records_to_batch([{k: v for k, v in r.items() if k in ("s", "status")}
                                              for r in records])).slow_rows == 0


def test_mapping_tests_declare_their_direction() -> None:
    """A round trip is two test rows: inbound and outbound (``test_direction``)."""
    from integration_orchestrator.mapping.testing import run_tests_for_mapping

    rows = [CAST_INT | {"id": "00000000-0000-4000-8000-000000000001"}]
    tests = [
        {"test_name": "in", "input_data": {"v": "7"}, "expected_output": {"out": 7}},
        {"test_name": "out", "test_direction": "outbound", "input_data": {"out": 7}, "expected_output": {"v": "7"}},
        {"test_name": "lossy", "test_direction": "inbound", "input_data": {"v": "007"},
         "expected_output": {"error": "does not survive the round trip"}},
    ]
    results, coverage = run_tests_for_mapping(rows, "m", tests)
    assert [(r.test_name, r.status) for r in results] == [("in", "passed"), ("out", "passed"), ("lossy", "passed")]
    assert coverage > 0
    one_way = [row(mapping_direction="inbound")]
    [refused], _ = run_tests_for_mapping(one_way, "m", [tests[1]])
    assert refused.status == "failed" and "cannot be tested outbound" in (refused.error_message or "")


def test_masked_field_keeps_its_values_out_of_the_message() -> None:
    masked = CONCAT | {"validation_rules": {"mask": True}}
    [error] = compile_plan([masked]).apply({"v": ["secret|x", "y"]}).errors
    assert "does not survive the round trip" in error.reason and "secret" not in error.reason
