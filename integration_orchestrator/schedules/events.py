"""Event-based schedules: sensors over ``integration_events``, and "B after A succeeds".

**Event sensor** (one per event_based row, slug + ``_sensor``). Each evaluation reads the
integration's events that are ``pending`` or newer than the cursor ((created_at, id) of
the last event handed out), launches one run per event with run key = the event id,
marks the events ``consumed`` and moves the cursor. Exactly once, across daemon
restarts: Dagster refuses a second run with the same run key from the same sensor, so a
re-evaluation after a crash (events already marked, cursor not yet stored) re-requests
them harmlessly; events committed late with an older ``created_at`` are still
``pending`` and are picked up. ``execution_parameters.event_types`` (a list) filters by
event type; a pending event of a type that no event schedule of the integration accepts is
marked ``skipped`` with the reason in ``error_message`` (a schedule without the filter
accepts every type). The payload goes into the run as JSON in the tag
``integration/event_payload`` (ops: ``context.run.tags``). Each event gets its
``integration_schedule_executions`` row (``scheduled``, ``scheduled_time`` = the event's
``created_at``, notes ``event <id> (<type>)``, one per event however often it is requested)
and its run the tags ``integration/schedule_execution_id`` and ``integration/scheduled_time``,
so the write-back sensor moves the row to running and to its final status as for a cron tick.

**Run-after sensor** (event_based row whose ``execution_parameters.after_config_id`` names
another integration A): launches this integration once per successful run of A (run key
``after:<A's run id>``), polling the Dagster instance's runs by tag
``integration/config_id`` with an update-time cursor; it starts from the moment it is
first evaluated (no replay of A's history).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import orjson
from dagster._core.storage.dagster_run import RunsFilter

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.model.schedule import ScheduleRecord, ScheduleRowError
from integration_orchestrator.model.tags import (
    TAG_AFTER_CONFIG_ID,
    TAG_CONFIG_ID,
    TAG_EVENT_ID,
    TAG_EVENT_PAYLOAD,
    TAG_EVENT_TYPE,
    TAG_SCHEDULE_ID,
    TAG_UPSTREAM_RUN_ID,
)
from integration_orchestrator.schedules.runs import run_tags_for
from integration_orchestrator.schedules.writeback import Connection, cached_connection

__all__ = [
    "AFTER_PARAMETER",
    "EVENT_BATCH",
    "EVENT_TYPES_PARAMETER",
    "evaluate_event_sensor",
    "evaluate_run_after_sensor",
    "event_sensor",
    "pending_events",
    "record_event_execution",
    "run_after_sensor",
    "skip_unwanted_events",
]

AFTER_PARAMETER = "after_config_id"
EVENT_TYPES_PARAMETER = "event_types"
#: at most this many events per evaluation (the rest wait for the next one)
EVENT_BATCH = 200


def _status(record: ScheduleRecord) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if record.is_active else dg.DefaultSensorStatus.STOPPED


def _event_types(record: ScheduleRecord) -> list[str] | None:
    value = record.execution_parameters.get(EVENT_TYPES_PARAMETER)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScheduleRowError(
            {"id": record.id, "schedule_name": record.schedule_name},
            f"execution_parameters.{EVENT_TYPES_PARAMETER}",
            "must be a list of event type names",
        )
    return value


def event_sensor(record: ScheduleRecord, name: str, job_name: str, *, database_url: str | None) -> dg.SensorDefinition:
    """The sensor launching ``job_name`` once per event of ``record``'s integration."""
    event_types = _event_types(record)

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        with cached_connection(database_url) as conn:
            return evaluate_event_sensor(conn, record, job_name, context.cursor, event_types=event_types)

    return dg.SensorDefinition(
        name=name,
        evaluation_fn=evaluate,
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=_status(record),
        description=f"Runs `{job_name}` once per event of schedule `{record.schedule_name}`",
        metadata={TAG_SCHEDULE_ID: record.id, TAG_CONFIG_ID: record.config_id},
    )


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if not cursor:
        return None
    data = orjson.loads(cursor)
    return dt.datetime.fromisoformat(data["created_at"]), str(data["id"])


