"""`dev` runs the Dagster UI + daemon on the rows; `reload` makes it show changed rows;
`dagster job launch` on its workspace is run by the daemon and written back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect, dagster_storage_url
from integration_orchestrator.db.urls import database_name
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


def _cli(database_url: str, home: Path, *args: str, **kwargs: Any) -> Any:
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
           "INTEGRATION_ORCHESTRATOR_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "integration_orchestrator", *args], env=env, cwd=home,
                            start_new_session=True, **kwargs)


@pytest.mark.slow
def test_dev_serves_the_rows_and_reload_picks_up_changes(
    db: psycopg.Connection[Any], database_url: str, pg_admin_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "First", [{"id": 1}, {"id": 2}]), "first",
                 [jmespath_step("a", 1, "map", "@")])
    create_target_table(db)
    port = _free_port()
    log = (tmp_path / "dev.log").open("w")
    dev = _cli(database_url, tmp_path, "dev", "--port", str(port), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 400
        jobs: set[str] = set()
        while time.monotonic() < deadline and "first" not in jobs:
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            try:
                jobs = _jobs(port)
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                time.sleep(2)
        assert "first" in jobs, (tmp_path / "dev.log").read_text()[-3000:]

        add_pipeline(db, org, add_config(db, org, "Second"), "second", [jmespath_step("a", 1, "map", "@")])
        assert "second" not in _jobs(port)  # rows are read at load only
        reload = _cli(database_url, tmp_path, "reload", "--url", f"http://127.0.0.1:{port}",
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = reload.communicate(timeout=600)
        assert reload.returncode == 0, err
        assert "reloaded code location `integration_orchestrator`" in out
        assert {"first", "second"} <= _jobs(port)

        # `dagster job launch` on dev's workspace: queued, run by the daemon, written back
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "dagster_home"),
               "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
               "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL": dagster_storage_url(database_url)}
        launch = subprocess.run(
            [str(Path(sys.executable).with_name("dagster")), "job", "launch", "-w",
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
        assert status == "succeeded", (tmp_path / "dev.log").read_text()[-3000:]
    finally:
        os.killpg(dev.pid, signal.SIGTERM)
        try:
            dev.wait(timeout=180)  # `dev` waits for `dagster dev` to shut down
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(timeout=60)
        with connect(pg_admin_url, autocommit=True) as admin:
            name = database_name(database_url) + "_dagster"
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
