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
from integration_orchestrator_tests.faults.conftest import BAD, GOOD, HEARTBEAT, TTL_SECONDS, Faults, Job

pytestmark = pytest.mark.slow
#: longer than the write-back retries (2 s here) and Dagster's storage retries (~1 s)
OUTAGE_SECONDS = 30.0
#: TTL + the grace after a restart (two beats + 5 s) + a reconciler tick and slack
BOUND = TTL_SECONDS + 2 * HEARTBEAT + 5 + 15


class Server:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.server: EmbeddedServer = start_embedded_server(home)

    def url(self, database: str) -> str:
        return self.server.url(database)

    def outage(self, job: Job, seconds: float) -> None:
        """Stop the server, let the paused ``job`` go on, start the server ``seconds`` later."""
        self.server.stop()
        job.go()
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
    server.outage(job, 5)  # the write-back meets a stopped server and retries
    assert job.finish() == 0, job.output()
    _reconnect(faults)
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("succeeded", GOOD)]
    # A worker that lived reported its failed write-back: Dagster keeps FAILURE although the
    # load committed (ARCHITECTURE.md §10.8, limits); a dead one's run is ended SUCCESS.
    assert faults.dagster()[0] in ("SUCCESS", "FAILURE")
    assert faults.pending_letters() == BAD
    faults.db.close()



def test_an_outage_longer_than_the_retry_window_is_finished_final_and_true(
    server: Server, tmp_path: Path, leftovers: list[Faults]
) -> None:
    """The issue's scenario: the database (and Dagster's storage with it) down for longer than
    the retries right after the load committed. Whether the worker dies with its run
    ``STARTED`` (seen with a 60 s outage) or lives to write ``RUN_FAILURE`` (30 s), the row and
    the run end final within the bound, the row true to the data (the ledger)."""
    faults = _faults(server, tmp_path, "outage", dagster_storage=True, made=leftovers)
    job = faults.execute("after_commit", env={RETRY_ENV: "2"})
    job.wait_at()
    faults.db.close()
    server.outage(job, OUTAGE_SECONDS)
    back = time.monotonic()
    _reconnect(faults)
    job.finish(seconds=60)
    while time.monotonic() - back < BOUND:
        faults.reconcile()
        if faults.executions()[0][0] != "running" and faults.dagster()[0] not in ("STARTED", "STARTING"):
            break
        time.sleep(1)
    assert time.monotonic() - back < BOUND
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("succeeded", GOOD)]
    # A worker that lived reported its failed write-back: Dagster keeps FAILURE although the
    # load committed (ARCHITECTURE.md §10.8, limits); a dead one's run is ended SUCCESS.
    assert faults.dagster()[0] in ("SUCCESS", "FAILURE")
    assert faults.pending_letters() == BAD
    faults.db.close()
