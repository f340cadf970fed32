"""`dev` runs the Dagster UI + daemon on the rows; `reload` makes it show changed rows;
`dagster job launch` on its workspace is run by the daemon and written back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect, dagster_storage_url
from integration_orchestrator.db.urls import database_name
from integration_orchestrator_tests.processes import Background, bin_path
from integration_orchestrator_tests.rows import (
    add_config,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

JOBS_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jobs(port: int) -> set[str]:
    reply = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": JOBS_QUERY}, timeout=60).json()
    nodes = reply["data"]["repositoriesOrError"].get("nodes", [])
    return {job["name"] for repo in nodes for job in repo["jobs"]}


def _env(database_url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
            "INTEGRATION_ORCHESTRATOR_HOME": str(home)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "integration_orchestrator", *args]


@pytest.mark.slow
def test_dev_serves_the_rows_and_reload_picks_up_changes(
    db: psycopg.Connection[Any], database_url: str, pg_admin_url: str, tmp_path: Path,
    background: Callable[..., Background],
) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "First", [{"id": 1}, {"id": 2}]), "first",
                 [jmespath_step("a", 1, "map", "@")])
    create_target_table(db)
    port = _free_port()
    dev = background(_cli("dev", "--port", str(port)), env=_env(database_url, tmp_path), cwd=tmp_path,
                     log_name="dev.log")
    try:
        deadline = time.monotonic() + 400
        jobs: set[str] = set()
        while time.monotonic() < deadline and "first" not in jobs:
            assert dev.running(), dev.log_tail(3000)
            try:
                jobs = _jobs(port)
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(2)
        assert "first" in jobs, dev.log_tail(3000)

        add_pipeline(db, org, add_config(db, org, "Second"), "second", [jmespath_step("a", 1, "map", "@")])
        assert "second" not in _jobs(port)  # rows are read at load only
        reload = subprocess.run(_cli("reload", "--url", f"http://127.0.0.1:{port}"), env=_env(database_url, tmp_path),
                                cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert reload.returncode == 0, reload.stderr
        assert "reloaded code location `integration_orchestrator`" in reload.stdout
        assert {"first", "second"} <= _jobs(port)

        # `dagster job launch` on dev's workspace: queued, run by the daemon, written back
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
               "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
               "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL": dagster_storage_url(database_url)}
        launch = subprocess.run(
            [bin_path("dagster"), "job", "launch", "-w",
             str(tmp_path / "dagster_home" / "workspace.yaml"), "-j", "first"],
            env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
        assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-2000:]
        deadline = time.monotonic() + 400
        status = None
        while time.monotonic() < deadline and status != "succeeded":
            row = db.execute("SELECT status FROM integration_executions WHERE dagster_job_name = 'first'").fetchone()
            status = row["status"] if row else None
            time.sleep(2)
        assert status == "succeeded", dev.log_tail(3000)
    finally:
        dev.stop(timeout=180)  # `dev` waits for `dagster dev` to shut down
        with connect(pg_admin_url, autocommit=True) as admin:
            name = database_name(database_url) + "_dagster"
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
