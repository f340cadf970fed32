"""``integration_schedule_executions`` rows and ``last_run_time``: what a tick leaves behind.

Every write runs in a :func:`tenant_transaction` for the schedule's organization
(row-level security applies), so nothing is half-written; a tick's reads and writes
share one (:func:`tick_transaction`). :func:`record_tick` is
idempotent per (schedule, scheduled_time): re-evaluating a tick after a daemon crash
finds the row it wrote the first time instead of adding a second one.

Lifecycle of a row: ``scheduled`` (tick launched a run) → ``running`` (the run started;
``actual_start_time``, ``execution_id`` linked, the schedule's ``last_run_time`` set to the
tick) → ``completed`` / ``failed`` / ``cancelled`` (``actual_end_time`` and the counts copied
from the run's ``integration_executions`` row). A tick that launches nothing writes a
``skipped`` row with the reason in ``execution_notes``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from integration_orchestrator.db import connect, existing_database_url, tenant_transaction

__all__ = [
    "FINAL_STATUSES",
    "ExecutionCounts",
    "cached_connection",
    "execution_counts",
    "last_recorded_tick",
    "mark_finished",
    "mark_started",
    "record_tick",
    "schedule_execution_rows",
    "tick_transaction",
]

Connection = psycopg.Connection[dict[str, Any]]
FINAL_STATUSES = ("completed", "failed", "cancelled")

_local = threading.local()


@contextmanager
def cached_connection(database_url: str | None) -> Iterator[Connection]:
    """A connection kept per thread and URL (ticks are frequent; connecting is not free).

    ``None`` means the platform default (:func:`existing_database_url`), resolved on first
    use, never at import or definition time. A connection that broke is closed and
    replaced on the next call.
    """
    pool: dict[str, Connection] = getattr(_local, "connections", None) or {}
    _local.connections = pool
    database_url = existing_database_url(database_url)
    conn = pool.get(database_url)
    if conn is None or conn.closed or conn.broken:
        conn = connect(database_url)
        pool[database_url] = conn
    try:
        yield conn
    except (psycopg.OperationalError, psycopg.InterfaceError):
        pool.pop(database_url, None)
        conn.close()
        raise


def last_recorded_tick(
    conn: Connection,
    schedule_id: str,
    before: dt.datetime,
    *,
    exclude_notes: str | None = None,
) -> dt.datetime | None:
    """The latest tick recorded for the schedule strictly before ``before`` (ignoring rows
    whose notes start with ``exclude_notes``).

    Runs in the caller's tenant transaction and takes the schedule's transaction-level
    advisory lock first, so two evaluations of the same schedule never interleave.
    """
    # a statement of its own: in READ COMMITTED the next statement's snapshot is taken
    # after the lock is granted, so it sees what the previous holder committed
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"schedule-tick:{schedule_id}",))
    row = conn.execute(
        "SELECT max(scheduled_time) AS t FROM integration_schedule_executions"
        " WHERE schedule_id = %s AND scheduled_time < %s"
        " AND (%s::text IS NULL OR coalesce(execution_notes, '') NOT LIKE %s::text || '%%')",
        (schedule_id, before, exclude_notes, exclude_notes),
    ).fetchone()
    return None if row is None else row["t"]


_RECORD_TICK = """
WITH existing AS (
    SELECT id FROM integration_schedule_executions
     WHERE schedule_id = %(schedule)s AND scheduled_time = %(time)s ORDER BY id LIMIT 1
), inserted AS (
    INSERT INTO integration_schedule_executions
        (schedule_id, scheduled_time, execution_status, execution_notes, organization_id)
    SELECT %(schedule)s, %(time)s, %(status)s, %(notes)s, %(org)s
     WHERE NOT EXISTS (SELECT 1 FROM existing)
    RETURNING id
)
SELECT id FROM existing UNION ALL SELECT id FROM inserted
"""


def record_tick(
    conn: Connection,
    organization_id: str,
    schedule_id: str,
    scheduled_time: dt.datetime,
    status: str,
    notes: str | None,
) -> str:
    """Insert the row for one tick (``scheduled`` or ``skipped``) unless it exists; its id.

    Runs in the caller's tenant transaction, after :func:`last_recorded_tick` took the
    schedule's lock (one transaction per tick: see :func:`tick_transaction`).
    """
    row = conn.execute(
        _RECORD_TICK,
        {"schedule": schedule_id, "time": scheduled_time, "status": status, "notes": notes, "org": organization_id},
    ).fetchone()
    assert row is not None
    return str(row["id"])


def tick_transaction(conn: Connection, organization_id: str) -> AbstractContextManager[Connection]:
    """The one transaction of a tick: reads and writes of the schedule's organization."""
    return tenant_transaction(conn, organization_id)


