"""Event-based schedules: one run per event (run key = event id), cursor, consumed marks;
and the sensor that runs integration B after each success of A."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from integration_orchestrator.schedules.build import build_schedule_definitions
from integration_orchestrator.schedules.events import evaluate_run_after_sensor
from integration_orchestrator_tests.rows import add_config, add_event, add_organization, schedule_record


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def _sensor(defs: list[Any], name: str) -> dg.SensorDefinition:
    [sensor] = [d for d in defs if d.name == name]
    assert isinstance(sensor, dg.SensorDefinition)
    return sensor


def _statuses(db: Any, ids: list[str]) -> list[str]:
    rows = db.execute("SELECT id, status FROM integration_events WHERE id = ANY(%s::uuid[])", (ids,)).fetchall()
    by_id = {str(r["id"]): r["status"] for r in rows}
    return [by_id[i] for i in ids]


def test_event_sensor_exactly_once_across_cursor_restart(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    other = add_config(db, org, "Other")
    record = schedule_record(db, org, config, schedule_name="On order", schedule_type="event_based",
                             cron_expression=None, execution_parameters={"source": "webhook"})
    defs = build_schedule_definitions([record], {config: "orders_sync"}, database_url=database_url)
    sensor = _sensor(defs, "on_order_sensor")
    assert sensor.job_name == "orders_sync"
    first = [add_event(db, org, config, payload={"order": n}) for n in range(3)]
    add_event(db, org, other)  # another integration's event is not ours

    tick1 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
    assert [r.run_key for r in tick1.run_requests] == first
    assert [json.loads(r.tags["integration/event_payload"]) for r in tick1.run_requests] == [
        {"order": n} for n in range(3)
    ]
    request = tick1.run_requests[0]
    assert request.tags["integration/event_id"] == first[0]
    assert request.tags["integration/schedule_id"] == record.id
    assert request.tags["integration/config_id"] == config
    assert json.loads(request.tags["integration/execution_parameters"]) == {"source": "webhook"}
    assert _statuses(db, first) == ["consumed"] * 3
    assert tick1.cursor

    # same cursor again: nothing new
    assert sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick1.cursor)).run_requests == []

    fourth = add_event(db, org, config, payload={"order": 3})
    tick2 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick1.cursor))
    assert [r.run_key for r in tick2.run_requests] == [fourth]

    # daemon crashed after marking but before storing tick2's cursor: re-evaluating from the
    # stored cursor requests the same event with the same run key (Dagster drops the duplicate)
    replay = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick1.cursor))
    assert [r.run_key for r in replay.run_requests] == [fourth]
    # a fresh sensor (cursor lost entirely) launches nothing for consumed events
    assert sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None)).run_requests == []


def test_event_committed_late_with_older_timestamp_is_not_lost(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(
        db, org, config, schedule_name="On order", schedule_type="event_based", cron_expression=None
    )
    sensor = _sensor(
        build_schedule_definitions([record], {config: "orders_sync"}, database_url=database_url), "on_order_sensor"
    )
    newer = add_event(db, org, config)
    tick1 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
    assert [r.run_key for r in tick1.run_requests] == [newer]
    late = add_event(db, org, config)
    db.execute("UPDATE integration_events SET created_at = now() - interval '1 hour' WHERE id = %s", (late,))
    tick2 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick1.cursor))
    assert [r.run_key for r in tick2.run_requests] == [late]


def test_event_types_filter(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, schedule_name="Created only", schedule_type="event_based",
                             cron_expression=None, execution_parameters={"event_types": ["order.created"]})
    sensor = _sensor(
        build_schedule_definitions([record], {config: "j"}, database_url=database_url), "created_only_sensor"
    )
    wanted = add_event(db, org, config, "order.created")
    ignored = add_event(db, org, config, "order.deleted")
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in tick.run_requests] == [wanted]
    assert _statuses(db, [wanted, ignored]) == ["consumed", "skipped"]
    reason = db.execute("SELECT error_message FROM integration_events WHERE id = %s", (ignored,)).fetchone()
    assert reason["error_message"] == ("skipped: no event schedule of the integration accepts event type "
                                       "'order.deleted' (execution_parameters.event_types: order.created)")


def test_event_types_filter_skips_only_what_no_event_schedule_accepts(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    created = schedule_record(db, org, config, schedule_name="Created", schedule_type="event_based",
                              cron_expression=None, execution_parameters={"event_types": ["order.created"]})
    deleted = schedule_record(db, org, config, schedule_name="Deleted", schedule_type="event_based",
                              cron_expression=None, execution_parameters={"event_types": ["order.deleted"]})
    defs = build_schedule_definitions([created, deleted], {config: "j"}, database_url=database_url)
    events = [add_event(db, org, config, kind) for kind in ("order.created", "order.deleted", "order.paid")]
    tick = _sensor(defs, "created_sensor").evaluate_tick(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in tick.run_requests] == [events[0]]
    # order.deleted waits for its own sensor; order.paid is nobody's
    assert _statuses(db, events) == ["consumed", "pending", "skipped"]
    tick = _sensor(defs, "deleted_sensor").evaluate_tick(dg.build_sensor_context(instance=instance))
    assert [r.run_key for r in tick.run_requests] == [events[1]]


def test_event_sensor_without_filter_skips_nothing(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    every = schedule_record(db, org, config, schedule_name="Every", schedule_type="event_based", cron_expression=None)
    some = schedule_record(db, org, config, schedule_name="Some", schedule_type="event_based",
                           cron_expression=None, execution_parameters={"event_types": ["order.created"]})
    defs = build_schedule_definitions([every, some], {config: "j"}, database_url=database_url)
    event = add_event(db, org, config, "order.paid")
    _sensor(defs, "some_sensor").evaluate_tick(dg.build_sensor_context(instance=instance))
    assert _statuses(db, [event]) == ["pending"]  # the unfiltered sensor takes it


def test_event_runs_get_their_schedule_execution_rows_and_tags(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, schedule_name="On order", schedule_type="event_based",
                             cron_expression=None)
    sensor = _sensor(build_schedule_definitions([record], {config: "j"}, database_url=database_url), "on_order_sensor")
    events = [add_event(db, org, config) for _ in range(2)]
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    rows = db.execute("SELECT id, scheduled_time, execution_status::text AS status, execution_notes"
                      " FROM integration_schedule_executions WHERE schedule_id = %s ORDER BY execution_notes",
                      (record.id,)).fetchall()
    created = {str(r["id"]): r["created_at"] for r in db.execute(
        "SELECT id, created_at FROM integration_events WHERE id = ANY(%s::uuid[])", (events,)).fetchall()}
    assert len(rows) == 2 and {r["status"] for r in rows} == {"scheduled"}
    by_notes = {r["execution_notes"]: r for r in rows}
    for request in tick.run_requests:
        event_id = request.tags["integration/event_id"]
        row = by_notes[f"event {event_id} (order.created)"]
        assert request.tags["integration/schedule_execution_id"] == str(row["id"])
        assert request.tags["integration/scheduled_time"] == created[event_id].astimezone(dt.UTC).isoformat()
        assert row["scheduled_time"] == created[event_id]
    # re-requested after a crash (cursor not stored): the same rows, none added
    again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
    assert again.run_requests == []
    db.execute("UPDATE integration_events SET status = 'pending' WHERE id = ANY(%s::uuid[])", (events,))
    replay = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=None))
    assert {r.tags["integration/schedule_execution_id"] for r in replay.run_requests} == {str(r["id"]) for r in rows}
    count = db.execute("SELECT count(*) AS n FROM integration_schedule_executions WHERE schedule_id = %s",
                       (record.id,)).fetchone()
    assert count == {"n": 2}


def test_inactive_event_schedule_sensor_is_stopped(db: Any, database_url: str) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, schedule_name="Paused", schedule_type="event_based",
                             cron_expression=None, is_active=False)
    sensor = _sensor(build_schedule_definitions([record], {config: "j"}, database_url=database_url), "paused_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED


def test_run_after_sensor_launches_b_after_each_success_of_a(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config_a = add_config(db, org, "A")
    config_b = add_config(db, org, "B")
    record = schedule_record(db, org, config_b, schedule_name="B after A", schedule_type="event_based",
                             cron_expression=None, execution_parameters={"after_config_id": config_a})
    defs = build_schedule_definitions([record], {config_a: "a_job", config_b: "b_job"}, database_url=database_url)
    sensor = _sensor(defs, "b_after_a_sensor")
    assert sensor.job_name == "b_job"
    start = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    assert start.run_requests == [] and start.cursor

    def add(run_id: str, status: dg.DagsterRunStatus, config: str) -> None:
        instance.add_run(
            DagsterRun(job_name="a_job", run_id=run_id, status=status, tags={"integration/config_id": config})
        )

    add("a-ok-1", dg.DagsterRunStatus.SUCCESS, config_a)
    add("a-failed", dg.DagsterRunStatus.FAILURE, config_a)
    add("b-ok", dg.DagsterRunStatus.SUCCESS, config_b)
    tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=start.cursor))
    assert [r.run_key for r in tick.run_requests] == ["after:a-ok-1"]
    assert tick.run_requests[0].tags["integration/upstream_run_id"] == "a-ok-1"
    assert tick.run_requests[0].tags["integration/config_id"] == config_b
    again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert again.run_requests == []
    add("a-ok-2", dg.DagsterRunStatus.SUCCESS, config_a)
    later = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
    assert [r.run_key for r in later.run_requests] == ["after:a-ok-2"]


def test_run_after_unknown_upstream_is_a_row_error(db: Any, database_url: str) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, schedule_name="Orphan", schedule_type="event_based", cron_expression=None,
                             execution_parameters={"after_config_id": "00000000-0000-0000-0000-000000000000"})
    errors: list[Any] = []
    defs = build_schedule_definitions([record], {config: "j"}, database_url=database_url, errors=errors)
    assert defs == []
    assert "field `execution_parameters.after_config_id`" in str(errors[0])
    assert "Orphan" in str(errors[0])


def test_run_after_first_evaluation_starts_now() -> None:
    with dg.instance_for_test() as inst:
        from integration_orchestrator.model.schedule import ScheduleRecord

        record = ScheduleRecord.from_row({"id": "1", "config_id": "b", "organization_id": "o", "schedule_name": "x",
                                          "schedule_type": "event_based"})
        inst.add_run(DagsterRun(job_name="a", run_id="old", status=dg.DagsterRunStatus.SUCCESS,
                                tags={"integration/config_id": "a"}))
        first = evaluate_run_after_sensor(
            inst, record, "b", "a", None, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        )
        assert first.run_requests == []
        assert evaluate_run_after_sensor(inst, record, "b", "a", first.cursor).run_requests == []
