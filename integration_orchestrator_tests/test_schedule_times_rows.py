"""The update_next_run_time trigger on integration_schedules rows (sql/0006_schedule_times.sql).

Each test inserts its own organization, integration and schedules into a database shared
by the module. Expected values come from Dagster (cron, fixed_time) or from the interval
rule (anchor + k * interval, strictly after now).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from integration_orchestrator_tests.cron_cases import dagster_next
from integration_orchestrator_tests.rows import add_config, add_organization, insert, schedule_row, unique

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def config(sdb: Conn) -> tuple[Conn, str, str]:
    """(connection, organization id, integration config id) of a new organization."""
    org = add_organization(sdb, "Acme", slug=unique("acme"))
    return sdb, org, add_config(sdb, org, "Orders")


def _insert(config: tuple[Conn, str, str], **columns: Any) -> dict[str, Any]:
    db, org, cfg = config
    row = schedule_row(org, cfg, schedule_name="nightly", **columns)
    return insert(db, "integration_schedules", row, returning="*, now() AS tx_now")


def _update(db: Conn, row_id: Any, **columns: Any) -> dict[str, Any]:
    sets = ", ".join(f"{name} = %s" for name in columns)
    row = db.execute(
        f"UPDATE integration_schedules SET {sets} WHERE id = %s RETURNING *, now() AS tx_now",
        [*columns.values(), row_id],
    ).fetchone()
    assert row is not None
    return row


def _local_midnight(day: dt.date, tz: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz))


@pytest.mark.parametrize(
    ("expression", "tz"),
    [("0 9 * * *", "UTC"), ("*/15 * * * *", "Europe/Berlin"), ("30 2 * * 0", "America/New_York"),
     ("0 0 1 * *", "Australia/Lord_Howe"), ("@weekly", "Asia/Kolkata")],
)  # fmt: skip
def test_cron_row_gets_dagsters_next_tick(config: tuple[Conn, str, str], expression: str, tz: str) -> None:
    row = _insert(config, schedule_type="cron", cron_expression=expression, timezone=tz)
    assert row["next_run_time"] == dagster_next(expression, tz, row["tx_now"])


def test_fixed_times_fire_as_one_daily_dagster_cron_per_time(config: tuple[Conn, str, str]) -> None:
    times = [dt.time(9, 0), dt.time(17, 30), dt.time(2, 30)]
    row = _insert(config, schedule_type="fixed_time", fixed_times=times, timezone="Europe/Berlin")
    want = min(dagster_next(f"{t.minute} {t.hour} * * *", "Europe/Berlin", row["tx_now"]) for t in times)
    assert row["next_run_time"] == want


@pytest.mark.parametrize("minutes", [45, 90, 1500])
def test_interval_counts_from_last_run_time(config: tuple[Conn, str, str], minutes: int) -> None:
    db, _, _ = config
    row = _insert(config, schedule_type="interval", interval_minutes=minutes)
    anchor = row["created_at"].replace(second=0, microsecond=0)
    assert row["next_run_time"] == anchor + dt.timedelta(minutes=minutes)  # created_at anchors a new row

    last = row["tx_now"].replace(microsecond=0) - dt.timedelta(hours=50, seconds=1)
    row = _update(db, row["id"], last_run_time=last)
    step = dt.timedelta(minutes=minutes)
    k = (row["tx_now"] - last.replace(second=0)) // step + 1
    assert row["next_run_time"] == last.replace(second=0) + k * step
    assert row["tx_now"] < row["next_run_time"] <= row["tx_now"] + step


def test_start_date_in_the_future_is_the_first_tick_bound(config: tuple[Conn, str, str]) -> None:
    tz = "America/New_York"
    start = dt.date.today() + dt.timedelta(days=20)
    cron = _insert(config, schedule_type="cron", cron_expression="0 0 * * *", timezone=tz, start_date=start)
    assert cron["next_run_time"] == _local_midnight(start, tz)
    interval = _insert(config, schedule_type="interval", interval_minutes=90, timezone=tz, start_date=start)
    assert interval["next_run_time"] == _local_midnight(start, tz)
    fixed = _insert(config, schedule_type="fixed_time", fixed_times=[dt.time(7, 15)], timezone=tz, start_date=start)
    assert fixed["next_run_time"] == _local_midnight(start, tz) + dt.timedelta(hours=7, minutes=15)


def test_end_date_bounds_by_local_day(config: tuple[Conn, str, str]) -> None:
    db, _, _ = config
    yesterday = dt.date.today() - dt.timedelta(days=2)
    row = _insert(config, schedule_type="cron", cron_expression="* * * * *", end_date=yesterday)
    assert row["next_run_time"] is None  # past the end
    far = dt.date.today() + dt.timedelta(days=400)
    row = _update(db, row["id"], end_date=far)
    assert row["next_run_time"] is not None
    # a tick on end_date itself is kept, the first one after its local midnight is not
    tz = "Australia/Lord_Howe"
    end = dt.date.today() + dt.timedelta(days=3)
    weekly = _insert(config, schedule_type="cron", cron_expression="59 23 * * *", timezone=tz, end_date=end)
    assert weekly["next_run_time"] is not None
    assert weekly["next_run_time"].astimezone(ZoneInfo(tz)).date() <= end
    later = db.execute(
        "SELECT schedule_next_run('cron', '59 23 * * *', NULL, NULL, %s, NULL, %s, NULL, %s) AS t",
        (tz, end, _local_midnight(end, tz)),
    ).fetchone()
    assert later is not None and later["t"] == _local_midnight(end, tz) + dt.timedelta(hours=23, minutes=59)
    after_end = db.execute(
        "SELECT schedule_next_run('cron', '59 23 * * *', NULL, NULL, %s, NULL, %s, NULL, %s) AS t",
        (tz, end, _local_midnight(end, tz) + dt.timedelta(hours=23, minutes=59)),
    ).fetchone()
    assert after_end is not None and after_end["t"] is None


@pytest.mark.parametrize("schedule_type", ["event_based", "manual"])
def test_event_based_and_manual_have_no_next_run(config: tuple[Conn, str, str], schedule_type: str) -> None:
    assert _insert(config, schedule_type=schedule_type)["next_run_time"] is None


def test_inactive_schedule_has_no_next_run_until_reactivated(config: tuple[Conn, str, str]) -> None:
    db, _, _ = config
    row = _insert(config, schedule_type="cron", cron_expression="0 * * * *", is_active=False)
    assert row["next_run_time"] is None
    row = _update(db, row["id"], is_active=True)
    assert row["next_run_time"] == dagster_next("0 * * * *", "UTC", row["tx_now"])


def test_changing_the_timezone_recomputes(config: tuple[Conn, str, str]) -> None:
    db, _, _ = config
    row = _insert(config, schedule_type="cron", cron_expression="0 9 * * *", timezone="UTC")
    row = _update(db, row["id"], timezone="Asia/Tokyo")
    assert row["next_run_time"] == dagster_next("0 9 * * *", "Asia/Tokyo", row["tx_now"])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"cron_expression": "61 * * * *"},
         'invalid cron expression "61 * * * *" for schedule "nightly": minute 61 out of range 0-59'),
        ({"cron_expression": "0 0 * * * *"},
         'invalid cron expression "0 0 * * * *" for schedule "nightly": expected 5'),
        ({"cron_expression": "0 0 * * funday"}, 'invalid cron expression "0 0 * * funday" for schedule "nightly"'),
        ({"cron_expression": "0 9 * * *", "timezone": "Europe/Atlantis"},
         'invalid time zone "Europe/Atlantis" for schedule "nightly": unknown time zone'),
        ({"cron_expression": "0 9 * * *", "timezone": "+02:00"}, 'invalid time zone "+02:00" for schedule "nightly"'),
    ],
)  # fmt: skip
def test_invalid_cron_or_timezone_rejected_at_insert_and_update(
    config: tuple[Conn, str, str], columns: dict[str, Any], message: str
) -> None:
    db, _, cfg = config
    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        _insert(config, schedule_type="cron", **columns)
    assert message in str(caught.value)
    assert caught.value.diag.column_name in ("cron_expression", "timezone")
    count = db.execute("SELECT count(*) AS n FROM integration_schedules WHERE config_id = %s", (cfg,)).fetchone()
    assert count is not None and count["n"] == 0  # nothing written

    good = _insert(config, schedule_type="cron", cron_expression="0 9 * * *")
    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        _update(db, good["id"], **columns)
    assert message in str(caught.value)
    kept = db.execute("SELECT * FROM integration_schedules WHERE id = %s", (good["id"],)).fetchone()
    assert kept is not None
    assert (kept["cron_expression"], kept["timezone"], kept["version"]) == ("0 9 * * *", "UTC", good["version"])
