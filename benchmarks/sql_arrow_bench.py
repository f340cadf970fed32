"""SQL step over Arrow batches vs the per-record path, on the mapping output of the pipeline workload.

    python benchmarks/sql_arrow_bench.py [rows]

Builds ``rows`` (default 900,000) records shaped like the mappings' output of
``pipeline_bench_workload`` (total a Decimal with two places, placed_on a date), then runs
the SQL map step below over the whole batch both ways, as ``factory.dataplane.step_batch``
would: the record path (batch → records → sandbox pipe codec → pandas → DuckDB → records →
batch) and the Arrow path (``compile_columnar_step``: Arrow IPC both ways). Prints both,
checks the outputs are equal and that no chunk fell back to the record path.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from typing import Any

import pyarrow as pa

from integration_orchestrator.columnar import LOGICAL_KEY, batch_to_records, records_to_batch
from integration_orchestrator.transforms import compile_transformation
from integration_orchestrator.transforms.columnar import apply_step_columnar, compile_columnar_step

QUERY = "SELECT *, CASE WHEN total > 250 THEN 'gold' ELSE 'standard' END AS tier FROM records"
ROW = {"transformation_name": "tier", "transformation_type": "map", "language": "sql",
       "transformation_logic": {"query": QUERY}, "timeout_seconds": 600}  # the record path needs > 30 s at 900k
COUNTRIES = ("Germany", "France", "Netherlands", "Spain", "Italy", "Poland")
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov")


def mapped_batch(n: int, seed: int = 5) -> pa.RecordBatch:
    rng = random.Random(seed)
    names = [rng.choice(NAMES) for _ in range(n)]
    columns: dict[str, tuple[pa.Array, Any]] = {
        "customer_id": (pa.array(range(1, n + 1), pa.int64()), None),
        "full_name": (pa.array(names), None),
        "email": (pa.array([f"{x.split()[0].lower()}{i}@example.com" for i, x in enumerate(names)]), None),
        "country": (pa.array([rng.choice(COUNTRIES) for _ in range(n)]), None),
        "placed_on": (pa.array([dt.date(2026, rng.randint(1, 12), rng.randint(1, 28)) for _ in range(n)]), None),
        "total": (pa.array([f"{rng.uniform(1, 500):.2f}" for _ in range(n)]), {LOGICAL_KEY: b"decimal"}),
        "items": (pa.array([rng.randint(1, 20) for _ in range(n)], pa.int64()), None),
        "status": (pa.array(["active"] * n), None),
    }
    fields = [pa.field(k, a.type, metadata=m) for k, (a, m) in columns.items()]
    return pa.RecordBatch.from_arrays([a for a, _ in columns.values()], schema=pa.schema(fields))


def record_path(batch: pa.RecordBatch) -> pa.RecordBatch:
    outcome = compile_transformation(ROW).apply(batch_to_records(batch))
    assert not outcome.errors
    return records_to_batch(outcome.records)


def arrow_path(batch: pa.RecordBatch) -> pa.RecordBatch:
    step = compile_columnar_step(ROW)
    fallbacks = []

    def fallback(records: list[dict[str, Any]]) -> Any:
        fallbacks.append(len(records))
        return compile_transformation(ROW).apply(records)

    result = apply_step_columnar("tier", step, batch, fallback)
    assert not result.failures and not fallbacks, fallbacks
    return result.batch


def best(fn: Any, batch: pa.RecordBatch, runs: int) -> tuple[float, pa.RecordBatch]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn(batch)
        times.append(time.perf_counter() - started)
    assert out is not None
    return min(times), out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 900_000
    batch = mapped_batch(n)
    compile_transformation(ROW).apply(batch_to_records(batch.slice(0, 10)))  # start the sql worker(s)
    arrow_path(batch.slice(0, 10))
    arrow_s, arrow_out = best(arrow_path, batch, 3)
    record_s, record_out = best(record_path, batch, 1)
    same = batch_to_records(arrow_out) == batch_to_records(record_out)
    print(f"rows {n:,}  query: {QUERY}")
    print(f"record path (records, pipe codec, pandas): {record_s:7.2f} s  {n / record_s:12,.0f} rows/s")
    print(f"arrow path (Arrow IPC, DuckDB over Arrow): {arrow_s:7.2f} s  {n / arrow_s:12,.0f} rows/s")
    print(f"speed-up {record_s / arrow_s:.1f}x; outputs equal: {same}")


if __name__ == "__main__":
    main()
