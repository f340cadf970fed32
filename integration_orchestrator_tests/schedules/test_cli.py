"""``schedules preview``: the next run times, the same instants the Dagster schedule fires."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import dagster as dg
from dagster._utils.schedules import schedule_execution_time_iterator

from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.build import build_schedule_definitions
from integration_orchestrator_tests.rows import add_config, add_organization, add_schedule


def test_preview_marks_dst_and_shows_utc(db: Any, run_cli: Any) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    row = add_schedule(db, org, config, schedule_name="Nightly Berlin", cron_expression="30 2 * * *",
                          timezone="Europe/Berlin", end_date=dt.date(2026, 3, 31))
    result = run_cli("schedules", "preview", str(row["id"]), "-n", "5", "--after", "2026-03-27T12:00:00+00:00")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Dagster cron: 30 2 * * * (Europe/Berlin)" in lines[1]
    body = [line.split() for line in lines[3:7]]
    assert [b[1] for b in body] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert [b[2] for b in body] == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:00:00+00:00",
        "2026-03-30T00:30:00+00:00",
        "2026-03-31T00:30:00+00:00",
    ]
    assert "DST: UTC+01:00 -> UTC+02:00" in lines[4]
    assert "DST" not in lines[3] + lines[5]
    assert lines[-1] == "(no more runs: end_date 2026-03-31)"


def test_preview_equals_what_the_dagster_schedule_fires(db: Any, database_url: str, run_cli: Any) -> None:
    """Walk Dagster's own ticks of the built schedule, evaluate each, keep those that launch."""
    org = add_organization(db)
    config = add_config(db, org)
    row = add_schedule(
        db,
        org,
        config,
        schedule_name="Every 25h",
        schedule_type="interval",
        cron_expression=None,
        interval_minutes=1500,
        timezone="America/New_York",
        last_run_time=dt.datetime(2026, 11, 1, 4, 7, tzinfo=dt.UTC),
        concurrent_execution_allowed=True,
    )
    after = "2026-11-01T04:07:00+00:00"
    result = run_cli("schedules", "preview", str(row["id"]), "-n", "4", "--after", after, "--json")
    assert result.returncode == 0, result.stderr
    shown = [dt.datetime.fromisoformat(r["utc"]) for r in json.loads(result.stdout)["runs"]]
    record = ScheduleRecord.from_row(row)
    now: list[dt.datetime] = []  # the daemon evaluates each tick right at its time
    [schedule, _writeback] = build_schedule_definitions([record], {config: "job"}, database_url=database_url,
                                                        clock=lambda: now[-1])
    assert isinstance(schedule, dg.ScheduleDefinition)
    fired: list[dt.datetime] = []
    with dg.instance_for_test() as instance:
        ticks = schedule_execution_time_iterator(dt.datetime.fromisoformat(after).timestamp() + 1,
                                                 schedule.cron_schedule, schedule.execution_timezone)
        for tick in ticks:
            if tick > shown[-1]:
                break
            now.append(tick)
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
            if schedule.evaluate_tick(context).run_requests:
                fired.append(tick)
    assert [t.timestamp() for t in fired] == [t.timestamp() for t in shown]
    assert len(shown) == 4


def test_preview_event_and_manual_have_no_times(db: Any, run_cli: Any) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    row = add_schedule(db, org, config, schedule_name="By hand", schedule_type="manual", cron_expression=None,
                          execution_parameters={"full": True})
    result = run_cli("schedules", "preview", str(row["id"]))
    assert result.returncode == 0
    assert "No run times: a manual schedule runs only when launched by hand." in result.stdout
    tags = json.loads(result.stdout.split("--tags '")[1].split("'")[0])
    assert tags["integration/schedule_id"] == str(row["id"])
    assert json.loads(tags["integration/execution_parameters"]) == {"full": True}
    assert tags["dagster/max_runtime"] == "300"


def test_preview_bad_input_exit_2(db: Any, run_cli: Any) -> None:
    missing = run_cli("schedules", "preview", "00000000-0000-0000-0000-000000000000")
    assert missing.returncode == 2
    assert "In schedule (id 00000000-0000-0000-0000-000000000000): no such schedule" in missing.stderr
    garbage = run_cli("schedules", "preview", "nope")
    assert garbage.returncode == 2 and "is not a schedule id" in garbage.stderr
