"""Pipeline benchmark (issues 5, 11b, 14): file → 8 mappings → 3 steps → ``postgres_table`` upsert.

    .venv/bin/python benchmarks/pipeline_bench.py [--records 1000000] [--batch-size 50000]
        [--database-url URL] [--only launch,in_process,polars,dlt,demo]

An embedded PostgreSQL in a temporary directory (or ``--database-url``: a fresh database);
an NDJSON file of N nested customer-order records; one integration (source ``file``,
target ``postgres_table`` upsert on ``customer_id``), 8 mappings and a linear pipeline of 3
jmespath steps (``pipeline_bench_workload``). On that one workload, each contender in a
fresh process of its own (``pipeline_bench_contenders``), its peak RSS sampled
(``pipeline_bench_rss``):

- the job launched from the code location: ``dagster job execute -m
  integration_orchestrator.definitions -a defs -j bench_pipeline`` in a subprocess, on a
  ``DAGSTER_HOME`` with the project's dagster.yaml (dagster-postgres storage): the job's own
  executor, as a launched run worker executes it. Timed from the run's start to its end as
  the run storage records them (``get_run_stats``); the wall clock adds the CLI's start and
  the code location's load;
- the job in process (``build_definitions`` → ``execute_in_process``);
- a hand-written Polars reference (the same mappings and steps as Polars expressions, COPY);
- dlt (optional ``bench`` extra): mappings and steps as ``add_map`` / ``add_filter``, merge on
  ``customer_id``; "skipped" when dlt is not installed;
- plain ``COPY ... FROM STDIN`` of the job's final rows (Python tuples) into an empty twin
  table, best of 3.

Each writes into an empty table; the rows are compared by count and an md5 over every row's
canonical text in key order. Last, the demo's 7-record run, launched by the
``integration-orchestrator demo`` command, timed in Dagster's run storage.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pipeline_bench_contenders import DLT_DATASET
from pipeline_bench_report import Row, print_report
from pipeline_bench_rss import Measured, run_contender
from pipeline_bench_workload import BASELINE, COLUMNS, POLARS_TABLE, TABLE, checksum, seed, write_records

__all__ = ["CONTENDER_ORDER", "main", "run"]

CONTENDER_ORDER = ("in_process", "launch", "polars", "dlt", "demo")
LABELS = {
    "launch": "this project, launched from the code location (`dagster job execute -m …definitions`)",
    "in_process": "this project, in process (`execute_in_process`)",
    "polars": "hand-written Polars (same logic as expressions) → COPY",
    "dlt": "dlt, mappings and steps as add_map / add_filter, merge",
}


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
    """The per-op split the sink writes back into ``integration_executions.metadata`` (if it does)."""
    from integration_orchestrator.db import connect

    with connect(url) as conn:
        row = conn.execute(
            "SELECT metadata FROM integration_executions WHERE dagster_run_id = %s", (run_id,)
        ).fetchone()
    return list(((row or {}).get("metadata") or {}).get("steps", []))


def _sum(url: str, table: str) -> tuple[int, str]:
    from integration_orchestrator.db import connect

    with connect(url) as conn:
        return checksum(conn, table)


def _truncate(url: str, table: str) -> None:
    from integration_orchestrator.db import connect

    with connect(url) as conn:
        conn.execute(f"TRUNCATE {table}")
        conn.commit()


def _environment(url: str, workdir: Path) -> dict[str, str]:
    """What every contender process sees: the platform database, Dagster's storage and home."""
    from integration_orchestrator.dagster_home import prepare_dagster_home
    from integration_orchestrator.db import dagster_storage_url

    home = workdir / "dagster_home"
    prepare_dagster_home(home)
    return {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": url,
            "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL": dagster_storage_url(url),
            "INTEGRATION_ORCHESTRATOR_HOME": str(workdir), "DAGSTER_HOME": str(home)}


def _contend(name: str, params: dict[str, Any], env: dict[str, str], workdir: Path) -> Measured | str:
    """The measurement, or why there is none (a failed contender does not stop the others)."""
    started = time.perf_counter()
    try:
        measured = run_contender(name, params, env, workdir, workdir / f"{name}.log")
    except RuntimeError as error:
        print(f"{name}: FAILED — {error}")
        return f"failed: {str(error).splitlines()[0]} (see {workdir / (name + '.log')})"
    print(f"{name}: done in {time.perf_counter() - started:.1f}s")
    if measured.result.get("skipped"):
        return f"skipped: {measured.result['skipped']}"
    if measured.result.get("success") is False:
        return f"failed: run {measured.result.get('run_id')} ended {measured.result.get('status')}"
    return measured


def _measure(url: str, path: Path, workdir: Path, only: set[str], dlt_format: str) -> dict[str, Any]:
    env = _environment(url, workdir)
    params = {"url": url, "path": str(path), "workdir": str(workdir), "dlt_format": dlt_format}
    found: dict[str, Any] = {}
    tables = {"in_process": TABLE, "launch": TABLE, "polars": POLARS_TABLE, "dlt": f"{DLT_DATASET}.{TABLE}"}
    for name in CONTENDER_ORDER:
        if name not in only:
            continue
        if tables.get(name) == TABLE:
            _truncate(url, TABLE)  # each job run loads an empty table, as the others do
        outcome = _contend(name, params, env, workdir)
        found[name] = outcome
        if isinstance(outcome, Measured) and name in tables:
            found[f"{name}.sum"] = _sum(url, tables[name])
            if name in ("in_process", "launch"):
                found[f"{name}.split"] = _step_split(url, outcome.result["run_id"])
        if name == "in_process" and isinstance(outcome, Measured):
            found["copy"] = _copy_baseline(url)
            found["copy.sum"] = _sum(url, BASELINE)
    return found


def run(n: int, batch_size: int, workdir: Path, *, database_url: str | None = None,
        only: set[str] | None = None, dlt_format: str = "csv") -> dict[str, Any]:
    """Set up the workload, measure the contenders, print the report; return what was measured."""
    from integration_orchestrator.db import ensure_database, upgrade
    from integration_orchestrator.db.embedded import start_embedded_server

    server = None
    if database_url is None:
        server = start_embedded_server(workdir / "pg")
        ensure_database(server.url("postgres"), "bench")
        database_url = server.url("bench")
    try:
        upgrade(database_url)
        path = workdir / "orders.ndjson"
        started = time.perf_counter()
        write_records(path, n)
        print(f"wrote {n:,} records ({path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - started:.1f}s")
        seed(database_url, path, batch_size)
        found = _measure(database_url, path, workdir, set(only or CONTENDER_ORDER), dlt_format)
        rows = [Row(LABELS[name], found.get(name), found.get(f"{name}.sum"), found.get(f"{name}.split"))
                for name in ("launch", "in_process", "polars", "dlt") if name in found]
        print_report(n, batch_size, rows, found.get("copy"), found.get("copy.sum"), found.get("demo"))
        return found
    finally:
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--database-url", help="a fresh database to use instead of an embedded server")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(CONTENDER_ORDER)}")
    parser.add_argument("--dlt-loader", default="csv", help="dlt loader_file_format (csv | insert_values)")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory(prefix="pipeline_bench_") as tmp:
        run(args.records, args.batch_size, Path(tmp), database_url=args.database_url, only=only,
            dlt_format=args.dlt_loader)


if __name__ == "__main__":
    main()