def pending_events(
    conn: Connection,
    record: ScheduleRecord,
    cursor: tuple[dt.datetime, str] | None,
    *,
    event_types: Sequence[str] | None = None,
    limit: int = EVENT_BATCH,
) -> list[dict[str, Any]]:
    """Events of the integration that are pending or after ``cursor``, oldest first
    (in the caller's tenant transaction)."""
    clauses = ["config_id = %(config)s", "status <> 'failed'"]
    params: dict[str, Any] = {"config": record.config_id, "limit": limit}
    if cursor is None:
        clauses.append("status = 'pending'")
    else:
        clauses.append("(status = 'pending' OR (created_at, id) > (%(after)s, %(after_id)s::uuid))")
        params.update(after=cursor[0], after_id=cursor[1])
    if event_types is not None:
        clauses.append("event_type = ANY(%(types)s)")
        params["types"] = list(event_types)
    query = (
        "SELECT id, event_type, payload, created_at FROM integration_events WHERE "  # noqa: S608 - fixed clauses
        + " AND ".join(clauses)
        + " ORDER BY created_at, id LIMIT %(limit)s"
    )
    return conn.execute(query, params).fetchall()


def evaluate_event_sensor(
    conn: Connection,
    record: ScheduleRecord,
    job_name: str,
    cursor: str | None,
    *,
    event_types: Sequence[str] | None = None,
) -> dg.SensorResult:
    """One evaluation of the event sensor (see the module docstring)."""
    parsed = _parse_cursor(cursor)
    with tenant_transaction(conn, record.organization_id):
        if event_types is not None:
            skip_unwanted_events(conn, record.config_id)
        events = pending_events(conn, record, parsed, event_types=event_types)
        if events:
            conn.execute(
                "UPDATE integration_events SET status = 'consumed', consumed_at = coalesce(consumed_at, now())"
                " WHERE id = ANY(%s) AND status = 'pending'",
                ([event["id"] for event in events],),
            )
        rows = [record_event_execution(conn, record, event) for event in events]
    if not events:
        return dg.SensorResult(skip_reason=f"no pending events for integration {record.config_id}", cursor=cursor)
    requests = [_event_request(record, job_name, event, row) for event, row in zip(events, rows, strict=True)]
    last = events[-1]
    newest = (last["created_at"], str(last["id"]))
    if parsed is not None and parsed > newest:
        newest = parsed
    new_cursor = orjson.dumps({"created_at": newest[0].isoformat(), "id": newest[1]}).decode()
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)


_ACCEPTED_TYPES = """
SELECT execution_parameters -> 'event_types' AS types FROM integration_schedules
 WHERE config_id = %s AND schedule_type = 'event_based'
   AND NOT coalesce(execution_parameters, '{}') ? 'after_config_id'
"""


def skip_unwanted_events(conn: Connection, config_id: str) -> int:
    """Mark ``skipped`` (with the reason) the pending events of ``config_id`` whose type no
    event schedule of the integration accepts; how many (in the caller's tenant transaction)."""
    accepted: set[str] = set()
    for row in conn.execute(_ACCEPTED_TYPES, (config_id,)).fetchall():
        if not isinstance(row["types"], list):
            return 0  # a schedule without the filter (or a malformed one) takes every type
        accepted.update(str(t) for t in row["types"])
    suffix = f" (execution_parameters.event_types: {', '.join(sorted(accepted)) or 'none'})"
    return conn.execute(
        "UPDATE integration_events SET status = 'skipped', error_message ="
        " 'skipped: no event schedule of the integration accepts event type ' || quote_literal(event_type) || %s"
        " WHERE config_id = %s AND status = 'pending' AND NOT event_type = ANY(%s)",
        (suffix, config_id, sorted(accepted)),
    ).rowcount


