"""Next run times of a schedule, computed by the database.

The SQL function ``schedule_next_run`` (``sql/0006_schedule_times.sql``) evaluates cron,
fixed_time and interval schedules in the schedule's IANA timezone, exactly as Dagster's
scheduler fires them (DST included), within ``start_date``..``end_date``. This module asks
it for the next ``n`` run times without touching any row, for ``schedules preview``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from integration_orchestrator.errors import RowError

__all__ = ["SCHEDULE_PARAMETERS", "next_run_times"]

# Columns of integration_schedules that decide when a schedule runs (missing keys = NULL).
SCHEDULE_PARAMETERS = (
    "schedule_type",
    "cron_expression",
    "interval_minutes",
    "fixed_times",
    "timezone",
    "start_date",
    "end_date",
    "last_run_time",
    "created_at",
)

_QUERY = """
WITH RECURSIVE ticks(k, t) AS (
    SELECT 1, schedule_next_run(%(schedule_type)s::schedule_type, %(cron_expression)s::text,
                                %(interval_minutes)s::integer, %(fixed_times)s::time[], %(timezone)s::text,
                                %(start_date)s::date, %(end_date)s::date, %(last_run_time)s::timestamptz,
                                %(after)s::timestamptz, %(created_at)s::timestamptz, %(schedule_name)s::text)
    UNION ALL
    SELECT k + 1, schedule_next_run(%(schedule_type)s::schedule_type, %(cron_expression)s::text,
                                    %(interval_minutes)s::integer, %(fixed_times)s::time[], %(timezone)s::text,
                                    %(start_date)s::date, %(end_date)s::date, %(last_run_time)s::timestamptz,
                                    t, %(created_at)s::timestamptz, %(schedule_name)s::text)
      FROM ticks
     WHERE t IS NOT NULL AND k < %(n)s
)
SELECT t FROM ticks WHERE t IS NOT NULL ORDER BY k
"""


def _parameters(schedule: Mapping[str, Any], after: dt.datetime, n: int) -> dict[str, Any]:
    params = {name: schedule.get(name) for name in SCHEDULE_PARAMETERS}
    if params["timezone"] is None:
        params["timezone"] = "UTC"
    if params["fixed_times"] is not None:
        params["fixed_times"] = list(params["fixed_times"])
    params["schedule_name"] = schedule.get("schedule_name")
    params["after"] = after
    params["n"] = n
    return params


def next_run_times(
    conn: psycopg.Connection[Any],
    schedule: Mapping[str, Any],
    after: dt.datetime,
    n: int,
) -> list[dt.datetime]:
    """The next ``n`` run times strictly after ``after`` (aware, in the schedule's timezone).

    ``schedule`` is an integration_schedules row (a dict row) or any mapping with the keys
    of :data:`SCHEDULE_PARAMETERS` (``schedule_name`` and ``id`` are used in errors). Fewer
    than ``n`` times come back when the schedule ends (``end_date``); none for
    event_based/manual schedules. ``after`` must be timezone-aware. An invalid cron
    expression, timezone or interval raises :class:`RowError` naming the field; the
    connection's transaction is left usable (the query runs in a savepoint).
    """
    if after.tzinfo is None:
        raise ValueError("`after` must be a timezone-aware datetime")
    if n <= 0:
        return []
    params = _parameters(schedule, after, n)
    try:
        with conn.transaction():
            rows = conn.execute(_QUERY, params).fetchall()
    except psycopg.errors.InvalidParameterValue as error:
        raise RowError(
            "schedule",
            schedule.get("schedule_name"),
            error.diag.message_primary or str(error),
            row_id=schedule.get("id"),
            field=error.diag.column_name,
        ) from error
    zone = ZoneInfo(params["timezone"])
    return [_value(row).astimezone(zone) for row in rows]


def _value(row: Any) -> dt.datetime:
    value = row["t"] if isinstance(row, Mapping) else row[0]
    assert isinstance(value, dt.datetime)
    return value
