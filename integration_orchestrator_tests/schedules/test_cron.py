"""When schedules fire: Dagster crons per type, DST days, start/end bounds, interval lattices.

Each expectation is what Dagster's scheduler does with the definition we build (its own
cron iterator, filtered by the evaluation's due check), and the database's
``schedule_next_run`` (sql/0006) agrees with it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from dagster._utils.schedules import schedule_execution_time_iterator

from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.cron import (
    due_times_between,
    fire_times,
    is_due,
    previous_tick,
    trigger_for,
)
from integration_orchestrator.schedules.timing import next_run_times
from integration_orchestrator_tests.rows import add_config, add_organization, add_schedule

BASE = dict(id="22222222-2222-2222-2222-222222222222", config_id="c", organization_id="o", schedule_name="S")


def record(**columns: Any) -> ScheduleRecord:
    return ScheduleRecord.from_row({**BASE, **columns})


def iso(values: Any) -> list[str]:
    return [v.isoformat() for v in values]


CASES = [
    # (name, columns, after, expected fire times)
    (
        "cron spring forward: 02:30 does not exist, fires 03:00",
        dict(schedule_type="cron", cron_expression="30 2 * * *", timezone="Europe/Berlin"),
        "2026-03-28T12:00+01:00",
        ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"],
    ),
    (
        "cron fall back: ambiguous 02:30 fires once (second occurrence)",
        dict(schedule_type="cron", cron_expression="30 2 * * *", timezone="Europe/Berlin"),
        "2026-10-24T12:00+02:00",
        ["2026-10-25T02:30:00+01:00", "2026-10-26T02:30:00+01:00"],
    ),
    (
        "hourly cron on fall-back day: 02:00 fires in both offsets",
        dict(schedule_type="cron", cron_expression="0 * * * *", timezone="Europe/Berlin"),
        "2026-10-25T00:30+02:00",
        [
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ],
    ),
    (
        "hourly cron on spring-forward day: no 02:00",
        dict(schedule_type="cron", cron_expression="0 * * * *", timezone="America/New_York"),
        "2026-03-08T00:30-05:00",
        ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"],
    ),
    (
        "fixed times in the row's timezone, across spring forward",
        dict(schedule_type="fixed_time", fixed_times=["09:30", "02:30:00", "17:45:10"], timezone="Europe/Berlin"),
        "2026-03-28T18:00+01:00",
        [
            "2026-03-29T03:00:00+02:00",
            "2026-03-29T09:30:00+02:00",
            "2026-03-29T17:45:00+02:00",
            "2026-03-30T02:30:00+02:00",
        ],
    ),
    (
        "interval 45 min is elapsed time across the DST change",
        dict(
            schedule_type="interval",
            interval_minutes=45,
            last_run_time="2026-03-29T00:15:00+00:00",
            timezone="Europe/Berlin",
        ),
        "2026-03-29T00:20+00:00",
        ["2026-03-29T01:00:00+00:00", "2026-03-29T01:45:00+00:00", "2026-03-29T02:30:00+00:00"],
    ),
    (
        "interval 90 min from start_date midnight in the row's timezone",
        dict(schedule_type="interval", interval_minutes=90, start_date="2026-06-01", timezone="Asia/Kolkata"),
        "2026-05-01T00:00+00:00",
        ["2026-05-31T18:30:00+00:00", "2026-05-31T20:00:00+00:00", "2026-05-31T21:30:00+00:00"],
    ),
    (
        "interval 1500 min (25 h) does not divide a day",
        dict(schedule_type="interval", interval_minutes=1500, last_run_time="2026-06-01T10:07:30+00:00"),
        "2026-06-01T10:07:30+00:00",
        ["2026-06-02T11:07:00+00:00", "2026-06-03T12:07:00+00:00", "2026-06-04T13:07:00+00:00"],
    ),
    (
        "start and end dates bound the ticks in the row's timezone",
        dict(
            schedule_type="cron",
            cron_expression="0 23 * * *",
            timezone="America/Los_Angeles",
            start_date="2026-06-02",
            end_date="2026-06-03",
        ),
        "2026-06-01T00:00+00:00",
        ["2026-06-02T23:00:00-07:00", "2026-06-03T23:00:00-07:00"],
    ),
]


@pytest.mark.parametrize(("name", "columns", "after", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fire_times(name: str, columns: dict[str, Any], after: str, expected: list[str]) -> None:
    schedule = record(**columns)
    got = list(itertools.islice(fire_times(schedule, dt.datetime.fromisoformat(after)), len(expected) + 1))
    assert iso(got[: len(expected)]) == expected
    if schedule.end_date:
        assert len(got) == len(expected)


@pytest.mark.parametrize(("name", "columns", "after", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fire_times_are_dagster_ticks_that_launch(
    name: str, columns: dict[str, Any], after: str, expected: list[str]
) -> None:
    """Dagster's own iterator over the cron we give it, filtered by the evaluation's check."""
    schedule = record(**columns)
    trigger = trigger_for(schedule)
    assert trigger is not None
    start = dt.datetime.fromisoformat(after)
    ticks = schedule_execution_time_iterator(start.timestamp() + 1, trigger.dagster_cron, trigger.execution_timezone)
    horizon = dt.datetime.fromisoformat(expected[-1])
    launched = [t for t in itertools.takewhile(lambda t: t <= horizon, ticks) if is_due(schedule, trigger, t)]
    assert [t.timestamp() for t in launched] == [dt.datetime.fromisoformat(e).timestamp() for e in expected]


@pytest.mark.parametrize(("name", "columns", "after", "expected"), CASES, ids=[c[0] for c in CASES])
def test_database_next_run_times_agree(
    db: Any, name: str, columns: dict[str, Any], after: str, expected: list[str]
) -> None:
    schedule = record(**columns)
    row = {**columns, "schedule_name": "S"}
    got = next_run_times(db, row, dt.datetime.fromisoformat(after), len(expected))
    assert [t.timestamp() for t in got] == [
        t.timestamp() for t in itertools.islice(fire_times(schedule, dt.datetime.fromisoformat(after)), len(expected))
    ]


def test_trigger_crons() -> None:
    assert trigger_for(record(schedule_type="cron", cron_expression="*/5  * * * 1-5")).cron_schedule == "*/5 * * * 1-5"
    fixed = trigger_for(
        record(schedule_type="fixed_time", fixed_times=["09:30", "17:30", "08:00"], timezone="Asia/Tokyo")
    )
    assert (
        fixed is not None
        and fixed.cron_schedule == ("0 8 * * *", "30 9,17 * * *")
        and fixed.execution_timezone == "Asia/Tokyo"
    )
    every15 = trigger_for(record(schedule_type="interval", interval_minutes=15, last_run_time="2026-01-01T00:05:00Z"))
    assert every15 is not None and every15.cron_schedule == "5,20,35,50 * * * *" and every15.execution_timezone == "UTC"
    every25h = trigger_for(
        record(schedule_type="interval", interval_minutes=1500, last_run_time="2026-01-01T00:07:00Z")
    )
    assert every25h is not None and every25h.cron_schedule == "7 * * * *"
    assert trigger_for(record(schedule_type="manual")) is None
    assert trigger_for(record(schedule_type="event_based")) is None


def test_due_times_between_walks_back_from_the_end() -> None:
    minutely = record(schedule_type="cron", cron_expression="* * * * *")
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    got = due_times_between(minutely, start, end, limit=3)
    assert iso(got) == ["2025-12-31T23:57:00+00:00", "2025-12-31T23:58:00+00:00", "2025-12-31T23:59:00+00:00"]


@pytest.mark.parametrize(
    ("columns", "tick", "previous", "hours"),
    [
        # a day's window across spring forward is 23 hours long, across fall back 25
        (dict(schedule_type="cron", cron_expression="0 0 * * *", timezone="Europe/Berlin"),
         "2026-03-30T00:00+02:00", "2026-03-29T00:00:00+01:00", 23),
        (dict(schedule_type="cron", cron_expression="0 0 * * *", timezone="Europe/Berlin"),
         "2026-10-26T00:00+01:00", "2026-10-25T00:00:00+02:00", 25),
        (dict(schedule_type="cron", cron_expression="0 0 * * *", timezone="UTC"),
         "2026-01-01T00:00+00:00", "2025-12-31T00:00:00+00:00", 24),
        (dict(schedule_type="fixed_time", fixed_times=["06:00", "18:00"], timezone="UTC"),
         "2026-01-01T06:00+00:00", "2025-12-31T18:00:00+00:00", 12),
        (dict(schedule_type="interval", interval_minutes=90, last_run_time="2026-01-01T00:00+00:00"),
         "2026-01-01T03:00+00:00", "2026-01-01T01:30:00+00:00", 1.5),
        (dict(schedule_type="interval", interval_minutes=90, last_run_time="2026-01-01T00:00+00:00"),
         "2026-01-01T00:00+00:00", "2025-12-31T22:30:00+00:00", 1.5),
    ],
)
def test_a_ticks_window_starts_at_the_previous_tick(columns: dict[str, Any], tick: str, previous: str,
                                                     hours: float) -> None:
    row = record(**columns)
    trigger = trigger_for(row)
    assert trigger is not None
    start = previous_tick(row, trigger, dt.datetime.fromisoformat(tick))
    assert start.isoformat() == previous
    assert (dt.datetime.fromisoformat(tick) - start) == dt.timedelta(hours=hours)


def test_trigger_inserted_row_next_run_time_is_first_fire_time(db: Any) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    row = add_schedule(db, org, config, schedule_type="interval", interval_minutes=1500,
                          last_run_time=dt.datetime(2026, 6, 1, 10, 7, tzinfo=dt.UTC))
    schedule = ScheduleRecord.from_row(row)
    # the trigger computes the next run after now() (= created_at, same transaction)
    assert row["next_run_time"] == next(fire_times(schedule, row["created_at"]))
