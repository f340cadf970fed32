"""integration_orchestrator.schedules.timing: next run times from schedule_next_run."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from integration_orchestrator.db import connect
from integration_orchestrator.errors import RowError
from integration_orchestrator.schedules.timing import next_run_times
from integration_orchestrator_tests.cron_cases import dagster_ticks
from integration_orchestrator_tests.rows import add_config, add_organization, add_schedule

Conn = psycopg.Connection[dict[str, Any]]
AFTER = dt.datetime(2025, 3, 7, 12, 0, tzinfo=dt.UTC)


def test_cron_times_match_dagster_across_spring_forward(db: Conn) -> None:
    params = {"schedule_type": "cron", "cron_expression": "30 2 * * *", "timezone": "America/New_York"}
    got = next_run_times(db, params, AFTER, 5)
    assert got == dagster_ticks("30 2 * * *", "America/New_York", AFTER, 5)
    assert got[1] == dt.datetime(2025, 3, 9, 3, 0, tzinfo=ZoneInfo("America/New_York"))  # 02:30 does not exist
    assert all(t.tzinfo == ZoneInfo("America/New_York") for t in got)


def test_accepts_a_schedule_row_and_stops_at_end_date(db: Conn) -> None:
    org = add_organization(db, "Acme", slug="acme-timing")
    row = add_schedule(db, org, add_config(db, org, "Orders"), schedule_name="twice", schedule_type="fixed_time",
                       fixed_times=[dt.time(9, 0), dt.time(17, 30)], timezone="Europe/Berlin", end_date="2025-03-08")
    berlin = ZoneInfo("Europe/Berlin")
    assert next_run_times(db, row, AFTER, 10) == [
        dt.datetime(2025, 3, 7, 17, 30, tzinfo=berlin),
        dt.datetime(2025, 3, 8, 9, 0, tzinfo=berlin),
        dt.datetime(2025, 3, 8, 17, 30, tzinfo=berlin),
    ]


def test_interval_and_event_schedules(db: Conn) -> None:
    params = {"schedule_type": "interval", "interval_minutes": 90, "start_date": dt.date(2025, 3, 1)}
    assert next_run_times(db, params, AFTER, 3) == [
        AFTER + dt.timedelta(minutes=90), AFTER + dt.timedelta(minutes=180), AFTER + dt.timedelta(minutes=270)
    ]  # fmt: skip
    assert next_run_times(db, {"schedule_type": "event_based"}, AFTER, 3) == []
    assert next_run_times(db, {"schedule_type": "manual"}, AFTER, 3) == []


def test_invalid_schedule_raises_row_error_and_leaves_the_transaction_usable(database_url: str) -> None:
    with connect(database_url) as conn:  # not autocommit: one transaction
        bad = {"id": 7, "schedule_name": "nightly", "schedule_type": "cron", "cron_expression": "61 * * * *"}
        with pytest.raises(RowError) as caught:
            next_run_times(conn, bad, AFTER, 3)
        assert caught.value.field == "cron_expression"
        assert "In schedule `nightly` (id 7), field `cron_expression`" in str(caught.value)
        assert "minute 61 out of range 0-59" in str(caught.value)
        with pytest.raises(RowError) as caught:
            next_run_times(
                conn, {"schedule_type": "cron", "cron_expression": "0 0 * * *", "timezone": "Nowhere/X"}, AFTER, 1
            )
        assert caught.value.field == "timezone"
        assert next_run_times(conn, {"schedule_type": "cron", "cron_expression": "0 0 * * *"}, AFTER, 1)


def test_rejects_naive_after_and_returns_nothing_for_n_zero(db: Conn) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run_times(db, {"schedule_type": "cron", "cron_expression": "0 0 * * *"}, dt.datetime(2025, 1, 1), 1)
    assert next_run_times(db, {"schedule_type": "cron", "cron_expression": "0 0 * * *"}, AFTER, 0) == []
