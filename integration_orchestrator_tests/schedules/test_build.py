"""build_schedule_definitions: one Dagster schedule/sensor per row, names, status, errors."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.build import build_schedule_definitions
from integration_orchestrator.schedules.lifecycle import WRITEBACK_SENSOR_NAME

URL = "postgresql://unused@127.0.0.1:1/never"  # building never connects


def row(n: int, **columns: Any) -> dict[str, Any]:
    return {"id": f"00000000-0000-0000-0000-{n:012d}", "config_id": "cfg", "organization_id": "org",
            "created_at": f"2026-01-01T00:00:{n:02d}+00:00", **columns}


ROWS = [
    row(1, schedule_name="Nightly sync", schedule_type="cron", cron_expression="0 2 * * *", timezone="Europe/Paris"),
    row(
        2,
        schedule_name="Twice daily",
        schedule_type="fixed_time",
        fixed_times=["08:00:00", "20:30:00"],
        timezone="Asia/Tokyo",
    ),
    row(3, schedule_name="Every 45", schedule_type="interval", interval_minutes=45, is_active=False),
    row(4, schedule_name="On event", schedule_type="event_based"),
    row(5, schedule_name="By hand", schedule_type="manual"),
    row(6, schedule_name="Nightly  SYNC!", schedule_type="cron", cron_expression="0 3 * * *"),
]


@dg.op
def noop() -> None:
    return None


def _job(name: str) -> dg.JobDefinition:
    return dg.GraphDefinition(name=name, node_defs=[noop]).to_job()


def test_every_row_becomes_its_definition_and_loads_in_dagster() -> None:
    defs = build_schedule_definitions(ROWS, {"cfg": "orders_sync"}, database_url=URL)
    by_name = {d.name: d for d in defs}
    assert sorted(by_name) == sorted([
        "nightly_sync_schedule", "twice_daily_schedule", "every_45_schedule", "on_event_sensor",
        "nightly_sync_schedule_00000000", WRITEBACK_SENSOR_NAME,
    ])
    nightly = by_name["nightly_sync_schedule"]
    assert isinstance(nightly, dg.ScheduleDefinition)
    assert (nightly.cron_schedule, nightly.execution_timezone, nightly.job_name) == (
        "0 2 * * *",
        "Europe/Paris",
        "orders_sync",
    )
    assert nightly.default_status == dg.DefaultScheduleStatus.RUNNING
    twice = by_name["twice_daily_schedule"]
    assert twice.cron_schedule == ["0 8 * * *", "30 20 * * *"] and twice.execution_timezone == "Asia/Tokyo"
    every45 = by_name["every_45_schedule"]
    assert every45.default_status == dg.DefaultScheduleStatus.STOPPED and every45.execution_timezone == "UTC"
    assert isinstance(by_name["on_event_sensor"], dg.SensorDefinition)
    repo = dg.Definitions(
        jobs=[_job("orders_sync")],
        schedules=[d for d in defs if isinstance(d, dg.ScheduleDefinition)],
        sensors=[d for d in defs if not isinstance(d, dg.ScheduleDefinition)],
    ).get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {n for n in by_name if n.endswith(("_schedule", "_00000000"))}


def test_factory_records_with_row_attribute_are_accepted() -> None:
    class FactoryRecord:
        def __init__(self, row: dict[str, Any]) -> None:
            self.row = row

    defs = build_schedule_definitions([FactoryRecord(ROWS[0])], {"cfg": "j"}, database_url=None)
    assert [d.name for d in defs] == ["nightly_sync_schedule", WRITEBACK_SENSOR_NAME]


BAD = [
    (dict(schedule_type="cron", cron_expression="61 * * * *"), "cron_expression", "not a valid 5-field cron"),
    (
        dict(schedule_type="cron", cron_expression="0 2 * * *", timezone="Mars/Olympus"),
        "timezone",
        "not an IANA time zone",
    ),
    (dict(schedule_type="interval", interval_minutes=0), "interval_minutes", "positive number of minutes"),
    (dict(schedule_type="fixed_time", fixed_times=["25:00"]), "fixed_times[0]", "not a time of day"),
    (
        dict(schedule_type="cron", cron_expression="0 2 * * *", retry_policy={"max_retries": 2, "backoff": "random"}),
        "retry_policy.backoff",
        "must be one of exponential, linear",
    ),
    (
        dict(schedule_type="cron", cron_expression="0 2 * * *", missed_execution_policy="sometimes"),
        "missed_execution_policy",
        "must be one of run_once",
    ),
    (
        dict(schedule_type="event_based", execution_parameters={"event_types": "order.created"}),
        "execution_parameters.event_types",
        "list of event type names",
    ),
]


@pytest.mark.parametrize(("columns", "field", "reason"), BAD, ids=[b[1] for b in BAD])
def test_bad_row_is_reported_and_others_still_built(columns: dict[str, Any], field: str, reason: str) -> None:
    errors: list[RowError] = []
    bad = row(9, schedule_name="Broken one", **columns)
    defs = build_schedule_definitions([bad, ROWS[0]], {"cfg": "j"}, database_url=URL, errors=errors)
    assert [d.name for d in defs] == ["nightly_sync_schedule", WRITEBACK_SENSOR_NAME]
    [error] = errors
    assert f"In schedule `Broken one` (id {bad['id']}), field `{field}`" in str(error)
    assert reason in str(error)


def test_schedule_of_integration_without_job_is_reported() -> None:
    errors: list[RowError] = []
    assert build_schedule_definitions([ROWS[0]], {}, database_url=URL, errors=errors) == []
    assert "field `config_id`" in str(errors[0]) and "has no job" in str(errors[0])


def test_record_types_round_trip_from_snapshot_json_strings() -> None:
    record = ScheduleRecord.from_row(row(7, schedule_name="X", schedule_type="interval", interval_minutes=90,
                                         start_date="2026-02-01", end_date="2026-03-01",
                                         last_run_time="2026-02-02T10:00:00+00:00", notification_recipients=["u1"]))
    assert record.start_date is not None and record.start_date.isoformat() == "2026-02-01"
    assert record.last_run_time is not None and record.last_run_time.isoformat() == "2026-02-02T10:00:00+00:00"
    assert record.notification_recipients == ("u1",)
