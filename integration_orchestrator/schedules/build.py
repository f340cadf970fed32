"""Schedule rows → Dagster schedules and sensors (a pure function of the records).

``build_schedule_definitions(schedules, job_names_by_config_id, database_url=...)`` is
what the definitions factory calls. Per row:

* cron / fixed_time / interval → ``ScheduleDefinition`` named slug(schedule_name) +
  ``_schedule`` (cron, timezone: see :mod:`.cron`; evaluation: see :mod:`.ticks`);
* event_based → a sensor named slug(schedule_name) + ``_sensor``: over
  ``integration_events`` (:func:`.events.event_sensor`), or, when
  ``execution_parameters.after_config_id`` names another integration, a sensor launching
  this integration after each successful run of that one (:func:`.events.run_after_sensor`);
* manual → nothing: the job stays launchable from the UI/CLI.

``default_status`` follows ``is_active``. Plus one ``integration_schedule_writeback``
sensor (see :mod:`.lifecycle`) that moves the write-back rows along with their runs.
A bad row is reported (``errors`` list, and a warning in the log) and skipped; the
others are built.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.names import NameRequest, assign_unique_names
from integration_orchestrator.model.schedule import ScheduleRecord, ScheduleRowError
from integration_orchestrator.model.tags import TAG_CONFIG_ID, TAG_SCHEDULE_ID
from integration_orchestrator.schedules.cron import trigger_for
from integration_orchestrator.schedules.events import (
    AFTER_PARAMETER,
    event_sensor,
    run_after_sensor,
)
from integration_orchestrator.schedules.lifecycle import (
    WRITEBACK_SENSOR_NAME,
    writeback_sensor,
)
from integration_orchestrator.schedules.ticks import Clock, evaluate_schedule_tick

__all__ = ["build_schedule_definitions", "schedule_names", "schedule_records"]

log = logging.getLogger(__name__)
Definition = dg.ScheduleDefinition | dg.SensorDefinition


def schedule_records(
    schedules: Iterable[Any], errors: list[RowError] | None = None
) -> list[ScheduleRecord]:
    """Typed records from rows or records with a ``row`` (the factory's); bad rows → errors."""
    records = []
    for item in schedules:
        if isinstance(item, ScheduleRecord):
            records.append(item)
            continue
        row: Mapping[str, Any] = item if isinstance(item, Mapping) else item.row
        try:
            records.append(ScheduleRecord.from_row(row))
        except RowError as error:
            _report(error, errors)
    return records


def schedule_names(records: Iterable[ScheduleRecord]) -> dict[str, str]:
    """schedule id → Dagster name (``_schedule`` or ``_sensor``; collisions get the id suffix)."""
    requests: dict[str, list[NameRequest]] = {"_schedule": [], "_sensor": []}
    for record in records:
        suffix = "_sensor" if record.schedule_type == "event_based" else "_schedule"
        if record.schedule_type == "manual":
            continue
        order = (record.created_at.isoformat() if record.created_at else "", record.id)
        requests[suffix].append(NameRequest(record.id, record.schedule_name, record.id, order))
    names: dict[str, str] = {}
    for suffix, items in requests.items():
        names.update(
            {str(k): v for k, v in assign_unique_names(items, suffix=suffix, reserved=[WRITEBACK_SENSOR_NAME]).items()}
        )
    return names


def _report(error: RowError, errors: list[RowError] | None) -> None:
    log.warning("skipping schedule: %s", error)
    if errors is not None:
        errors.append(error)


def build_schedule_definitions(
    schedules: Iterable[Any],
    job_names_by_config_id: Mapping[str, str],
    *,
    database_url: str | None,
    errors: list[RowError] | None = None,
    clock: Clock | None = None,
) -> list[Definition]:
    """Dagster schedules and sensors for ``schedules`` (see the module docstring)."""
    records = schedule_records(schedules, errors)
    names = schedule_names(records)
    definitions: list[Definition] = []
    for record in records:
        if record.schedule_type == "manual":
            continue
        job_name = job_names_by_config_id.get(record.config_id)
        if job_name is None:
            _report(ScheduleRowError(_row_of(record), "config_id",
                                     f"integration {record.config_id} has no job (inactive or invalid)"), errors)
            continue
        try:
            definitions.append(
                _definition(record, names[record.id], job_name, job_names_by_config_id, database_url, clock)
            )
        except RowError as error:
            _report(error, errors)
    if definitions or any(r.notification_on_failure and r.notification_recipients for r in records):
        # also for an integration whose only schedule is manual: its failed runs notify
        definitions.append(writeback_sensor(database_url=database_url, records=records))
    return definitions


def _row_of(record: ScheduleRecord) -> dict[str, Any]:
    return {"id": record.id, "schedule_name": record.schedule_name}


def _definition(
    record: ScheduleRecord,
    name: str,
    job_name: str,
    job_names_by_config_id: Mapping[str, str],
    database_url: str | None,
    clock: Clock | None,
) -> Definition:
    if record.schedule_type == "event_based":
        after = record.execution_parameters.get(AFTER_PARAMETER)
        if after is None:
            return event_sensor(record, name, job_name, database_url=database_url)
        upstream = job_names_by_config_id.get(str(after))
        if upstream is None:
            raise ScheduleRowError(_row_of(record), f"execution_parameters.{AFTER_PARAMETER}",
                                   f"integration {after} has no job (unknown, inactive or invalid)")
        return run_after_sensor(record, name, job_name, str(after))
    trigger = trigger_for(record)
    assert trigger is not None
    status = dg.DefaultScheduleStatus.RUNNING if record.is_active else dg.DefaultScheduleStatus.STOPPED
    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=trigger.dagster_cron,
        execution_timezone=trigger.execution_timezone,
        job_name=job_name,
        execution_fn=functools.partial(
            _evaluate, record=record, trigger=trigger, job_name=job_name, database_url=database_url, clock=clock,
            schedule_name=name,
        ),
        default_status=status,
        description=_description(record),
        metadata={
            TAG_SCHEDULE_ID: record.id,
            TAG_CONFIG_ID: record.config_id,
            "schedule_type": record.schedule_type,
            "timezone": record.timezone,
            "missed_execution_policy": record.missed_execution_policy,
        },
    )


def _evaluate(context: dg.ScheduleEvaluationContext, **kwargs: Any) -> Iterator[dg.RunRequest | dg.SkipReason]:
    result = evaluate_schedule_tick(context, **kwargs)
    if isinstance(result, dg.SkipReason):
        yield result
    else:
        yield from result


def _description(record: ScheduleRecord) -> str:
    if record.schedule_type == "interval":
        what = f"every {record.interval_minutes} min (elapsed time, UTC) from the anchor"
    elif record.schedule_type == "fixed_time":
        what = "daily at " + ", ".join(t.strftime("%H:%M") for t in record.fixed_times) + f" {record.timezone}"
    else:
        what = f"cron `{record.cron_expression}` in {record.timezone}"
    bounds = ""
    if record.start_date or record.end_date:
        bounds = f"; from {record.start_date or '-'} to {record.end_date or '-'}"
    return f"Schedule `{record.schedule_name}`: {what}{bounds}; missed ticks: {record.missed_execution_policy}"