_EVENT_EXECUTION = """
WITH existing AS (
    SELECT id FROM integration_schedule_executions
     WHERE schedule_id = %(schedule)s AND execution_notes = %(notes)s ORDER BY id LIMIT 1
), inserted AS (
    INSERT INTO integration_schedule_executions
        (schedule_id, scheduled_time, execution_status, execution_notes, organization_id)
    SELECT %(schedule)s, %(time)s, 'scheduled', %(notes)s, %(org)s
     WHERE NOT EXISTS (SELECT 1 FROM existing)
    RETURNING id
)
SELECT id FROM existing UNION ALL SELECT id FROM inserted
"""


def record_event_execution(conn: Connection, record: ScheduleRecord, event: Mapping[str, Any]) -> str:
    """The event's ``integration_schedule_executions`` row (inserted once per event); its id."""
    notes = f"event {event['id']} ({event['event_type']})"
    row = conn.execute(
        _EVENT_EXECUTION,
        {"schedule": record.id, "time": event["created_at"], "notes": notes, "org": record.organization_id},
    ).fetchone()
    assert row is not None
    return str(row["id"])


def _event_request(record: ScheduleRecord, job_name: str, event: Mapping[str, Any], row_id: str) -> dg.RunRequest:
    payload = event["payload"] or {}
    extra = {
        TAG_EVENT_ID: str(event["id"]),
        TAG_EVENT_TYPE: str(event["event_type"]),
        TAG_EVENT_PAYLOAD: orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode(),
    }
    return dg.RunRequest(
        run_key=str(event["id"]),
        job_name=job_name,
        tags=run_tags_for(record, event["created_at"], schedule_execution_id=row_id, extra=extra),
    )


def run_after_sensor(record: ScheduleRecord, name: str, job_name: str, upstream_config_id: str) -> dg.SensorDefinition:
    """The sensor launching ``job_name`` after each successful run of another integration."""

    def evaluate(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return evaluate_run_after_sensor(context.instance, record, job_name, upstream_config_id, context.cursor)

    return dg.SensorDefinition(
        name=name,
        evaluation_fn=evaluate,
        job_name=job_name,
        minimum_interval_seconds=30,
        default_status=_status(record),
        description=f"Runs `{job_name}` after each successful run of integration {upstream_config_id}",
        metadata={TAG_SCHEDULE_ID: record.id, TAG_AFTER_CONFIG_ID: upstream_config_id},
    )


def evaluate_run_after_sensor(
    instance: dg.DagsterInstance,
    record: ScheduleRecord,
    job_name: str,
    upstream_config_id: str,
    cursor: str | None,
    *,
    now: dt.datetime | None = None,
) -> dg.SensorResult:
    """One evaluation: a run request per upstream success updated after the cursor."""
    if not cursor:
        # run storage keeps update times to the second: start at the current second
        start = float(int((now or dt.datetime.now(dt.UTC)).timestamp()))
        return dg.SensorResult(
            skip_reason="started watching", cursor=orjson.dumps({"after": start, "seen": []}).decode()
        )
    state = orjson.loads(cursor)
    after, seen = float(state["after"]), set(state["seen"])
    records = instance.get_run_records(
        filters=RunsFilter(
            tags={TAG_CONFIG_ID: upstream_config_id},
            statuses=[dg.DagsterRunStatus.SUCCESS],
            updated_after=dt.datetime.fromtimestamp(after, dt.UTC) - dt.timedelta(microseconds=1),
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=EVENT_BATCH,
    )
    requests = []
    for run_record in records:
        run_id = run_record.dagster_run.run_id
        stamp = run_record.update_timestamp.timestamp()
        if stamp < after or (stamp == after and run_id in seen):
            continue
        if stamp > after:
            after, seen = stamp, set()
        seen.add(run_id)
        requests.append(
            dg.RunRequest(
                run_key=f"after:{run_id}",
                job_name=job_name,
                tags=run_tags_for(record, extra={TAG_UPSTREAM_RUN_ID: run_id}),
            )
        )
    new_cursor = orjson.dumps({"after": after, "seen": sorted(seen)}).decode()
    if not requests:
        return dg.SensorResult(skip_reason=f"no new successful run of {upstream_config_id}", cursor=new_cursor)
    return dg.SensorResult(run_requests=requests, cursor=new_cursor)
