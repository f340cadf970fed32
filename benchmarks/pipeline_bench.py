"""Pipeline benchmark (issue 5, 11b): file → mappings → 3 steps → ``postgres_table`` upsert.

    .venv/bin/python benchmarks/pipeline_bench.py [--records 1000000] [--batch-size 50000]

An embedded PostgreSQL in a temporary directory; an NDJSON file of N nested customer-order
records; one organization and integration config (source ``file``, target
``postgres_table`` upsert on ``customer_id``), 8 mappings (nested paths, casts to integer
/ number / date, a template, a lookup) and a linear pipeline of 3 jmespath steps (filter,
enrich, map) with ``performance_config.batch_size``. The job is built by
``build_definitions`` and run in process; its wall time gives records/s. It runs twice:
into the empty table (the upsert COPies straight in) and again over the same keys (the
upsert goes through the staging table and ``INSERT ... ON CONFLICT DO UPDATE``), then a
third time the way a launch from the UI runs it: loaded from the code location and executed
under Dagster's default multiprocess executor (a process per op, outputs pickled between
them by the filesystem I/O manager).

Baseline in the same run: plain ``COPY ... FROM STDIN`` (psycopg ``cursor.copy``) of the
same final rows (read back from the job's table, already Python tuples) into an identical
empty table with the same primary key, best of 3. Target: job throughput ≥ 0.5 × COPY.
The per-op split comes from the ``integration_executions`` row the sink writes back.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import orjson

from integration_orchestrator.db.rows import insert_row

__all__ = ["main", "run", "seed", "write_records"]

TABLE = "bench_orders"
BASELINE = "bench_orders_copy"
JOB = "bench_pipeline"
COLUMNS = ("customer_id", "full_name", "email", "country", "placed_on", "total", "items", "status", "tier", "label")
DDL = """CREATE TABLE {table} (
    customer_id integer PRIMARY KEY, full_name text NOT NULL, email text, country text, placed_on date,
    total numeric, items integer, status text, tier text, label text)"""
COUNTRIES = {"DE": "Germany", "FR": "France", "NL": "Netherlands", "ES": "Spain", "IT": "Italy", "PL": "Poland"}
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Margaret", "Claude", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Shannon", "Allen")


def write_records(path: Path, n: int, seed: int = 5) -> None:
    """N nested NDJSON records; ~10% cancelled (the filter step drops them)."""
    rng = random.Random(seed)
    codes = list(COUNTRIES)
    with path.open("wb") as out:
        for i in range(1, n + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            record = {
                "customer": {
                    "id": str(i),
                    "name": {"first": first, "last": last},
                    "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                },
                "order": {
                    "total": f"{rng.uniform(1, 500):.2f}",
                    "placed": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "country": rng.choice(codes),
                    "items": str(rng.randint(1, 20)),
                },
                "status": "cancelled" if rng.random() < 0.1 else "active",
                "channel": "web",
                "notes": None,
            }
            out.write(orjson.dumps(record) + b"\n")


_insert = insert_row


MAPPINGS: list[dict[str, Any]] = [
    {"mapping_name": "customer_id", "source_path": "customer.id", "target_path": "customer_id", "is_required": True,
     "transformation_rules": {"type": "cast", "to": "integer"}},
    {"mapping_name": "full_name", "source_path": "customer.name", "target_path": "full_name",
     "transformation_rules": {"type": "template", "template": "{first} {last}"}},
    {"mapping_name": "email", "source_path": "customer.email", "target_path": "email",
     "transformation_rules": {"type": "direct"}},
    {"mapping_name": "country", "source_path": "order.country", "target_path": "country",
     "transformation_rules": {"type": "lookup", "values": COUNTRIES}},
    {"mapping_name": "placed_on", "source_path": "order.placed", "target_path": "placed_on",
     "transformation_rules": {"type": "cast", "to": "date"}},
    {"mapping_name": "total", "source_path": "order.total", "target_path": "total",
     "transformation_rules": {"type": "cast", "to": "number"}},
    {"mapping_name": "items", "source_path": "order.items", "target_path": "items",
     "transformation_rules": {"type": "cast", "to": "integer"}},
    {"mapping_name": "status", "source_path": "status", "target_path": "status",
     "transformation_rules": {"type": "direct"}},
]


def _step(name: str, order: int, kind: str, expression: str) -> dict[str, Any]:
    return {"name": name, "order": order, "transformation": {
        "transformation_type": kind, "language": "jmespath", "transformation_logic": {"expression": expression}}}


STEPS = [
    _step("active only", 1, "filter", "status == 'active'"),
    _step("tier", 2, "enrich", "{tier: total > `250` && 'gold' || 'standard'}"),
    _step("label", 3, "map", "merge(@, {label: join(' / ', [country, tier])})"),
]


def seed(url: str, path: Path, batch_size: int) -> None:
    from integration_orchestrator.db import connect

    with connect(url) as conn, conn.transaction():
        for table in (TABLE, BASELINE):
            conn.execute(DDL.format(table=table))
        org = _insert(conn, "organizations", {"name": "Bench", "slug": "bench"})
        config = _insert(conn, "integration_configs", {
            "integration_name": "Bench orders", "integration_type": "bench", "organization_id": org,
            "connection_config": {"source": {"type": "file", "path": str(path), "batch_size": batch_size},
                                  "target": {"type": "postgres_table", "table": TABLE, "mode": "upsert",
                                             "key": ["customer_id"]}},
        })
        for mapping in MAPPINGS:
            _insert(conn, "integration_mappings", {**mapping, "config_id": config, "organization_id": org})
        _insert(conn, "integration_pipeline_definitions", {
            "pipeline_name": JOB, "config_id": config, "organization_id": org, "pipeline_type": "linear",
            "pipeline_steps": {"steps": STEPS}, "error_handling_strategy": "fail_fast",
            "performance_config": {"batch_size": batch_size},
        })


def _run_job(url: str) -> tuple[float, str]:
    """Seconds and run id of one in-process run (the result, holding every op's output, is dropped)."""
    from integration_orchestrator.assembly import build_definitions

    defs = build_definitions(url)
    job = defs.get_job_def(JOB)
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, run_config=quiet, raise_on_error=False)
        seconds = time.perf_counter() - started
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        raise SystemExit(f"the job failed: {failure.event_specific_data.error.message if failure else '?'}")
    run_id = result.run_id
    del result
    gc.collect()
    return seconds, run_id


