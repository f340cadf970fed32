"""``benchmarks/pipeline_bench.py`` at a small size: every contender runs and writes the same rows."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect
from integration_orchestrator.db.urls import database_name

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dagster_database(database_url: str, pg_admin_url: str) -> Iterator[None]:
    """The sibling database the launch path's and the demo's Dagster storage create; dropped after."""
    yield
    name = database_name(database_url) + "_dagster"
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("column", "left", "right", "same"),
    [
        ("total", "486.20", "486.2", True),  # the same number, another scale
        ("total", "486.20", "486.200000000", True),  # dlt's numeric(38,9)
        ("total", "486.20", "486.19999999", False),  # a float that drifted is another value
        ("tier", None, "", False),  # NULL is not the empty string
        ("tier", "gold", "gold", True),
    ],
)
def test_checksum_compares_values_not_their_spelling(
    db: psycopg.Connection[dict[str, Any]], column: str, left: str | None, right: str | None, same: bool
) -> None:
    workload = _load("pipeline_bench_workload")
    for table, value in (("a", left), ("b", right)):
        db.execute(workload.DDL.format(table=table))
        db.execute(f"INSERT INTO {table} (customer_id, full_name, {column}) VALUES (1, 'x', %s)", (value,))
    assert (workload.checksum(db, "a") == workload.checksum(db, "b")) is same


@pytest.mark.slow
def test_the_small_configuration_runs_every_contender(
    database_url: str, dagster_database: None, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "pipeline_bench.py"), "--records", "300", "--database-url", database_url],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCHMARKS.parent), os.environ.get("PYTHONPATH", "")])},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    for contender in ("launched from the code location", "in process", "hand-written Polars", "dlt", "plain COPY"):
        row = next(line for line in table if contender in line)
        assert "failed" not in row, row
    assert "checksums: all equal" in done.stdout
    assert "SUCCESS, start→end in Dagster's run storage" in done.stdout
