"""Runs whose worker died: found by their silent heartbeat, finished in Dagster and in the row.

Every process holding a run's job resource touches the run's ``integration_executions``
row every :func:`serial.heartbeat_seconds` (``factory/serial.py``), also after the row
is final. A row that has not been touched for :func:`serial.lease_ttl` belongs to a run
with no live worker: ``dagster job execute`` killed, a step process killed, or a worker
that died in an outage before it could write its final events. Run monitoring only
watches runs started by a run launcher; the reconciliation sensor (``factory/sensors.py``)
uses this module to finish the others, within TTL + the sensor interval:

- a ``running`` row: after the load ledgers have had their say (a committed load is
  ``succeeded``), the Dagster run is reported failed and then the row is finished
  ``failed``, both with :data:`STOPPED_MESSAGE` — Dagster first, so a crash between the
  two leaves an open row the next tick finishes from Dagster's status;
- a final row (the sink or the ledger finished it) whose Dagster run is still open: the
  run gets the final event matching the row (success, failure, cancellation).

A worker alive through a long outage is not taken as dead: its heartbeat thread makes one
attempt per beat, so it touches the row again within one beat of the database's return,
and no row is judged stale until the platform database has been up for
:func:`grace` (two beats and a margin). Limit: a worker cut off from a database that
stays up for longer than the TTL is taken as dead; its later writes find its row final
and change nothing, and a load it then commits is settled from the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from typing import Any

import dagster as dg
import psycopg
from dagster._core.events import DagsterEvent, DagsterEventType

from integration_orchestrator.factory.serial import heartbeat_seconds, lease_ttl

__all__ = [
    "STOPPED_MESSAGE",
    "fail_stopped_run",
    "finish_open_dagster_runs",
    "grace",
    "stale_running",
    "stopped_message",
]

STOPPED_MESSAGE = ("the run's worker stopped heart-beating for {ttl:.0f}s (killed, or it died in an outage); "
                   "finished by the reconciler")
_OPEN = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
_EVENT = {
    "succeeded": DagsterEventType.RUN_SUCCESS,
    "failed": DagsterEventType.RUN_FAILURE,
    "cancelled": DagsterEventType.RUN_CANCELED,
}
Log = Callable[[str], None]


def grace() -> dt.timedelta:
    """How long the platform database must have been up before a silent row counts as stale."""
    return dt.timedelta(seconds=2 * heartbeat_seconds() + 5)


def stale_running(conn: psycopg.Connection[Any]) -> set[str]:
    """Run ids of ``running`` rows untouched for the lease TTL (owner role)."""
    rows = conn.execute(
        """
        SELECT dagster_run_id FROM integration_executions
        WHERE status = 'running' AND dagster_run_id IS NOT NULL AND updated_at < now() - %s
          AND now() - pg_postmaster_start_time() > %s
        """,
        (lease_ttl(), grace()),
    ).fetchall()
    return {str(r["dagster_run_id"]) for r in rows}


def stopped_message() -> str:
    return STOPPED_MESSAGE.format(ttl=lease_ttl().total_seconds())


def fail_stopped_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> None:
    """Report ``run`` failed in Dagster (its worker is dead); the caller then finishes the row."""
    instance.report_run_failed(run, stopped_message())


def finish_open_dagster_runs(instance: dg.DagsterInstance, conn: psycopg.Connection[Any],
                             also: Collection[str] = (), log: Log = lambda _: None, limit: int = 500) -> list[str]:
    """Give the matching final event to every open Dagster run whose row is final and silent for
    the TTL (or in ``also``: rows the caller just finished that were silent before); the run ids."""
    rows = conn.execute(
        """
        SELECT dagster_run_id, status, records_out FROM integration_executions
        WHERE status IN ('succeeded', 'failed', 'cancelled') AND dagster_run_id IS NOT NULL
          AND finished_at > now() - interval '1 day'
          AND (updated_at < now() - %s OR dagster_run_id = ANY(%s))
          AND now() - pg_postmaster_start_time() > %s
        ORDER BY finished_at LIMIT %s
        """,
        (lease_ttl(), list(also), grace(), limit),
    ).fetchall()
    statuses = {str(r["dagster_run_id"]): r for r in rows}
    if not statuses:
        return []
    open_runs = instance.get_runs(dg.RunsFilter(run_ids=list(statuses), statuses=_OPEN))
    finished = []
    for run in open_runs:
        row = statuses[run.run_id]
        message = (f"the run's worker stopped heart-beating after its execution row became {row['status']} "
                   f"({row['records_out']} records out); finished by the reconciler")
        event = DagsterEvent(event_type_value=_EVENT[row["status"]].value, job_name=run.job_name, message=message)
        instance.report_dagster_event(event, run_id=run.run_id)
        log(f"Dagster run {run.run_id} finished as {row['status']}: {message}")
        finished.append(run.run_id)
    return finished
