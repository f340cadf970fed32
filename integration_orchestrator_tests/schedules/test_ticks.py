"""Schedule ticks: missed-execution policies, concurrency skip, tags, write-back rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.build import build_schedule_definitions
from integration_orchestrator.schedules.cron import trigger_for
from integration_orchestrator.schedules.ticks import LATE_AFTER, plan_tick
from integration_orchestrator.schedules.writeback import schedule_execution_rows
from integration_orchestrator_tests.rows import add_config, add_organization, schedule_record

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


HOURLY = dict(
    id="11111111-1111-1111-1111-111111111111", config_id="c", organization_id="o",
    schedule_name="Hourly", schedule_type="cron", cron_expression="0 * * * *",
)


# (policy, last recorded tick, now) -> (launched ticks, skipped ticks) for the 12:00 tick
PLAN_CASES = [
    ("run_once", "11:00", "12:00:20", ["12:00"], []),
    ("run_all", "11:00", "12:00:20", ["12:00"], []),
    ("skip", "11:00", "12:00:20", ["12:00"], []),
    ("run_once", "08:00", "12:00:20", ["12:00"], ["09:00", "10:00", "11:00"]),
    ("run_all", "08:00", "12:00:20", ["09:00", "10:00", "11:00", "12:00"], []),
    ("skip", "08:00", "12:00:20", ["12:00"], ["09:00", "10:00", "11:00"]),
    ("skip", "08:00", "12:30", [], ["09:00", "10:00", "11:00", "12:00"]),
    ("run_once", "08:00", "12:30", ["12:00"], ["09:00", "10:00", "11:00"]),
    # Dagster evaluating an old tick whose successor is already due: superseded
    ("run_once", "08:00", "13:10", [], ["09:00", "10:00", "11:00", "12:00"]),
    ("run_all", "08:00", "13:10", ["09:00", "10:00", "11:00", "12:00"], []),
]


@pytest.mark.parametrize(("policy", "last", "now", "launched", "skipped"), PLAN_CASES)
def test_plan_tick_missed_policies(policy: str, last: str, now: str, launched: list[str], skipped: list[str]) -> None:
    record = ScheduleRecord.from_row({**HOURLY, "missed_execution_policy": policy})
    trigger = trigger_for(record)
    assert trigger is not None
    day = "2026-06-01T"
    decisions = plan_tick(
        record, trigger, at(day + "12:00+00:00"), now=at(day + now + "+00:00"), last_recorded=at(day + last + "+00:00")
    )
    hhmm = lambda ds: [d.scheduled_time.strftime("%H:%M") for d in ds]  # noqa: E731
    assert hhmm(d for d in decisions if d.launch) == launched
    assert hhmm(d for d in decisions if not d.launch) == skipped
    assert all(d.notes for d in decisions if not d.launch)
    assert dt.timedelta(minutes=5) == LATE_AFTER


def test_plan_tick_not_due_outside_bounds() -> None:
    record = ScheduleRecord.from_row({**HOURLY, "start_date": "2026-06-02", "timezone": "America/New_York"})
    trigger = trigger_for(record)
    assert trigger is not None
    # 2026-06-02 03:00 UTC is still June 1st in New York
    assert (
        plan_tick(record, trigger, at("2026-06-02T03:00+00:00"), now=at("2026-06-02T03:00+00:00"), last_recorded=None)
        == []
    )
    assert plan_tick(
        record, trigger, at("2026-06-02T04:00+00:00"), now=at("2026-06-02T04:00+00:00"), last_recorded=None
    )


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def _schedule(record: ScheduleRecord, database_url: str, now: dt.datetime) -> dg.ScheduleDefinition:
    defs = build_schedule_definitions([record], {record.config_id: "orders_sync"}, database_url=database_url,
                                      clock=lambda: now)
    schedule = defs[0]
    assert isinstance(schedule, dg.ScheduleDefinition)
    return schedule


def _tick(schedule: dg.ScheduleDefinition, instance: dg.DagsterInstance, when: dt.datetime) -> Any:
    return schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))


def test_tick_launches_with_tags_and_writes_row(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(
        db, org, config, schedule_name="Nightly orders", cron_expression="0 2 * * *", timezone="Europe/Berlin",
        execution_timeout_seconds=900, retry_policy={"max_retries": 2, "delay_seconds": 5, "backoff": "linear"},
        execution_parameters={"region": "eu", "full": True},
    )
    tick = at("2026-06-01T02:00+02:00")
    schedule = _schedule(record, database_url, tick + dt.timedelta(seconds=3))
    assert schedule.name == "nightly_orders_schedule"
    assert schedule.execution_timezone == "Europe/Berlin"
    result = _tick(schedule, instance, tick)
    [request] = result.run_requests
    assert request.run_key == f"{record.id}:2026-06-01T00:00:00+00:00"
    assert request.job_name == "orders_sync"
    tags = request.tags
    assert tags["integration/config_id"] == config
    assert tags["integration/organization_id"] == org
    assert tags["integration/schedule_id"] == record.id
    assert tags["integration/scheduled_time"] == "2026-06-01T00:00:00+00:00"
    assert tags["dagster/max_runtime"] == "900"
    assert tags["dagster/max_retries"] == "2"
    assert tags["dagster/retry_on_asset_or_op_failure"] == "false"
    assert tags["integration/serial"] == config
    assert json.loads(tags["integration/retry_policy"]) == {
        "max_retries": 2,
        "delay_seconds": 5,
        "backoff": "linear",
        "jitter": False,
    }
    assert json.loads(tags["integration/execution_parameters"]) == {"region": "eu", "full": True}
    [row] = schedule_execution_rows(db, record.id)
    assert row["execution_status"] == "scheduled"
    assert row["scheduled_time"] == tick
    assert str(row["id"]) == tags["integration/schedule_execution_id"]
    # re-evaluating the same tick (daemon crash) neither adds a row nor changes the run key
    again = _tick(schedule, instance, tick)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert len(schedule_execution_rows(db, record.id)) == 1


@pytest.mark.parametrize(
    "status", [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
)
def test_concurrency_skip_with_run_in_progress(
    db: Any, database_url: str, instance: dg.DagsterInstance, status: dg.DagsterRunStatus
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, cron_expression="*/15 * * * *", concurrent_execution_allowed=False)
    instance.add_run(DagsterRun(job_name="orders_sync", run_id="run-in-progress", status=status,
                                tags={"integration/config_id": config}))
    tick = at("2026-06-01T10:15+00:00")
    result = _tick(_schedule(record, database_url, tick), instance, tick)
    assert result.run_requests == []
    assert "run-in-progress" in (result.skip_message or "")
    [row] = schedule_execution_rows(db, record.id)
    assert row["execution_status"] == "skipped"
    assert f"run run-in-progress of this integration is {status.value.lower()}" in row["execution_notes"]


def test_concurrency_allowed_launches_despite_run(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, cron_expression="*/15 * * * *", concurrent_execution_allowed=True)
    instance.add_run(DagsterRun(job_name="orders_sync", run_id="r1", status=dg.DagsterRunStatus.STARTING,
                                tags={"integration/config_id": config}))
    tick = at("2026-06-01T10:15+00:00")
    assert len(_tick(_schedule(record, database_url, tick), instance, tick).run_requests) == 1


@pytest.mark.parametrize(
    ("policy", "statuses", "launched"),
    [
        ("run_all", ["scheduled", "scheduled", "scheduled", "scheduled"], 3),
        ("run_once", ["scheduled", "skipped", "skipped", "scheduled"], 1),
        ("skip", ["scheduled", "skipped", "skipped", "skipped"], 0),
    ],
)
def test_missed_ticks_after_downtime(
    db: Any, database_url: str, instance: dg.DagsterInstance, policy: str, statuses: list[str], launched: int
) -> None:
    """Scheduler ran the 06:00 tick, was down, comes back at 09:07: 07:00, 08:00 missed, 09:00 late."""
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, cron_expression="0 * * * *", missed_execution_policy=policy)
    schedule_before = _schedule(record, database_url, at("2026-06-01T06:00:05+00:00"))
    assert len(_tick(schedule_before, instance, at("2026-06-01T06:00+00:00")).run_requests) == 1
    back = _schedule(record, database_url, at("2026-06-01T09:07+00:00"))
    result = _tick(back, instance, at("2026-06-01T09:00+00:00"))
    assert len(result.run_requests) == launched
    rows = schedule_execution_rows(db, record.id)
    assert [r["scheduled_time"].astimezone(UTC).hour for r in rows] == [6, 7, 8, 9]
    assert [r["execution_status"] for r in rows] == statuses
    if policy == "run_all":
        keys = [r.run_key for r in result.run_requests]
        assert keys == [f"{record.id}:2026-06-01T0{h}:00:00+00:00" for h in (7, 8, 9)]
        assert [r.tags["integration/scheduled_time"][11:16] for r in result.run_requests] == ["07:00", "08:00", "09:00"]
        assert len(set(keys)) == 3
        # re-evaluation of 09:00 (crash before the tick was stored) requests the same keys, no new rows
        again = _tick(back, instance, at("2026-06-01T09:00+00:00"))
        assert [r.run_key for r in again.run_requests] == keys
        assert len(schedule_execution_rows(db, record.id)) == 4
        # the next tick does not bring the missed ones back
        nxt = _tick(
            _schedule(record, database_url, at("2026-06-01T10:00:02+00:00")), instance, at("2026-06-01T10:00+00:00")
        )
        assert [r.tags["integration/scheduled_time"][11:16] for r in nxt.run_requests] == ["10:00"]
    if policy == "run_once":
        assert rows[1]["execution_notes"].startswith("missed; covered by the run at")


@pytest.mark.parametrize(
    ("tick", "reason"),
    [
        ("2026-05-31T23:30+02:00", "before start_date 2026-06-01 (Europe/Berlin)"),
        ("2026-06-03T00:30+02:00", "after end_date 2026-06-02 (Europe/Berlin)"),
    ],
)
def test_ticks_outside_start_end_launch_nothing_and_write_nothing(
    db: Any, database_url: str, instance: dg.DagsterInstance, tick: str, reason: str
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, cron_expression="*/30 * * * *", timezone="Europe/Berlin",
                             start_date=dt.date(2026, 6, 1), end_date=dt.date(2026, 6, 2))
    when = dt.datetime.fromisoformat(tick)
    result = _tick(_schedule(record, database_url, when), instance, when)
    assert result.run_requests == [] and result.skip_message == reason
    assert schedule_execution_rows(db, record.id) == []
    inside = dt.datetime.fromisoformat("2026-06-01T00:00+02:00")  # 22:00 UTC the day before
    assert len(_tick(_schedule(record, database_url, inside), instance, inside).run_requests) == 1


def test_interval_tick_off_the_lattice_is_skipped_without_database(instance: dg.DagsterInstance) -> None:
    record = ScheduleRecord.from_row({**HOURLY, "schedule_type": "interval", "cron_expression": None,
                                      "interval_minutes": 1500, "last_run_time": "2026-06-01T10:07:00+00:00"})
    [schedule, _writeback] = build_schedule_definitions(
        [record], {"c": "j"}, database_url="postgresql://nobody@127.0.0.1:9/x"
    )
    assert isinstance(schedule, dg.ScheduleDefinition) and schedule.cron_schedule == "7 * * * *"
    result = _tick(schedule, instance, at("2026-06-02T10:07+00:00"))  # 24 h later: not a 25 h tick
    assert result.run_requests == [] and "not an interval tick" in (result.skip_message or "")


def test_schedule_stopped_in_dagster_misses_nothing(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    """06:00 ran, then the schedule was stopped in the UI and started again at 08:30: the
    07:00 and 08:00 ticks were not missed by a scheduler outage, so run_all runs 09:00 only."""
    from dagster._core.remote_origin import (
        InProcessCodeLocationOrigin,
        RemoteInstigatorOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.scheduler.instigation import (
        InstigatorState,
        InstigatorStatus,
        InstigatorType,
        ScheduleInstigatorData,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, schedule_name="Hourly", cron_expression="0 * * * *",
                             missed_execution_policy="run_all")
    assert len(_tick(_schedule(record, database_url, at("2026-06-01T06:00:01+00:00")), instance,
                     at("2026-06-01T06:00+00:00")).run_requests) == 1
    repository = RemoteRepositoryOrigin(
        InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="m")), "__repository__"
    )
    instance.add_instigator_state(InstigatorState(
        RemoteInstigatorOrigin(repository, "hourly_schedule"), InstigatorType.SCHEDULE, InstigatorStatus.RUNNING,
        ScheduleInstigatorData("0 * * * *", start_timestamp=at("2026-06-01T08:30+00:00").timestamp()),
    ))
    result = _tick(
        _schedule(record, database_url, at("2026-06-01T09:00:02+00:00")), instance, at("2026-06-01T09:00+00:00")
    )
    assert [r.tags["integration/scheduled_time"][11:16] for r in result.run_requests] == ["09:00"]
    assert [r["scheduled_time"].hour for r in schedule_execution_rows(db, record.id)] == [6, 9]