def _run_from_code_location(url: str, workdir: Path) -> tuple[float, str]:
    """The job as a launch from the UI runs it: loaded from ``integration_orchestrator.definitions:defs``
    and executed under Dagster's default multiprocess executor (a process per op; outputs
    handed over through the filesystem I/O manager)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository, initialize_repository_def_from_pointer

    os.environ["INTEGRATION_ORCHESTRATOR_DATABASE_URL"] = url
    repo = ReconstructableRepository.for_module("integration_orchestrator.definitions", "defs")
    load_data = initialize_repository_def_from_pointer(repo.pointer).repository_load_data
    job = repo.with_repository_load_data(load_data).get_reconstructable_job(JOB)
    home = workdir / "dagster_home"
    home.mkdir(exist_ok=True)
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        started = time.perf_counter()
        result = dg.execute_job(job, instance=instance)
        seconds = time.perf_counter() - started
        if not result.success:
            raise SystemExit(f"the multiprocess run failed: {[e.message for e in result.all_events if e.is_failure]}")
        return seconds, result.run_id


def _copy_baseline(url: str, repeat: int = 3) -> tuple[int, float]:
    """Rows and best-of-``repeat`` seconds of a plain COPY of the job's rows into an empty twin table."""
    from integration_orchestrator.db import connect

    cols = ", ".join(COLUMNS)
    best = float("inf")
    with connect(url) as conn:
        rows = [tuple(r.values()) for r in conn.execute(f"SELECT {cols} FROM {TABLE}").fetchall()]
        for _ in range(repeat):
            conn.execute(f"TRUNCATE {BASELINE}")
            conn.commit()
            started = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY {BASELINE} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            best = min(best, time.perf_counter() - started)
        return len(rows), best