def mark_started(
    conn: Connection,
    organization_id: str,
    row_id: str,
    *,
    run_id: str,
    started_at: dt.datetime,
) -> bool:
    """The run of a ``scheduled`` row started: ``running``, start time, execution link and
    the schedule's ``last_run_time`` (= the tick, so the database's ``next_run_time`` equals
    Dagster's next tick). False when the row had already moved on."""
    with tenant_transaction(conn, organization_id):
        row = conn.execute(
            "UPDATE integration_schedule_executions SET execution_status = 'running',"
            " actual_start_time = %s,"
            " execution_id = coalesce(execution_id,"
            "   (SELECT id FROM integration_executions WHERE dagster_run_id = %s))"
            " WHERE id = %s AND execution_status = 'scheduled'"
            " RETURNING schedule_id, scheduled_time",
            (started_at, run_id, row_id),
        ).fetchone()
        if row is None:
            return False
        conn.execute(
            "UPDATE integration_schedules SET last_run_time = %s"
            " WHERE id = %s AND (last_run_time IS NULL OR last_run_time < %s)",
            (row["scheduled_time"], row["schedule_id"], row["scheduled_time"]),
        )
    return True


@dataclass(frozen=True)
class ExecutionCounts:
    records_processed: int = 0
    error_count: int = 0
    warning_count: int = 0
    execution_id: str | None = None
    error_message: str | None = None


def execution_counts(conn: Connection, organization_id: str, run_id: str) -> ExecutionCounts:
    """The counts the factory wrote to ``integration_executions`` for the Dagster run."""
    with tenant_transaction(conn, organization_id):
        row = conn.execute(
            "SELECT id, records_out, records_failed, error_message, metadata"
            " FROM integration_executions WHERE dagster_run_id = %s",
            (run_id,),
        ).fetchone()
    if row is None:
        return ExecutionCounts()
    metadata = row["metadata"] or {}
    warnings = metadata.get("warning_count", metadata.get("warnings", 0)) if isinstance(metadata, dict) else 0
    return ExecutionCounts(
        records_processed=min(int(row["records_out"]), 2**31 - 1),
        error_count=min(int(row["records_failed"]), 2**31 - 1),
        warning_count=int(warnings) if isinstance(warnings, int) else 0,
        execution_id=str(row["id"]),
        error_message=row["error_message"],
    )


def mark_finished(
    conn: Connection,
    organization_id: str,
    row_id: str,
    *,
    status: str,
    run_id: str,
    started_at: dt.datetime | None,
    ended_at: dt.datetime,
    notes: str | None = None,
) -> bool:
    """Final status, end time and counts; False when the row was already final."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final schedule execution status: {status!r}")
    counts = execution_counts(conn, organization_id, run_id)
    with tenant_transaction(conn, organization_id):
        row = conn.execute(
            "UPDATE integration_schedule_executions SET execution_status = %s,"
            " actual_start_time = coalesce(actual_start_time, %s, %s),"
            " actual_end_time = greatest(%s, coalesce(actual_start_time, %s, %s)),"
            " records_processed = %s, error_count = %s, warning_count = %s,"
            " execution_id = coalesce(%s, execution_id),"
            " execution_notes = coalesce(%s, execution_notes)"
            " WHERE id = %s AND execution_status IN ('scheduled', 'running') RETURNING id",
            (
                status, started_at, ended_at, ended_at, started_at, ended_at,
                counts.records_processed, counts.error_count, counts.warning_count,
                counts.execution_id, notes, row_id,
            ),
        ).fetchone()
    return row is not None


def schedule_execution_rows(conn: Connection, schedule_id: str) -> list[dict[str, Any]]:
    """Every row of one schedule, oldest tick first (owner connection; CLI and tests)."""
    return conn.execute(
        "SELECT * FROM integration_schedule_executions WHERE schedule_id = %s ORDER BY scheduled_time, id",
        (schedule_id,),
    ).fetchall()
