"""postgres_table from Arrow batches (issue 14 item 7): batch path vs record path vs plain COPY.

    .venv/bin/python benchmarks/arrow_sink_bench.py [--rows 900000] [--url postgresql://...]

Rows shaped like the final rows of ``pipeline_bench.py`` (customer_id int, full_name,
email, country, placed_on date text, total decimal text, items int, status, tier, label),
as Arrow batches of 50,000 rows (``io.logical=decimal`` on total) and as Python records
(``batch_to_records``, built before timing). Contenders, each into a fresh empty table
(the upsert COPies straight in) and again as an upsert over the same keys (staging +
``INSERT ... ON CONFLICT``; every row unchanged, so none is rewritten), then over the same
keys with every row changed:

  batch    ``PostgresTableTarget.write_batches(batches)``
  records  ``PostgresTableTarget.write(records)`` (the record path, records prebuilt)
  copy     plain psycopg ``COPY ... FROM STDIN`` with ``write_row`` of prebuilt tuples

Best of ``--rounds``; a CHECKPOINT before each timed load. Without ``--url`` an embedded
PostgreSQL in a temporary directory is used.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.connectors import open_target
from integration_orchestrator.db import connect
from integration_orchestrator.db.embedded import start_embedded_server

__all__ = ["main"]

COLUMNS = ("customer_id", "full_name", "email", "country", "placed_on", "total", "items", "status", "tier", "label")
DDL = """CREATE TABLE {table} (
    customer_id integer PRIMARY KEY, full_name text NOT NULL, email text, country text, placed_on date,
    total numeric, items integer, status text, tier text, label text)"""
COUNTRIES = ("Germany", "France", "Netherlands", "Spain", "Italy", "Poland")
NAMES = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra")


def _no_secrets(name: str) -> str:
    raise KeyError(name)


def make_batches(rows: int, size: int, *, changed: bool = False, seed: int = 5) -> list[pa.RecordBatch]:
    rng = random.Random(seed)
    batches = []
    for start in range(1, rows + 1, size):
        records = []
        for i in range(start, min(start + size, rows + 1)):
            total = Decimal(f"{rng.uniform(1, 500):.2f}")
            country = rng.choice(COUNTRIES)
            tier = "gold" if total > 250 else "standard"
            name = rng.choice(NAMES)
            records.append({
                "customer_id": i, "full_name": name, "email": f"{name.split()[0].lower()}{i}@example.com",
                "country": country, "placed_on": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "total": total + (1 if changed else 0), "items": rng.randint(1, 20), "status": "active",
                "tier": tier, "label": f"{country} / {tier}",
            })
        batches.append(records_to_batch(records))
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=900_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a database to create the bench tables in (default: embedded server)")
    args = parser.parse_args()
    if args.url:
        run(args.url, args)
        return
    with tempfile.TemporaryDirectory(prefix="io-arrow-sink-bench-") as home:
        server = start_embedded_server(Path(home))
        try:
            run(server.url("postgres"), args)
        finally:
            server.stop()


def run(url: str, args: argparse.Namespace) -> None:
    print(f"building {args.rows:,} rows ...", flush=True)
    batches = make_batches(args.rows, 50_000)
    changed = make_batches(args.rows, 50_000, changed=True)
    records = [r for b in batches for r in batch_to_records(b)]
    changed_records = [r for b in changed for r in batch_to_records(b)]
    tuples = [tuple(r[c] for c in COLUMNS) for r in records]
    with connect(url, autocommit=True) as conn:
        for name in ("arrow_sink_bench", "arrow_sink_copy"):
            conn.execute(f"DROP TABLE IF EXISTS {name}")
            conn.execute(DDL.format(table=name))

    def admin(statement: str) -> None:
        with connect(url, autocommit=True) as conn:
            conn.execute(statement)

    def target() -> Any:
        config = {"type": "postgres_table", "url": url, "table": "arrow_sink_bench", "mode": "upsert",
                  "key": ["customer_id"]}
        return open_target(config, _no_secrets)

    def plain_copy() -> None:
        statement = f"COPY arrow_sink_copy ({', '.join(COLUMNS)}) FROM STDIN"
        with connect(url) as conn, conn.transaction(), conn.cursor().copy(statement) as copy:
            for row in tuples:
                copy.write_row(row)

    contenders: dict[str, tuple[Callable[[], Any], Callable[[], Any], Callable[[], Any]]] = {
        "batch (write_batches)": (lambda: target().write_batches(batches), lambda: target().write_batches(changed),
                                  lambda: target().write_batches(batches)),
        "records (write)": (lambda: target().write(records), lambda: target().write(changed_records),
                            lambda: target().write(records)),
    }
    best: dict[tuple[str, str], float] = {}
    best_cpu: dict[tuple[str, str], float] = {}

    def timed(label: str, phase: str, action: Callable[[], Any]) -> None:
        admin("CHECKPOINT")
        start, cpu = time.perf_counter(), time.process_time()
        result = action()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        best[(label, phase)] = min(seconds, best.get((label, phase), seconds))
        best_cpu[(label, phase)] = min(cpu, best_cpu.get((label, phase), cpu))
        print(f"  {label:24} {phase:22} {seconds:6.2f} s (client CPU {cpu:5.2f} s)  {result}", flush=True)

    for round_ in range(args.rounds):
        print(f"round {round_ + 1}", flush=True)
        admin("TRUNCATE arrow_sink_copy")
        admin("VACUUM ANALYZE arrow_sink_copy")
        timed("copy (write_row tuples)", "empty table", plain_copy)
        for label, (load, change, again) in contenders.items():
            admin("TRUNCATE arrow_sink_bench")
            admin("VACUUM ANALYZE arrow_sink_bench")
            timed(label, "empty table", load)
            admin("VACUUM ANALYZE arrow_sink_bench")
            timed(label, "upsert, all unchanged", again)
            timed(label, "upsert, all changed", change)
    copy = best[("copy (write_row tuples)", "empty table")]
    print("\n| contender | phase | best s | client CPU s | rows/s | x plain COPY |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for (label, phase), seconds in best.items():
        print(f"| {label} | {phase} | {seconds:.2f} | {best_cpu[(label, phase)]:.2f} | {args.rows / seconds:,.0f} | "
              f"{copy / seconds:.2f} |")


if __name__ == "__main__":
    main()
