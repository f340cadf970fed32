"""When a schedule will run: its row, and its next run times in its timezone and UTC.

The times are the instants at which the Dagster schedule built from the row launches
runs (same cron, timezone, interval lattice and start/end bounds as
:mod:`integration_orchestrator.schedules.cron`). A time whose UTC offset differs from
the previous one is marked as a DST transition.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import psycopg

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.cron import fire_times
from integration_orchestrator.tenancy import per_organization

__all__ = ["PreviewLine", "find_schedule", "preview_lines"]

PreviewLine = dict[str, str | None]

_SCHEDULE = "SELECT * FROM integration_schedules WHERE id = %s"


def find_schedule(
    conn: psycopg.Connection[Any], schedule_id: str, organization_id: str | None = None
) -> ScheduleRecord:
    """The schedule row, read as each organization's (or ``organization_id``'s) application role.

    Raises :class:`~integration_orchestrator.errors.RowError` when no organization has it.
    """
    row = None
    for _organization in per_organization(conn, organization_id):
        row = conn.execute(_SCHEDULE, (schedule_id,)).fetchone()
        if row is not None:
            break
    if row is None:
        raise RowError("schedule", None, "no such schedule", row_id=schedule_id)
    return ScheduleRecord.from_row(row)


def _offset(delta: dt.timedelta | None) -> str:
    minutes = int((delta or dt.timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def preview_lines(record: ScheduleRecord, after: dt.datetime, n: int) -> list[PreviewLine]:
    """The next ``n`` run times: local (row timezone), UTC, and a DST mark where the offset changes."""
    lines: list[PreviewLine] = []
    previous = after.astimezone(record.tz).utcoffset()
    for instant in itertools.islice(fire_times(record, after), n):
        local = instant.astimezone(record.tz)
        offset = local.utcoffset()
        mark = None
        if offset != previous:
            mark = f"DST: {_offset(previous)} -> {_offset(offset)}"
        previous = offset
        lines.append({
            "local": local.isoformat(),
            "utc": instant.astimezone(dt.UTC).isoformat(),
            "dst": mark,
        })
    return lines
