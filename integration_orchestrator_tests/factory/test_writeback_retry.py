"""The write-back survives a database outage (``db/retry.py``, ``factory/writeback.py``).

A dedicated embedded PostgreSQL server, stopped for ~5 s while a write-back call retries
in a thread and started again: the row is written exactly once. Data errors are raised at
once; a retry after a commit whose answer was lost adds nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration_orchestrator.db import connect, upgrade
from integration_orchestrator.db.embedded import EmbeddedServer, start_embedded_server
from integration_orchestrator.db.retry import RETRY_ENV, backoff_delay, connect_retrying, is_transient, retrying
from integration_orchestrator.errors import DatabaseUnavailableError
from integration_orchestrator.factory import serial
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.writeback import (
    ensure_execution,
    finish_execution,
    insert_dead_letters,
)
from integration_orchestrator.model import FailedRecord
from integration_orchestrator.model.tags import TAG_SERIAL
from integration_orchestrator_tests.rows import populate_organization

OUTAGE_SECONDS = 5.0
DEAD_URL = "postgresql://postgres@127.0.0.1:1/postgres"  # nothing listens on port 1: connection refused


@dataclass
class Platform:
    """A private embedded server with the schema and one organization; it can be stopped."""

    home: Path
    server: EmbeddedServer
    url: str
    org: str
    config: str

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server = start_embedded_server(self.home)
        assert self.server.url("postgres") == self.url  # same socket: clients reconnect to the same URL

    def count(self, query: str, *params: Any) -> int:
        with connect(self.url) as conn:
            row = conn.execute(query, params).fetchone()
        assert row is not None
        return int(row["count"])


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    home = Path(tempfile.mkdtemp(prefix="io-outage-pg-"))
    server = start_embedded_server(home)
    url = server.url("postgres")
    p = Platform(home, server, url, "", "")
    try:
        upgrade(url)
        with connect(url, autocommit=True) as conn:
            ids = populate_organization(conn, "outage")
        p.org, p.config = str(ids["organizations"]), str(ids["integration_configs"])
        yield p
    finally:
        p.server.stop()  # the handle of the last start
        shutil.rmtree(home, ignore_errors=True)


def _run_id() -> str:
    return str(uuid.uuid4())


def _execution(p: Platform, conn: psycopg.Connection[Any], run_id: str) -> str:
    return ensure_execution(conn, run_id=run_id, job_name="outage_job", organization_id=p.org, config_id=p.config,
                            pipeline_id=None)


def _during_outage(p: Platform, call: Callable[[], Any]) -> Any:
    """``call()`` in a thread while the server is down for OUTAGE_SECONDS; its result."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = call()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
            result["error"] = exc

    p.stop()
    thread = threading.Thread(target=target, daemon=True)
    try:
        thread.start()
        time.sleep(OUTAGE_SECONDS)
        assert thread.is_alive(), f"the write did not wait for the database: {result}"
    finally:
        p.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result.get("value")


def test_execution_row_written_once_after_restart(platform: Platform) -> None:
    run_id = _run_id()

    def write() -> str:
        with IntegrationDatabase(database_url=platform.url).connection() as conn:
            execution = _execution(platform, conn, run_id)
            assert finish_execution(conn, run_id=run_id, organization_id=platform.org, status="succeeded",
                                    records_in=3, records_out=3, records_failed=0)
            return execution

    execution = _during_outage(platform, write)
    assert platform.count("SELECT count(*) FROM integration_executions WHERE dagster_run_id = %s", run_id) == 1
    assert platform.count("SELECT count(*) FROM integration_executions WHERE id = %s AND status = 'succeeded' "
                          "AND records_out = 3", execution) == 1


def test_open_connection_breaks_and_dead_letters_land_once(platform: Platform) -> None:
    run_id = _run_id()
    failures = [FailedRecord(i, {"id": i}, "bad", step="step_map") for i in range(5)]
    with IntegrationDatabase(database_url=platform.url).connection() as conn:
        execution = _execution(platform, conn, run_id)  # the connection is open when the server goes
        _during_outage(platform, lambda: insert_dead_letters(
            conn, organization_id=platform.org, execution_id=execution, config_id=platform.config,
            pipeline_id=None, failures=failures))
        assert conn.broken
        # the same connection again: replaced at once, and the letters are not added twice
        insert_dead_letters(conn, organization_id=platform.org, execution_id=execution, config_id=platform.config,
                            pipeline_id=None, failures=failures)
    assert platform.count("SELECT count(*) FROM integration_dead_letters WHERE execution_id = %s", execution) == 5


def test_retry_after_a_lost_commit_adds_nothing(platform: Platform) -> None:
    """The first attempt commits, then its connection is killed before the answer: the retry
    (a fresh connection) repeats the insert, which must change nothing."""
    attempts: list[int] = []
    failures = [FailedRecord(i, {"id": i}, "bad", step="step_map") for i in range(3)]
    with IntegrationDatabase(database_url=platform.url).connection() as conn:
        execution = _execution(platform, conn, _run_id())

        def work(c: psycopg.Connection[Any]) -> None:
            attempts.append(1)
            insert_dead_letters(c, organization_id=platform.org, execution_id=execution, config_id=platform.config,
                                pipeline_id=None, failures=failures)
            if len(attempts) == 1:
                c.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        retrying(conn, work)
    assert len(attempts) == 2
    assert platform.count("SELECT count(*) FROM integration_dead_letters WHERE execution_id = %s", execution) == 3


