"""input_schema / output_schema checks and error_output_schema shaping."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.transforms.schemas import sample_indexes

INPUT = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}
OUTPUT = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 0}}}
MAP = {"expression": "{n: id}"}


def test_input_schema_failures_skip_the_record_and_name_the_path(compile_row: Any) -> None:
    outcome = compile_row("jmespath", "map", MAP, input_schema=INPUT).apply([{"id": 1}, {"id": "x"}, {}])
    assert outcome.records == [{"n": 1}]
    assert [e.index for e in outcome.errors] == [1, 2]
    assert outcome.errors[0].message == "input_schema: at $.id: 'x' is not of type 'integer'"
    assert "'id' is a required property" in outcome.errors[1].message


def test_output_schema_failures_report_the_input_record(compile_row: Any) -> None:
    outcome = compile_row("jmespath", "map", MAP, output_schema=OUTPUT).apply([{"id": 1}, {"id": -5}])
    assert outcome.records == [{"n": 1}]
    (error,) = outcome.errors
    assert (error.index, error.record) == (1, {"id": -5})
    assert error.message.startswith("output_schema: at $.n: -5 is less than the minimum of 0")
    assert error.details["output"] == {"n": -5}


def test_heavy_tier_samples_schema_checks(compile_row: Any) -> None:
    records = [{"id": i if i % 2 else "bad"} for i in range(1000)]
    every = compile_row("jmespath", "filter", {"expression": "`true`"}, input_schema=INPUT).apply(records)
    sampled = compile_row(
        "jmespath", "filter", {"expression": "`true`"}, input_schema=INPUT, performance_tier="heavy"
    ).apply(records)
    assert len(every.errors) == 500
    assert len(sampled.errors) == len([i for i in sample_indexes(1000, "sample") if i % 2 == 0])
    assert len(sampled.errors) + len(sampled.records) == 1000


def test_error_payload_default_shape(compile_row: Any) -> None:
    outcome = compile_row("python", "map", {"code": "def transform(r):\n    raise ValueError('nope')"}).apply(
        [{"id": 7}]
    )
    assert outcome.errors[0].details == {
        "index": 0,
        "record": {"id": 7},
        "error": "ValueError: nope",
        "transformation": "python_map",
        "transformation_id": "00000000-0000-0000-0000-00000000000a",
        "transformation_type": "map",
        "language": "python",
    }


def test_error_output_schema_shapes_the_payload(compile_row: Any) -> None:
    schema = {"type": "object", "properties": {"message": {"type": "string"}, "record": {}, "errors": {}}}
    outcome = compile_row(
        "javascript",
        "validate",
        {"code": "function transform(r) { return r.id > 0 ? null : ['id must be positive']; }"},
        error_output_schema=schema,
    ).apply([{"id": 1}, {"id": 0}])
    assert outcome.records == [{"id": 1}]
    assert outcome.errors[0].details == {
        "message": "id must be positive",
        "record": {"id": 0},
        "errors": ["id must be positive"],
    }


@pytest.mark.parametrize(
    ("count", "mode", "expected"), [(5, "all", 5), (5, "sample", 5), (1000, "sample", 109), (100, "sample", 100)]
)
def test_sample_indexes(count: int, mode: str, expected: int) -> None:
    assert len(list(sample_indexes(count, mode))) == expected
