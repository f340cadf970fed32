"""``schedules preview ID [-n N] [--after TIME] [--json]``: when a schedule will run.

The times are the instants at which the Dagster schedule built from the row launches
runs (same cron, timezone, interval lattice and start/end bounds as
:mod:`integration_orchestrator.schedules.cron`), shown in the row's timezone and in UTC.
A time whose UTC offset differs from the previous one is marked as a DST transition.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import uuid

from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import RowError
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.cron import fire_times, trigger_for
from integration_orchestrator.schedules.runs import run_tags_for

__all__ = ["PreviewLine", "preview_lines", "register"]

PreviewLine = dict[str, str | None]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("schedules", help="integration schedules")
    commands = group.add_subparsers(dest="schedules_command", metavar="ACTION", required=True)
    preview = commands.add_parser("preview", help="the next run times of a schedule (timezone, UTC, DST)")
    preview.add_argument("schedule_id", metavar="ID", help="integration_schedules.id")
    preview.add_argument("-n", type=int, default=10, help="how many run times (default 10)")
    preview.add_argument("--after", default=None, help="ISO-8601 instant to start from (default: now)")
    preview.add_argument("--json", action="store_true", help="print JSON instead of a table")
    preview.set_defaults(handler=_preview)


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


def _parse_after(text: str | None) -> dt.datetime:
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RowError("argument", "--after", f"{text!r} is not an ISO-8601 instant") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _preview(args: argparse.Namespace) -> int:
    try:
        schedule_id = str(uuid.UUID(args.schedule_id))
    except ValueError:
        raise RowError("schedule", None, f"{args.schedule_id!r} is not a schedule id (UUID)") from None
    if args.n < 1:
        raise RowError("argument", "-n", f"must be at least 1, not {args.n}")
    after = _parse_after(args.after)
    from integration_orchestrator.tenancy import per_organization

    row = None
    with connect(resolve_database_url(args.database_url)) as conn:
        for _organization in per_organization(conn):  # read as the application role (row-level security)
            row = row or conn.execute("SELECT * FROM integration_schedules WHERE id = %s", (schedule_id,)).fetchone()
    if row is None:
        raise RowError("schedule", None, "no such schedule", row_id=schedule_id)
    record = ScheduleRecord.from_row(row)
    trigger = trigger_for(record)
    lines = preview_lines(record, after, args.n)
    if args.json:
        print(json.dumps({
            "schedule_id": record.id, "schedule_name": record.schedule_name, "schedule_type": record.schedule_type,
            "timezone": record.timezone, "is_active": record.is_active,
            "dagster_cron": None if trigger is None else trigger.dagster_cron,
            "dagster_timezone": None if trigger is None else trigger.execution_timezone,
            "runs": lines,
        }, indent=2))
        return 0
    print(f"Schedule `{record.schedule_name}` ({record.id}): {record.schedule_type}, timezone {record.timezone}"
          + ("" if record.is_active else " [inactive: Dagster schedule stopped]"))
    if trigger is None:
        how = "once per matching event" if record.schedule_type == "event_based" else "only when launched by hand"
        print(f"No run times: a {record.schedule_type} schedule runs {how}.")
        if record.schedule_type == "manual":
            tags = json.dumps(run_tags_for(record), sort_keys=True)
            print(f"Launch it from the UI or `dagster job launch ... --tags '{tags}'` (the row's parameters and limits).")
        return 0
    crons = trigger.dagster_cron if isinstance(trigger.dagster_cron, list) else [trigger.dagster_cron]
    print(f"Dagster cron: {' | '.join(crons)} ({trigger.execution_timezone})"
          + ("" if trigger.interval is None else f"; runs every {record.interval_minutes} min from {trigger.anchor.isoformat()}"))
    print(f"{'#':>3}  {'local (' + record.timezone + ')':<27}  {'UTC':<25}")
    for index, line in enumerate(lines, 1):
        print(f"{index:>3}  {line['local']:<27}  {line['utc']:<25}" + (f"  {line['dst']}" if line["dst"] else ""))
    if len(lines) < args.n:
        print(f"(no more runs: end_date {record.end_date})")
    return 0