def _step_split(url: str, run_id: str) -> list[dict[str, Any]]:
    from integration_orchestrator.db import connect

    with connect(url) as conn:
        row = conn.execute(
            "SELECT metadata FROM integration_executions WHERE dagster_run_id = %s", (run_id,)
        ).fetchone()
    return list((row or {}).get("metadata", {}).get("steps", [])) if row else []


def run(n: int, batch_size: int, workdir: Path) -> None:
    from integration_orchestrator.db import connect, ensure_database, upgrade
    from integration_orchestrator.db.embedded import start_embedded_server

    server = start_embedded_server(workdir / "pg")
    try:
        ensure_database(server.url("postgres"), "bench")
        url = server.url("bench")
        upgrade(url)
        path = workdir / "orders.ndjson"
        started = time.perf_counter()
        write_records(path, n)
        print(f"wrote {n:,} records ({path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - started:.1f}s")
        seed(url, path, batch_size)

        job_seconds, first_run = _run_job(url)
        with connect(url) as conn:
            written = conn.execute(f"SELECT count(*) AS n FROM {TABLE}").fetchone()["n"]
            sample = conn.execute(f"SELECT * FROM {TABLE} ORDER BY customer_id LIMIT 1").fetchone()
        print(f"sample row: {sample}")
        copied, copy_seconds = _copy_baseline(url)
        assert copied == written
        again_seconds, again_run = _run_job(url)  # every key exists now: the upsert updates each row
        process_seconds, process_run = _run_from_code_location(url, workdir)

        print(
            f"\n{n:,} records in, {written:,} rows upserted (filter drops cancelled ones), batch_size {batch_size:,}\n"
        )
        print("| path | rows | seconds | records/s (in) | rows/s (written) | ratio to COPY |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        runs = (("job, first load (empty table)", job_seconds), ("job again (every key exists)", again_seconds),
                ("job again, from the code location (multiprocess executor)", process_seconds))
        for label, seconds in runs:
            print(f"| {label} | {written:,} | {seconds:.2f} | {n / seconds:,.0f} | {written / seconds:,.0f} | "
                  f"{copy_seconds / seconds:.3f} |")
        print(
            f"| plain COPY of the final rows (best of 3) | {copied:,} | {copy_seconds:.2f} | – | "
            f"{copied / copy_seconds:,.0f} | 1.0 |"
        )
        print("\nratio = job rows/s ÷ COPY rows/s (target ≥ 0.5)")

        splits = [_step_split(url, run_id) for run_id in (first_run, again_run, process_run)]
        if all(splits):
            print("\n| op | in | out | s, first load | s, again | s, multiprocess |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            for a, b, c in zip(*splits, strict=False):
                print(f"| {a['step']} | {a['records_in']:,} | {a['records_out']:,} | {float(a['seconds']):.2f} | "
                      f"{float(b['seconds']):.2f} | {float(c['seconds']):.2f} |")
            rest = [
                total - sum(float(s["seconds"]) for s in split)
                for total, split in zip((job_seconds, again_seconds, process_seconds), splits, strict=True)
            ]
            print(
                f"| (Dagster: processes, I/O between ops, write-back) | | | {rest[0]:.2f} | "
                f"{rest[1]:.2f} | {rest[2]:.2f} |"
            )
        print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GB")
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pipeline_bench_") as tmp:
        run(args.records, args.batch_size, Path(tmp))


if __name__ == "__main__":
    main()
