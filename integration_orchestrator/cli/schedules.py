"""``schedules preview ID [-n N] [--after TIME] [--json]``: when a schedule will run.

The times come from :mod:`integration_orchestrator.schedules.preview`, shown in the
row's timezone and in UTC, DST transitions marked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import uuid

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import RowError
from integration_orchestrator.schedules.cron import trigger_for
from integration_orchestrator.schedules.preview import find_schedule, preview_lines
from integration_orchestrator.schedules.runs import run_tags_for
from integration_orchestrator.tenancy import require_visible

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("schedules", help="integration schedules")
    commands = group.add_subparsers(dest="schedules_command", metavar="ACTION", required=True)
    preview = commands.add_parser("preview", help="the next run times of a schedule (timezone, UTC, DST)")
    preview.add_argument("schedule_id", metavar="ID", help="integration_schedules.id")
    preview.add_argument("-n", type=int, default=10, help="how many run times (default 10)")
    preview.add_argument("--after", default=None, help="ISO-8601 instant to start from (default: now)")
    preview.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_organization_option(preview)
    preview.set_defaults(handler=_preview)


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
    with connect(resolve_database_url(args.database_url)) as conn:
        organization = scope(conn, args)
        require_visible(conn, organization, "integration_schedules", [schedule_id], "schedule")
        record = find_schedule(conn, schedule_id, organization)
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
        return EXIT_OK
    print(f"Schedule `{record.schedule_name}` ({record.id}): {record.schedule_type}, timezone {record.timezone}"
          + ("" if record.is_active else " [inactive: Dagster schedule stopped]"))
    if trigger is None:
        how = "once per matching event" if record.schedule_type == "event_based" else "only when launched by hand"
        print(f"No run times: a {record.schedule_type} schedule runs {how}.")
        if record.schedule_type == "manual":
            tags = json.dumps(run_tags_for(record), sort_keys=True)
            print(
                f"Launch it from the UI or `dagster job launch ... --tags '{tags}'` (the row's parameters and limits)."
            )
        return EXIT_OK
    crons = trigger.dagster_cron if isinstance(trigger.dagster_cron, list) else [trigger.dagster_cron]
    print(
        f"Dagster cron: {' | '.join(crons)} ({trigger.execution_timezone})"
        + (
            ""
            if trigger.interval is None or trigger.anchor is None
            else f"; runs every {record.interval_minutes} min from {trigger.anchor.isoformat()}"
        )
    )
    print(f"{'#':>3}  {'local (' + record.timezone + ')':<27}  {'UTC':<25}")
    for index, line in enumerate(lines, 1):
        print(f"{index:>3}  {line['local']:<27}  {line['utc']:<25}" + (f"  {line['dst']}" if line["dst"] else ""))
    if len(lines) < args.n:
        print(f"(no more runs: end_date {record.end_date})")
    return EXIT_OK
