"""The contenders of ``pipeline_bench.py``, each run in a fresh process by ``pipeline_bench_rss``.

    python benchmarks/pipeline_bench_contenders.py NAME '{"url": ..., ...}'

prints one ``PIPELINE_BENCH_RESULT {json}`` line: the seconds (for Dagster runs: from the
run's start to its end as the run storage records them, and the wall clock), the run id and
this process's ``ru_maxrss``. The project's job is driven only from outside: through
``build_definitions`` (in process), the code location (``dagster job execute -m
integration_orchestrator.definitions``) and the ``integration-orchestrator demo`` command.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
from pipeline_bench_rss import RESULT_PREFIX
from pipeline_bench_workload import COLUMNS, COUNTRIES, JOB, POLARS_TABLE, TABLE

__all__ = ["CONTENDERS", "DLT_DATASET", "main"]

DLT_DATASET = "bench_dlt"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _run_seconds(instance: Any, run_id: str) -> dict[str, Any]:
    """The run's start and end as Dagster's run storage records them."""
    stats = instance.get_run_stats(run_id)
    run = instance.get_run_by_id(run_id)
    seconds = (stats.end_time - stats.start_time) if stats.start_time and stats.end_time else None
    return {"run_id": run_id, "run_seconds": seconds, "success": run.status.value == "SUCCESS",
            "status": run.status.value}


def in_process(params: dict[str, Any]) -> dict[str, Any]:
    """``build_definitions`` → ``execute_in_process`` on an ephemeral instance (as the bench always did)."""
    import dagster as dg

    from integration_orchestrator.assembly import build_definitions

    job = build_definitions(params["url"]).get_job_def(JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        started = time.perf_counter()
        result = job.execute_in_process(instance=instance, run_config=QUIET, raise_on_error=False)
        wall = time.perf_counter() - started
        return {**_run_seconds(instance, result.run_id), "wall": wall}


def launch(params: dict[str, Any]) -> dict[str, Any]:
    """``dagster job execute`` from the code location in a subprocess, on the instance in $DAGSTER_HOME
    (the project's dagster.yaml: dagster-postgres storage): the job's own executor, run worker = that
    process, step processes below it, exactly as a launched run executes."""
    import dagster as dg

    config = Path(params["workdir"]) / "quiet.json"
    config.write_text(json.dumps(QUIET))  # YAML is a superset of JSON
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "job", "execute", "-m", "integration_orchestrator.definitions", "-a", "defs",
               "-j", JOB, "-c", str(config)]
    with dg.DagsterInstance.get() as instance:
        before = {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(job_name=JOB))}
        started = time.perf_counter()
        subprocess.run(command, stdout=sys.stderr, check=False)
        wall = time.perf_counter() - started
        runs = [r for r in instance.get_runs(filters=dg.RunsFilter(job_name=JOB)) if r.run_id not in before]
        if not runs:
            raise SystemExit("dagster job execute recorded no run")
        return {**_run_seconds(instance, runs[0].run_id), "wall": wall,
                "children_label": "run worker or step process (ru_maxrss)"}


def demo(params: dict[str, Any]) -> dict[str, Any]:
    """The run ``integration-orchestrator demo`` launches (its own seed, instance and job)."""
    import dagster as dg

    command = [sys.executable, "-m", "integration_orchestrator", "--database-url", params["url"], "demo"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    sys.stderr.write(done.stdout + done.stderr)
    found = re.search(r"dagster run\s+(\S+) \(", done.stdout)
    if not found:
        raise SystemExit(f"demo printed no run id (exit {done.returncode})")
    with dg.DagsterInstance.get() as instance:
        return {**_run_seconds(instance, found.group(1)), "wall": wall, "exit": done.returncode}


def polars_reference(params: dict[str, Any]) -> dict[str, Any]:
    """The same work written by hand: NDJSON → the 8 mappings and 3 steps as Polars expressions → COPY."""
    import polars as pl

    from integration_orchestrator.db import connect

    started = time.perf_counter()
    customer, order = pl.col("customer"), pl.col("order")
    name = customer.struct.field("name")
    mapped = pl.scan_ndjson(params["path"]).select(
        customer_id=customer.struct.field("id").cast(pl.Int64),
        full_name=pl.concat_str([name.struct.field("first"), name.struct.field("last")], separator=" "),
        email=customer.struct.field("email"),
        country=order.struct.field("country").replace_strict(COUNTRIES, return_dtype=pl.String),
        placed_on=order.struct.field("placed").str.to_date("%Y-%m-%d"),
        total=order.struct.field("total"),  # the text, so the scale is kept ("486.20")
        items=order.struct.field("items").cast(pl.Int64),
        status=pl.col("status"),
    )
    tier = pl.when(pl.col("total").cast(pl.Decimal(38, 2)) > 250).then(pl.lit("gold")).otherwise(pl.lit("standard"))
    rows = (mapped.filter(pl.col("status") == "active").with_columns(tier=tier)
            .with_columns(label=pl.concat_str([pl.col("country"), pl.col("tier")], separator=" / "))
            .select(COLUMNS).collect())
    computed = time.perf_counter()
    with connect(params["url"]) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY {POLARS_TABLE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in rows.iter_slices(100_000):
                buffer = io.BytesIO()
                chunk.write_csv(buffer, include_header=False)
                copy.write(buffer.getbuffer())
        conn.commit()
    loaded = time.perf_counter()
    return {"wall": loaded - started, "read_and_compute": computed - started, "load": loaded - computed}


def _dlt_mappings(record: dict[str, Any]) -> dict[str, Any]:
    customer, order = record["customer"], record["order"]
    name = customer["name"]
    return {"customer_id": int(customer["id"]), "full_name": f"{name['first']} {name['last']}",
            "email": customer["email"], "country": COUNTRIES[order["country"]],
            "placed_on": date.fromisoformat(order["placed"]), "total": Decimal(order["total"]),
            "items": int(order["items"]), "status": record["status"]}


def _dlt_tier(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "tier": "gold" if record["total"] > 250 else "standard"}


def _dlt_label(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "label": f"{record['country']} / {record['tier']}"}


DLT_COLUMNS: Any = {  # dlt's TColumnSchema per column
    "customer_id": {"data_type": "bigint", "precision": 32, "nullable": False}, "full_name": {"data_type": "text"},
    "email": {"data_type": "text"}, "country": {"data_type": "text"}, "placed_on": {"data_type": "date"},
    "total": {"data_type": "decimal"}, "items": {"data_type": "bigint", "precision": 32},
    "status": {"data_type": "text"}, "tier": {"data_type": "text"}, "label": {"data_type": "text"},
}


def _dlt_credentials(url: str) -> str:
    """``url`` with a password: dlt insists on one (a trust-auth server ignores it)."""
    parts = urlsplit(url)
    if parts.password:
        return url
    user = parts.username or "postgres"
    host = parts.netloc.rpartition("@")[2] or "localhost"  # dlt wants a host; libpq takes ?host=/socket over it
    return urlunsplit(parts._replace(netloc=f"{user}:unused@{host}"))


def dlt_pipeline(params: dict[str, Any]) -> dict[str, Any]:
    """dlt: the NDJSON lines as a resource, mappings and steps as add_map / add_filter, merge on customer_id."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    try:
        import dlt
    except ImportError as error:
        return {"skipped": f"dlt is not installed ({error}); pip install -e '.[bench]'"}

    def orders() -> Iterator[list[dict[str, Any]]]:
        with open(params["path"], "rb") as lines:
            page: list[dict[str, Any]] = []
            for line in lines:
                page.append(orjson.loads(line))
                if len(page) == 10_000:
                    yield page
                    page = []
            if page:
                yield page

    factory = dlt.resource(orders, name=TABLE, write_disposition="merge", primary_key="customer_id",
                           columns=DLT_COLUMNS)
    resource = (factory().add_map(_dlt_mappings).add_filter(lambda r: r["status"] == "active")
                .add_map(_dlt_tier).add_map(_dlt_label))
    destination = dlt.destinations.postgres(_dlt_credentials(params["url"]))
    pipeline = dlt.pipeline(pipeline_name="pipeline_bench", pipelines_dir=str(Path(params["workdir"]) / "dlt"),
                            destination=destination, dataset_name=DLT_DATASET)
    started = time.perf_counter()
    info = pipeline.run(resource, loader_file_format=params.get("dlt_format", "csv"))
    info.raise_on_failed_jobs()
    return {"wall": time.perf_counter() - started, "version": dlt.__version__,
            "loader": params.get("dlt_format", "csv")}


CONTENDERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "in_process": in_process, "launch": launch, "demo": demo, "polars": polars_reference, "dlt": dlt_pipeline,
}


def _high_water_mark() -> int:
    """This process's peak RSS in bytes: ``VmHWM``, which starts afresh at exec. (``ru_maxrss`` does not:
    Linux carries it across fork and exec, so a worker would report the bench process's size.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> None:
    name, params = argv[0], json.loads(argv[1])
    result = CONTENDERS[name](params)
    result["maxrss_self"] = _high_water_mark()
    result["maxrss_children"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
