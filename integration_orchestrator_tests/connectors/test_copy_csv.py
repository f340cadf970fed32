"""copy_csv: the column-wise text equals psycopg's dumper text value by value (no database)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from psycopg.adapt import PyFormat, Transformer

from integration_orchestrator.columnar import records_to_batch
from integration_orchestrator.columnar.convert import column_values, logical_types
from integration_orchestrator.connectors.copy_csv import _vectorized, csv_for_copy

ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-3)),
         dt.timezone(dt.timedelta(minutes=-45))]


def _decimals(rng: random.Random, n: int) -> list[Any]:
    fixed = ["486.20", "0", "-0", "-0.00", "0.000001", "0.0000001", "0.000000", "0.0000000", "1E+2",
             "12345678901234567.89", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "007", "1e3", "0.10"]
    values: list[Any] = [Decimal(s) for s in fixed]
    while len(values) < n:
        digits = rng.randint(0, 25)
        values.append(Decimal(rng.randint(-(10**digits), 10**digits)).scaleb(-rng.randint(0, 12)))
    return values


def _aware(rng: random.Random, n: int) -> list[Any]:
    return [
        dt.datetime(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                    rng.randint(0, 59), rng.randint(0, 59), rng.choice([0, 664_000, rng.randint(0, 999_999)]),
                    tzinfo=rng.choice(ZONES))
        for _ in range(n)
    ]


def _naive(rng: random.Random, n: int) -> list[Any]:
    return [value.replace(tzinfo=None) for value in _aware(rng, n)]


def _dates(rng: random.Random, n: int) -> list[Any]:
    return [dt.date(rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 28)) for _ in range(n)]


def _strings(rng: random.Random, n: int) -> list[Any]:
    alphabet = 'ab ,"\\\n\r\t.ü🎉N'
    random_strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(n)]
    return ["", "\\.", "\\N", "NULL", *random_strings]


CORPUS = {
    "decimal": _decimals,
    "aware": _aware,
    "naive": _naive,
    "date": _dates,
    "string": _strings,
    "int": lambda rng, n: [rng.randint(-(2**63), 2**63 - 1) for _ in range(n)],
    "bool": lambda rng, n: [rng.random() < 0.5 for _ in range(n)],
}


@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_vectorized_text_is_psycopgs_text(kind: str) -> None:
    rng = random.Random(kind)
    values = CORPUS[kind](rng, 2000)
    values = [None if rng.random() < 0.1 else v for v in values]
    batch = records_to_batch([{"v": v} for v in values])
    logical = logical_types(batch.schema).get("v")
    tx = Transformer()
    dumped = tx.dump_sequence(values, [PyFormat.TEXT] * len(values))
    expected = [None if b is None else bytes(b).decode() for b in dumped]
    column = batch.column(0)
    whole = _vectorized(column, logical)
    exact = 0
    for i in range(len(values)):  # value by value: the fast text is psycopg's, or there is none
        part = _vectorized(column.slice(i, 1), logical)
        if part is not None:
            exact += 1
            assert part.to_pylist() == expected[i : i + 1], values[i]
    assert exact > len(values) * 0.8  # the fast path does cover the corpus
    if whole is not None:
        assert whole.to_pylist() == expected
    assert list(map(str, column_values(column, logical))) == list(map(str, values))  # the corpus survives the batch


def _text(data: Any) -> str:
    assert data is not None
    return bytes(data).decode()


def test_csv_quotes_every_value_and_leaves_null_bare() -> None:
    batch = pa.RecordBatch.from_pylist([{"a": "", "b": None}, {"a": 'x,"y"\n', "b": 1}, {"a": "\\.", "b": 2}])
    text = _text(csv_for_copy(batch, ["a", "b", "c"], set(), Transformer()))
    assert text == '"",,\n"x,""y""\n","1",\n"\\.","2",\n'
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ['x,"y"\n', "1", ""]


def test_json_columns_get_the_record_paths_json_text() -> None:
    batch = records_to_batch([{"j": {"a": Decimal("1.50"), "b": [1, None]}}, {"j": None}])
    text = _text(csv_for_copy(batch, ["j"], {"j"}, Transformer()))
    assert text == '"{""a"":""1.50"",""b"":[1,null]}"\n\n'
