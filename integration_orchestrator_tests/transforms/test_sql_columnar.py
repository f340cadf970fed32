"""Differential tests: SQL steps over Arrow batches against today's per-record path."""

from __future__ import annotations

import datetime as dt
import math
import random
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.transforms import compile_transformation
from integration_orchestrator.transforms.columnar import apply_step_columnar, compile_columnar_step
from integration_orchestrator.transforms.errors import TransformationDefinitionError, TransformationExecutionError
from integration_orchestrator.transforms.sql_columnar import SqlColumnarStep

WORDS = ["alpha", "Grüße", "日本語", "emoji 🎉", "", "a'b", "x\ny"]


def _records(seed: int, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        def maybe(value: Any, p: float = 0.15) -> Any:
            return None if rng.random() < p else value
        out.append({
            "id": i,
            "name": maybe(rng.choice(WORDS)),
            "total": maybe(Decimal(f"{rng.randint(-5000, 50000)}.{rng.randint(0, 99):02d}").quantize(
                Decimal(1).scaleb(-rng.choice([0, 1, 2, 3])))),
            "qty": maybe(rng.randint(-3, 40)),
            "ratio": maybe(rng.choice([0.5, 1.25, -3.0, float("nan"), 1e300])),
            "flag": maybe(rng.random() < 0.5),
            "day": maybe(dt.date(2026, rng.randint(1, 12), rng.randint(1, 28))),
            "at": maybe(dt.datetime(2026, 1, 1, rng.randint(0, 23), 0, rng.randint(0, 59), rng.randint(0, 999999))),
            "info": maybe({"code": rng.choice(WORDS), "n": maybe(rng.randint(0, 9)), "empty": None}),
            "tags": maybe([rng.choice(WORDS) for _ in range(rng.randint(0, 3))]),
        })
    return out


QUERIES = {
    "map": [
        "SELECT *, CASE WHEN total > 250 THEN 'gold' ELSE 'standard' END AS tier FROM records",
        "SELECT id, total, total * 2 AS double_total, total + 0.001 AS t3, qty::HUGEINT AS big, name || '!' AS shout,"
        " info.code AS code, typeof(info) AS ti, typeof(tags) AS tt, typeof(total) AS tdec FROM records",
        'SELECT _row, id, ratio, upper(name) AS name, day + 1 AS next_day, "at" FROM records ORDER BY _row DESC',
        "SELECT _row, total AS renamed, -total AS total FROM records",
        "SELECT id FROM records WHERE qty > 3",  # fewer rows: the map fails per record / errors
        "SELECT 1/0 AS x, id FROM records",
        "SELECT nosuch FROM records",
        "SELECT id, {'a': total} AS nested, TIMESTAMPTZ '2026-01-01 10:00:00+02' AS ts FROM records",
    ],
    "filter": [
        "SELECT * FROM records WHERE total > 100 AND name IS NOT NULL",
        "SELECT _row FROM records WHERE flag",
        "SELECT id FROM records",
        "SELECT * FROM records WHERE false",
    ],
    "enrich": [
        "SELECT _row, total * 1.1 AS bumped, qty + 1 AS qty FROM records WHERE qty IS NOT NULL",
        "SELECT _row, total, length(name) AS n FROM records",
        "SELECT _row, 'x' AS qty FROM records WHERE flag",
    ],
    "aggregate": [
        "SELECT name, sum(total) AS total, count(*) AS n, max(total) AS top, min(day) AS first_day "
        "FROM records GROUP BY name ORDER BY name NULLS FIRST",
        "SELECT sum(qty) AS s, avg(ratio) AS a FROM records",
    ],
    "custom": [
        "SELECT * EXCLUDE (_row) FROM records ORDER BY id DESC LIMIT 50",
        "SELECT total, id FROM records WHERE total IS NOT NULL ORDER BY total, id",
    ],
}
CASES = [(kind, q) for kind, qs in QUERIES.items() for q in qs]


def _norm(value: Any) -> Any:
    """Type-strict comparison form (1 != 1.0 != True; NaN equal to itself)."""
    if isinstance(value, dict):
        return ("dict", tuple((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_norm(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    return (type(value).__name__, value)


def _table(records: list[dict[str, Any]]) -> Any:
    return _norm(batch_to_records(records_to_batch(records)))


def _compiled(row: dict[str, Any], chunk: int | None) -> Any:
    transformation = compile_transformation(row)
    if chunk:
        transformation.chunk_size = chunk
    return transformation


def _run_record_path(row: dict[str, Any], batch: pa.RecordBatch, chunk: int | None) -> tuple[Any, Any]:
    try:
        outcome = _compiled(row, chunk).apply(batch_to_records(batch))
    except (TransformationDefinitionError, TransformationExecutionError) as exc:
        return "error", str(exc)
    return _table(outcome.records), [(f.index, f.message) for f in outcome.errors]


def _run_batch_path(row: dict[str, Any], batch: pa.RecordBatch, chunk: int | None) -> tuple[Any, Any]:
    step = compile_columnar_step(row)
    assert isinstance(step, SqlColumnarStep)
    if chunk:
        step.transformation.chunk_size = chunk
    try:
        result = apply_step_columnar("s", step, batch, _compiled(row, chunk).apply)
    except (TransformationDefinitionError, TransformationExecutionError) as exc:
        return "error", str(exc)
    return _norm(batch_to_records(result.batch)), [(f.index, f.message) for f in result.failures]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize(("kind", "query"), CASES)
def test_batch_path_equals_record_path(kind: str, query: str, seed: int) -> None:
    records = _records(seed, 150 if seed == 1 else 2500)
    chunk = 1000 if seed == 2 else None  # three chunks, the first with columns null throughout
    if seed == 2:
        for r in records[:1000]:
            r["info"] = r["total"] = r["tags"] = None
    batch = records_to_batch(records)
    row = {"transformation_name": "t", "transformation_type": kind, "language": "sql",
           "transformation_logic": {"query": query}, "performance_tier": "lightweight"}
    expected = _run_record_path(row, batch, chunk)
    got = _run_batch_path(row, batch, chunk)
    assert got == expected


def test_validate_and_schemas_keep_the_record_path() -> None:
    base = {"transformation_name": "t", "language": "sql", "transformation_logic": {"query": "SELECT 1"}}
    assert compile_columnar_step({**base, "transformation_type": "validate"}) is None
    assert compile_columnar_step({**base, "transformation_type": "map", "input_schema": {"type": "object"}}) is None


ARROW_CASES = [(k, q) for k, q in CASES if "nosuch" not in q and "qty > 3" not in q and "{'a'" not in q
               and q != "SELECT id FROM records" and "'x' AS qty" not in q]


@pytest.mark.parametrize(("kind", "query"), ARROW_CASES)
def test_supported_queries_never_fall_back(kind: str, query: str) -> None:
    """The corpus's clean cases run on the Arrow path (the fallback is not called)."""
    row = {"transformation_name": "t", "transformation_type": kind, "language": "sql",
           "transformation_logic": {"query": query}}
    calls: list[int] = []

    def fallback(records: list[dict[str, Any]]) -> Any:
        calls.append(len(records))
        return compile_transformation(row).apply(records)

    step = compile_columnar_step(row)
    apply_step_columnar("s", step, records_to_batch(_records(3, 200)), fallback)
    assert calls == []
