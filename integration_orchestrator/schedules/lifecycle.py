"""The ``integration_schedule_writeback`` sensor: schedule-execution rows follow their runs.

Dagster launches a run some time after the tick that requested it and the run ends
later still, so the tick alone cannot fill ``actual_start_time``, ``execution_id`` or the
final status. This sensor reads the Dagster instance's runs updated since its cursor
and, for runs tagged ``integration/schedule_execution_id``, moves
the row to ``running`` (and the schedule's ``last_run_time`` to the tick) and then to
``completed`` / ``failed`` / ``cancelled`` with the counts from ``integration_executions``.
Event runs get ``consumed_by_run_id`` on their event. Every failed run of an integration
(``integration/config_id``), whatever launched it -- schedule, sensor, ``dagster job
launch`` or the UI, a re-execution -- produces the notification rows of its schedule's
recipients, else of its integration's (:mod:`.notify`), with the launch path. Every step
is idempotent, so re-reading a run is harmless.

The cursor is the newest update timestamp seen plus the (run, status) pairs already synced
within the last second before it: run storage keeps update times to the second, so each
pass re-reads that second (a run updated later in the same second is not missed) but syncs
only what it has not synced yet. A finished run is synced once, not on every evaluation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import dagster as dg
import orjson
from dagster._core.storage.dagster_run import RunRecord, RunsFilter

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.model.tags import (
    TAG_CONFIG_ID,
    TAG_EVENT_ID,
    TAG_ORGANIZATION_ID,
    TAG_SCHEDULE_EXECUTION_ID,
    TAG_SCHEDULE_ID,
)
from integration_orchestrator.schedules.notify import (
    Notifier,
    launch_path,
    load_notifiers,
    notify_run_failure,
)
from integration_orchestrator.schedules.writeback import (
    Connection,
    cached_connection,
    execution_counts,
    mark_finished,
    mark_started,
)

__all__ = ["WATCHED_STATUSES", "WRITEBACK_SENSOR_NAME", "evaluate_writeback", "sync_run", "writeback_sensor"]

WRITEBACK_SENSOR_NAME = "integration_schedule_writeback"
WATCHED_STATUSES = (
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
)
_FINAL = {
    dg.DagsterRunStatus.SUCCESS: "completed",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "cancelled",
}
BATCH = 500


def writeback_sensor(
    *,
    database_url: str | None,
    records: Sequence[ScheduleRecord] = (),
    notifiers: Callable[[], Sequence[Notifier]] = load_notifiers,
) -> dg.SensorDefinition:
    by_id = {r.id: r for r in records}

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        with cached_connection(database_url) as conn:
            return evaluate_writeback(context.instance, conn, by_id, context.cursor, notifiers)

    return dg.SensorDefinition(
        name=WRITEBACK_SENSOR_NAME,
        evaluation_fn=evaluate,
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Writes run start/end, status and counts back to integration_schedule_executions",
    )


def _parse_cursor(cursor: str | None) -> tuple[float | None, dict[str, float]]:
    if not cursor:
        return None, {}
    data = orjson.loads(cursor)
    return float(data["after"]), {str(k): float(v) for k, v in (data.get("seen") or {}).items()}


def evaluate_writeback(
    instance: dg.DagsterInstance,
    conn: Connection,
    records: Mapping[str, ScheduleRecord],
    cursor: str | None,
    notifiers: Callable[[], Sequence[Notifier]] = load_notifiers,
) -> dg.SensorResult:
    """One pass over the runs updated since ``cursor`` (see the module docstring)."""
    after, seen = _parse_cursor(cursor)
    run_records = instance.get_run_records(
        filters=RunsFilter(
            statuses=list(WATCHED_STATUSES),
            # update times are kept to the second: re-read the cursor's second, skip what was synced
            updated_after=None if after is None else dt.datetime.fromtimestamp(after - 1, dt.UTC),
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=BATCH,
    )
    loaded: list[Sequence[Notifier]] = []

    def get_notifiers() -> Sequence[Notifier]:
        if not loaded:
            loaded.append(notifiers())
        return loaded[0]

    synced = 0
    for run_record in run_records:
        run = run_record.dagster_run
        key, stamp = f"{run.run_id}:{run.status.value}", run_record.update_timestamp.timestamp()
        if key in seen:
            continue
        if TAG_SCHEDULE_ID in run.tags or TAG_CONFIG_ID in run.tags:
            sync_run(conn, run_record, records, get_notifiers)
            synced += 1
        seen[key] = stamp
        after = stamp if after is None else max(after, stamp)
    if after is not None:
        seen = {k: v for k, v in seen.items() if v >= after - 1}
    new_cursor = None if after is None else orjson.dumps({"after": after, "seen": seen}).decode()
    if not synced:
        return dg.SensorResult(skip_reason="no integration runs changed", cursor=new_cursor)
    return dg.SensorResult(skip_reason=f"synced {synced} run(s)", cursor=new_cursor)


def _timestamp(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def sync_run(
    conn: Connection,
    run_record: RunRecord,
    records: Mapping[str, ScheduleRecord],
    notifiers: Callable[[], Sequence[Notifier]],
) -> None:
    """Bring the rows of one run up to date with its Dagster status."""
    run = run_record.dagster_run
    tags = run.tags
    organization_id = tags.get(TAG_ORGANIZATION_ID)
    if not organization_id:
        return
    started = _timestamp(run_record.start_time) or run_record.create_timestamp
    row_id = tags.get(TAG_SCHEDULE_EXECUTION_ID)
    if row_id:
        mark_started(conn, organization_id, row_id, run_id=run.run_id, started_at=started)
    event_id = tags.get(TAG_EVENT_ID)
    if event_id:
        with tenant_transaction(conn, organization_id):
            conn.execute(
                "UPDATE integration_events SET consumed_by_run_id = %s WHERE id = %s AND consumed_by_run_id IS NULL",
                (run.run_id, event_id),
            )
    final = _FINAL.get(run.status)
    if final is None:
        return
    ended = _timestamp(run_record.end_time) or run_record.update_timestamp
    if row_id:
        mark_finished(
            conn, organization_id, row_id, status=final, run_id=run.run_id, started_at=started, ended_at=ended
        )
    if final == "failed":
        _notify(conn, run, organization_id, records, notifiers)


def _notify(
    conn: Connection,
    run: dg.DagsterRun,
    organization_id: str,
    records: Mapping[str, ScheduleRecord],
    notifiers: Callable[[], Sequence[Notifier]],
) -> None:
    """Notify a failed run's recipients: its schedule's, else its integration's (every launch path)."""
    tags = run.tags
    schedule = records.get(tags.get(TAG_SCHEDULE_ID, ""))
    config_id = tags.get(TAG_CONFIG_ID) or (schedule.config_id if schedule else None)
    if schedule is not None:
        recipients = [schedule]
    elif TAG_SCHEDULE_ID in tags or config_id is None:
        return  # a schedule this location no longer loads
    else:
        recipients = [r for r in records.values() if r.config_id == config_id]
    if not any(r.notification_on_failure and r.notification_recipients for r in recipients):
        return
    counts = execution_counts(conn, organization_id, run.run_id)
    notify_run_failure(
        conn, recipients, organization_id=organization_id, config_id=str(config_id), run_id=run.run_id,
        job_name=run.job_name, status="failed", error=counts.error_message or "the run failed",
        notifiers=notifiers(), execution_id=counts.execution_id, path=launch_path(tags), run_schedule=schedule,
    )
