"""The platform database restarted mid-run, under a real ``dagster job execute``.

A private embedded PostgreSQL holds the platform database and the target (and, in the
issue's scenario, Dagster's run storage too, as ``dev`` does). A blip shorter than the
write-back retry window is ridden out; an outage longer than it ends the run, and
whatever Dagster and the row are left saying is made final and equal by the reconciler.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql

from integration_orchestrator.db import connect, upgrade
from integration_orchestrator.db.embedded import EmbeddedServer, start_embedded_server
from integration_orchestrator.db.retry import RETRY_ENV
from integration_orchestrator.db.urls import psycopg2_url
from integration_orchestrator_tests.faults.conftest import BAD, GOOD, TTL_SECONDS, Faults

pytestmark = pytest.mark.slow


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.server: EmbeddedServer = start_embedded_server(home)

    def url(self, database: str) -> str:
        return self.server.url(database)

    def restart_after(self, seconds: float) -> None:
        self.server.stop()
        time.sleep(seconds)
        self.server = start_embedded_server(self.home)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    home = Path(tempfile.mkdtemp(prefix="io-faults-pg-"))
    s = Server(home)
    try:
        yield s
    finally:
        s.server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _database(server: Server, name: str) -> str:
    with connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return server.url(name)


@pytest.fixture
def leftovers() -> Iterator[list[Faults]]:
    """Faults made on the private server: their paused jobs are killed at the end."""
    made: list[Faults] = []
    yield made
    for faults in made:
        faults.kill_leftovers()


def _faults(server: Server, tmp_path: Path, name: str, dagster_storage: bool, made: list[Faults]) -> Faults:
    url = _database(server, name)
    upgrade(url)
    faults = Faults(connect(url, autocommit=True), url, tmp_path)
    yaml = "telemetry:\n  enabled: false\n"
    if dagster_storage:  # as `dev` runs it: Dagster's storage on the same server
        yaml += f"storage:\n  postgres:\n    postgres_url: \"{psycopg2_url(_database(server, name + '_dagster'))}\"\n"
    made.append(faults)
    faults.setup(dagster_yaml=yaml)
    return faults


def _reconnect(faults: Faults) -> None:
    faults.db.close()
    faults.db = connect(faults.database_url, autocommit=True)


def test_a_restart_during_the_write_back_is_ridden_out(server: Server, tmp_path: Path, leftovers: list[Faults]) -> None:
    faults = _faults(server, tmp_path, "blip", dagster_storage=False, made=leftovers)
    job = faults.execute("after_commit", env={RETRY_ENV: "60"})
    job.wait_at()
    faults.db.close()
    job.go()  # the write-back meets a stopped server and retries
    server.restart_after(5)
    assert job.finish() == 0, job.output()
    _reconnect(faults)
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("succeeded", GOOD)]
    assert faults.dagster() == ["SUCCESS"]
    assert faults.pending_letters() == BAD
    faults.db.close()



def test_an_outage_longer_than_the_retry_window_ends_final_and_a_rerun_loads_once(
    server: Server, tmp_path: Path, leftovers: list[Faults]
) -> None:
    """The issue's scenario: down for longer than the retries, Dagster's storage down as well."""
    faults = _faults(server, tmp_path, "outage", dagster_storage=True, made=leftovers)
    job = faults.execute("before_sink", env={RETRY_ENV: "2"})
    job.wait_at()
    faults.db.close()
    job.go()
    server.restart_after(12)
    _reconnect(faults)
    deadline = time.monotonic() + 120
    # The worker either ends the run itself once it can write again, or dies: the reconciler
    # finishes what it left open within the TTL (+ the grace after the restart).
    while time.monotonic() < deadline:
        faults.reconcile()
        if faults.executions()[0][0] != "running" and faults.dagster()[0] not in ("STARTED", "STARTING"):
            break
        time.sleep(TTL_SECONDS / 2)
    job.finish(seconds=60)
    outcome = (faults.target()["n"], faults.executions(), faults.dagster())
    # Final and true both ways: the sink's retries may outlast the outage, or the run failed.
    assert outcome in [(GOOD, [("succeeded", GOOD)], ["SUCCESS"]), (0, [("failed", 0)], ["FAILURE"])], (
        outcome, job.output())
    if outcome[0]:
        return
    faults.run()  # the rerun of the failed run loads once
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("failed", 0), ("succeeded", GOOD)]
    assert faults.dagster() == ["FAILURE", "SUCCESS"]
    faults.db.close()



