"""Records ⇄ batches: every value reads back equal, of the same type, with the same text."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from integration_orchestrator.columnar import (
    batch_to_records,
    exactjson,
    logical_types,
    records_to_batch,
    with_logical_types,
)

UTC2 = dt.timezone(dt.timedelta(hours=2))

CASES: list[tuple[str, list[Any], str, str | None]] = [
    # (name, values of one field, arrow type, logical type)
    ("strings", ["a", "é😀", "", None], "string", None),
    ("ints", [1, -(2**63), 2**63 - 1, None], "int64", None),
    ("big int", [2**63], "string", "json"),
    ("floats", [1.5, -0.0, 1e300], "double", None),
    ("bools", [True, False, None], "bool", None),
    ("decimals keep their scale", [Decimal("486.20"), Decimal("12345678901234567.89"), Decimal("1E+3")], "string",
     "decimal"),
    ("dates", [dt.date(2026, 2, 28), None], "date32[day]", None),
    ("naive datetimes", [dt.datetime(2026, 1, 1, 12, 30, 1, 5)], "timestamp[us]", None),
    ("aware datetimes keep their offset", [dt.datetime(2026, 1, 1, 12, tzinfo=UTC2)], "string", "datetime"),
    ("int and float mix", [1, 1.5], "string", "json"),
    ("int and str mix", [1, "1"], "string", "json"),
    ("bool and int mix", [True, 1], "string", "json"),
    ("objects", [{"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": None}}], "struct<a: int64, b: struct<c: string>>",
     None),
    ("lists", [[1, 2], [], None], "list<item: int64>", None),
    ("nested decimal", [{"a": Decimal("1.10")}], "string", "json"),
    ("a real $io key", [{"$io": "decimal", "v": "1"}], "struct<$io: string, v: string>", None),
    ("all null", [None, None], "null", None),
]


@pytest.mark.parametrize(("name", "values", "arrow_type", "logical"), CASES, ids=[c[0] for c in CASES])
def test_a_field_reads_back_exactly(name: str, values: list[Any], arrow_type: str, logical: str | None) -> None:
    records = [{"f": v} for v in values]
    batch = records_to_batch(records)
    assert str(batch.schema.field("f").type) == arrow_type
    assert logical_types(batch.schema).get("f") == logical
    back = batch_to_records(batch)
    assert back == records
    assert [type(r["f"]) for r in back] == [type(v) for v in values]
    assert [str(r["f"]) for r in back] == [str(v) for v in values]


def test_a_batch_is_a_table_absent_fields_read_as_null() -> None:
    batch = records_to_batch([{"a": 1, "o": {"x": 1}}, {"b": "y", "o": {}}])
    assert batch_to_records(batch) == [{"a": 1, "o": {"x": 1}, "b": None}, {"a": None, "o": {"x": None}, "b": "y"}]


def test_logical_types_survive_a_polars_round_trip() -> None:
    batch = records_to_batch([{"total": Decimal("486.20"), "mixed": 1}, {"total": None, "mixed": "x"}])
    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    again = with_logical_types(frame.to_arrow(), logical_types(batch.schema))
    assert batch_to_records(again) == batch_to_records(batch)
    assert isinstance(again, pa.Table)


def test_exact_json_on_a_generated_corpus() -> None:
    rng = random.Random(14)

    def value(depth: int = 0) -> Any:
        kind = rng.randrange(10 if depth < 3 else 8)
        scalars = [
            None, rng.random() < 0.5, rng.randint(-(2**70), 2**70), rng.uniform(-1e6, 1e6),
            "".join(rng.choice("ab$é\"\\\n") for _ in range(rng.randrange(5))),
            Decimal(f"{rng.randint(-10**20, 10**20)}.{rng.randint(0, 999):03d}"),
            dt.date(2026, rng.randint(1, 12), 1),
            dt.datetime(2026, 1, 1, rng.randrange(24), tzinfo=UTC2),
        ]
        if kind < 8:
            return scalars[kind]
        if kind == 8:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return {rng.choice(["a", "b", "$io", "v"]): value(depth + 1) for _ in range(rng.randrange(3))}

    for _ in range(2000):
        v = value()
        assert exactjson.loads(exactjson.dumps(v)) == v