def test_dead_letter_ids_tell_files_and_repeats_apart(platform: Platform) -> None:
    """Line 3 of two files, and two failures of one record, are three letters, once each."""
    failures = [
        FailedRecord(2, {"text": "x"}, "bad", {"file": "a.ndjson", "line": 3}, step="source"),
        FailedRecord(2, {"text": "y"}, "bad", {"file": "b.ndjson", "line": 3}, step="source"),
        FailedRecord(7, {"id": 7}, "first problem", step="step_map"),
        FailedRecord(7, {"id": 7}, "second problem", step="step_map"),
    ]
    with IntegrationDatabase(database_url=platform.url).connection() as conn:
        execution = _execution(platform, conn, _run_id())
        for _ in range(2):  # the second call is a retry after a lost commit
            insert_dead_letters(conn, organization_id=platform.org, execution_id=execution, config_id=platform.config,
                                pipeline_id=None, failures=failures)
    assert platform.count("SELECT count(*) FROM integration_dead_letters WHERE execution_id = %s", execution) == 4


def test_lease_claim_is_retried_whole_on_a_killed_connection(platform: Platform) -> None:
    """The claim (advisory lock, holder check, own row) is one transaction: when its connection
    is killed the whole claim runs again on a fresh one, and the run holds the lease once."""
    run_id = _run_id()
    row = {"run_id": run_id, "job_name": "outage_job", "organization_id": platform.org,
           "config_id": platform.config, "pipeline_id": None, "tags": {TAG_SERIAL: run_id}}
    with IntegrationDatabase(database_url=platform.url).connection() as conn:
        pid = conn.info.backend_pid
        with connect(platform.url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        holder = retrying(conn, lambda c: serial.claim_lease(c, run_id, lambda *_: True, row))
        assert conn.broken  # the first attempt met the killed connection
    assert holder is None
    assert platform.count("SELECT count(*) FROM integration_executions WHERE dagster_run_id = %s "
                          "AND status = 'running'", run_id) == 1


def test_data_error_is_not_retried(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRY_ENV, "60")
    run_id = _run_id()
    with IntegrationDatabase(database_url=platform.url).connection() as conn:
        _execution(platform, conn, run_id)
        started = time.monotonic()
        with pytest.raises(psycopg.errors.CheckViolation):
            finish_execution(conn, run_id=run_id, organization_id=platform.org, status="succeeded", records_in=-1)
        assert time.monotonic() - started < 1.0
    assert platform.count("SELECT count(*) FROM integration_executions WHERE dagster_run_id = %s "
                          "AND status = 'running'", run_id) == 1


@pytest.mark.parametrize(("seconds", "low", "high"), [("0", 0.0, 0.5), ("1.5", 1.0, 3.0)])
def test_bound_read_from_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch, seconds: str, low: float, high: float
) -> None:
    monkeypatch.setenv(RETRY_ENV, seconds)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailableError):
        connect_retrying(DEAD_URL)
    assert low <= time.monotonic() - started < high


def test_a_connection_not_opened_for_retry_runs_once(platform: Platform) -> None:
    calls: list[int] = []
    with connect(platform.url, autocommit=True) as conn:

        def work(c: psycopg.Connection[Any]) -> None:
            calls.append(1)
            raise psycopg.OperationalError("simulated")

        with pytest.raises(psycopg.OperationalError):
            retrying(conn, work)
    assert calls == [1]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.SerializationFailure("could not serialize"), True),
        (DatabaseUnavailableError("db", "connection refused"), True),
        (DatabaseUnavailableError("db", 'password authentication failed for user "x"'), False),
        (psycopg.errors.CheckViolation("valid_execution_records"), False),
        (psycopg.errors.ForeignKeyViolation("fkey"), False),
        (psycopg.errors.InsufficientPrivilege("denied"), False),
        (ValueError("not a database error"), False),
    ],
)
def test_what_is_transient(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_jittered_capped_and_within_the_deadline(attempt: int) -> None:
    ceiling = min(5.0, 0.2 * 2**attempt)
    delays = [backoff_delay(attempt, 100.0) for _ in range(50)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert backoff_delay(attempt, 0.05) <= 0.05


def test_heartbeat_survives_an_unreachable_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serial, "HEARTBEAT_SECONDS", 0.05)
    stop = threading.Event()
    beat = threading.Thread(target=serial._heartbeat,
                            args=(IntegrationDatabase(database_url=DEAD_URL), str(uuid.uuid4()), "run", stop))
    beat.start()
    time.sleep(0.5)  # several failed beats
    assert beat.is_alive()
    stop.set()
    beat.join(timeout=5)
    assert not beat.is_alive()
