"""One run per integration, also for runs that bypass the run queue (ARCHITECTURE.md §10.6).

Queued runs carry ``integration/serial`` (a job tag, see ``translator.serial_value``) and
Dagster's tag concurrency limit keeps them apart. ``dagster job execute`` and in-process
execution skip the queue, so every run also claims a *lease* before any op reads: its own
``integration_executions`` row, ``running``, with the serial tag. The claim runs in one
transaction under a transaction-level advisory lock on the serial value, so two runs can
never both see "no holder" and both insert. A holder is another ``running`` row with the
same serial value whose run is alive: Dagster does not know it as finished, and its row's
``updated_at`` (touched every :func:`heartbeat_seconds` by the process that holds the
job resource) is younger than :func:`lease_ttl`. Both are read from the environment
(:data:`HEARTBEAT_ENV`, :data:`LEASE_TTL_ENV`) at every use, never at import. The lease
ends with the row: whatever makes it final (the sink, an op's final error, the
reconciliation sensor) releases it; the sensor also finishes a run whose row has not
been touched for the TTL (its worker is dead, ``factory/sensors.py``).

The claim happens when the job resource is initialised: once per run under the in-process
executor, once per step process under the multiprocess one, so a later step of a run that
lost its lease is refused as well. A run finding a live holder waits up to the run tag
``integration/serial_wait_seconds`` (default 0), then fails with a message naming the
holder; its own execution row is written ``failed`` with that message.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.db.retry import retrying
from integration_orchestrator.errors import DatabaseUnavailableError
from integration_orchestrator.factory.failures import IntegrationRunFailure
from integration_orchestrator.factory.integration_job import IntegrationJob, lineage
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.writeback import ensure_execution, finish_execution
from integration_orchestrator.model.tags import TAG_SERIAL, TAG_SERIAL_WAIT

__all__ = [
    "HEARTBEAT_ENV",
    "HEARTBEAT_SECONDS",
    "LEASE_TTL",
    "LEASE_TTL_ENV",
    "RunRefused",
    "claim_lease",
    "heartbeat",
    "heartbeat_seconds",
    "lease_ttl",
    "lineage",
    "run_guard",
]

#: default: a holder whose row was not touched for this long is taken as dead (its worker died)
LEASE_TTL = dt.timedelta(minutes=10)
#: default: how often a process holding the job resource touches its run's row
HEARTBEAT_SECONDS = 30.0
#: environment variables overriding them (seconds), read at every use
LEASE_TTL_ENV = "INTEGRATION_ORCHESTRATOR_LEASE_TTL_SECONDS"
HEARTBEAT_ENV = "INTEGRATION_ORCHESTRATOR_HEARTBEAT_SECONDS"
_POLL_SECONDS = 1.0
_log = logging.getLogger(__name__)


def _seconds(env: str, default: float) -> float:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value > 0:
        return value
    _log.warning("%s=%r is not a positive number of seconds; using %s", env, raw, default)
    return default


def lease_ttl() -> dt.timedelta:
    """How long a row may go without a heartbeat before its run is taken as dead
    (:data:`LEASE_TTL_ENV`, default :data:`LEASE_TTL`)."""
    return dt.timedelta(seconds=_seconds(LEASE_TTL_ENV, LEASE_TTL.total_seconds()))


def heartbeat_seconds() -> float:
    """The interval of the lease heartbeat (:data:`HEARTBEAT_ENV`, default :data:`HEARTBEAT_SECONDS`)."""
    return _seconds(HEARTBEAT_ENV, HEARTBEAT_SECONDS)

#: (holder run id, its row is fresh) → is the holder alive?
Alive = Callable[[str, bool], bool]


class RunRefused(IntegrationRunFailure):
    """Another run of the same integration holds the lease."""


def claim_lease(
    conn: psycopg.Connection[Any], serial: str, alive: Alive, row: Mapping[str, Any]
) -> str | None:
    """Claim ``serial`` for ``row["run_id"]`` (ensuring its execution row); the live holder's
    run id instead when another run holds it. A run whose row is already final has ended
    (Dagster initialises resources again after the last step, a step may start after a
    failure): nothing to claim, and it must not be refused either."""
    organization_id = row["organization_id"]
    with tenant_transaction(conn, organization_id):
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{TAG_SERIAL}={serial}",))
        own = conn.execute("SELECT status FROM integration_executions WHERE dagster_run_id = %s",
                           (row["run_id"],)).fetchone()
        if own is not None and own["status"] != "running":
            return None
        others = conn.execute(
            """
            SELECT dagster_run_id, updated_at > now() - %s AS fresh
            FROM integration_executions
            WHERE status = 'running' AND tags ->> %s = %s AND dagster_run_id <> %s
            ORDER BY created_at
            """,
            (lease_ttl(), TAG_SERIAL, serial, row["run_id"]),
        ).fetchall()
        for other in others:
            if alive(str(other["dagster_run_id"]), bool(other["fresh"])):
                return str(other["dagster_run_id"])
        ensure_execution(conn, **row)
        _touch(conn, row["run_id"])
    return None


def _touch(conn: psycopg.Connection[Any], run_id: str) -> None:
    conn.execute(
        "UPDATE integration_executions SET updated_at = now() WHERE dagster_run_id = %s AND status = 'running'",
        (run_id,),
    )


def _beat(conn: psycopg.Connection[Any], run_id: str) -> None:
    """The heartbeat: also on a final row, so the reconciler can tell a live worker from a dead
    one whose Dagster run is still open (``factory/dead_runs.py``)."""
    conn.execute("UPDATE integration_executions SET updated_at = now() WHERE dagster_run_id = %s", (run_id,))


def _instance_alive(instance: dg.DagsterInstance | None) -> Alive:
    """Alive: a fresh row whose run this instance does not know as finished (unknown: the row decides)."""

    def alive(run_id: str, fresh: bool) -> bool:
        if not fresh:
            return False
        run = instance.get_run_by_id(run_id) if instance is not None else None
        return run is None or not run.is_finished

    return alive


def _refuse(conn: psycopg.Connection[Any], job: IntegrationJob, row: Mapping[str, Any], serial: str,
            holder: str, waited: float) -> RunRefused:
    message = (
        f"Refused: run {holder} of integration {job.record.config.integration_name!r} is still running "
        f"({TAG_SERIAL}={serial}; waited {waited:.0f}s). One run per integration at a time: launch through the "
        f"run queue (UI, `dagster job launch`) to queue behind it, or set the run tag {TAG_SERIAL_WAIT} to wait."
    )

    def write(conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():  # the refused run's row is never seen `running`
            ensure_execution(conn, **row)
            finish_execution(conn, run_id=row["run_id"], organization_id=row["organization_id"], status="failed",
                             error_message=message)

    retrying(conn, write, what=f"refusing run {row['run_id']}")
    return RunRefused(message, metadata={"holder_run_id": holder, TAG_SERIAL: serial})


def _wait_seconds(tags: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(tags.get(TAG_SERIAL_WAIT) or 0))
    except ValueError:
        return 0.0


def _acquire(conn: psycopg.Connection[Any], job: IntegrationJob, run: dg.DagsterRun,
             instance: dg.DagsterInstance | None) -> None:
    row = job.execution_row(run)
    serial = run.tags.get(TAG_SERIAL)
    if not serial:  # concurrent execution allowed: only the execution row
        ensure_execution(conn, **row)
        return
    alive, started, wait = _instance_alive(instance), time.monotonic(), _wait_seconds(run.tags)
    key: str = serial

    def claim(conn: psycopg.Connection[Any]) -> str | None:  # one transaction: retried whole
        return claim_lease(conn, key, alive, row)

    while (holder := retrying(conn, claim, what=f"lease of run {run.run_id}")) is not None:
        waited = time.monotonic() - started
        if waited >= wait:
            raise _refuse(conn, job, row, serial, holder, waited)
        time.sleep(min(_POLL_SECONDS, wait - waited))


def _heartbeat(db: IntegrationDatabase, organization_id: str, run_id: str, stop: threading.Event) -> None:
    """Touch the row every beat; the beats are the retry (one attempt each, the TTL is many
    beats), so an outage neither blocks nor ends the thread, and a process that lived
    through it touches its row again within one beat of the database's return."""
    while not stop.wait(heartbeat_seconds()):
        try:
            with db.connection(retry=False) as conn, tenant_transaction(conn, organization_id):
                _beat(conn, run_id)
        except (psycopg.Error, DatabaseUnavailableError):  # a blip: the next beat tries again
            continue


@contextmanager
def run_guard(job: IntegrationJob, db: IntegrationDatabase, run: dg.DagsterRun | None,
              instance: dg.DagsterInstance | None) -> Iterator[None]:
    """While held (the job resource's lifetime): the run has its execution row and, for a
    serial integration, the lease, kept fresh by a heartbeat thread. Raises :class:`RunRefused`."""
    if run is None:  # the resource built outside a run (tests, tools)
        yield
        return
    with db.connection() as conn:
        _acquire(conn, job, run, instance)
    with heartbeat(db, job.record.config.organization_id, run.run_id):
        yield


@contextmanager
def heartbeat(db: IntegrationDatabase, organization_id: str, run_id: str) -> Iterator[None]:
    """While held, a thread touches the row of ``run_id`` every :func:`heartbeat_seconds`
    (the lease stays fresh; also a dead-letter replay's)."""
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(db, organization_id, run_id, stop),
                            name=f"integration-lease-{run_id[:16]}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(timeout=5)
