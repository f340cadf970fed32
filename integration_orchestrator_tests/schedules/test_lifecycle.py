"""Write-back sensor: schedule-execution rows follow their runs; failure notifications."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import dagster as dg
import pytest

from integration_orchestrator.db import connect
from integration_orchestrator.schedules.lifecycle import evaluate_writeback
from integration_orchestrator.schedules.notify import (
    WEBHOOK_URL_ENV,
    WebhookNotifier,
    load_notifiers,
)
from integration_orchestrator.schedules.runs import run_tags_for
from integration_orchestrator.schedules.writeback import (
    last_recorded_tick,
    record_tick,
    schedule_execution_rows,
    tick_transaction,
)
from integration_orchestrator_tests.rows import add_config, add_execution, add_organization, add_user, schedule_record


@dg.op
def ok_op() -> None:
    return None


@dg.op
def failing_op() -> None:
    raise RuntimeError("source unreachable")


ok_job = dg.GraphDefinition(name="ok_job", node_defs=[ok_op]).to_job()
failing_job = dg.GraphDefinition(name="failing_job", node_defs=[failing_op]).to_job()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def _scheduled_run(
    db: Any, database_url: str, instance: dg.DagsterInstance, job: dg.JobDefinition, **columns: Any
) -> tuple[Any, str, str, dg.ExecuteInProcessResult]:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, **columns)
    tick = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    with connect(database_url) as conn, tick_transaction(conn, org):
        last_recorded_tick(conn, record.id, tick)
        row_id = record_tick(conn, org, record.id, tick, "scheduled", None)
    result = job.execute_in_process(instance=instance, tags=run_tags_for(record, tick, schedule_execution_id=row_id),
                                    raise_on_error=False)
    add_execution(db, org, config, "succeeded" if result.success else "failed", dagster_run_id=result.run_id,
                  records_out=40, records_failed=2, error_message=None if result.success else "source unreachable",
                  metadata={"warning_count": 3})
    return record, org, row_id, result


def test_successful_run_completes_its_row(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    record, _org, _row_id, result = _scheduled_run(db, database_url, instance, ok_job)
    with connect(database_url) as conn:
        outcome = evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    assert outcome.cursor
    [row] = schedule_execution_rows(db, record.id)
    assert row["execution_status"] == "completed"
    assert row["actual_start_time"] is not None and row["actual_end_time"] >= row["actual_start_time"]
    assert (row["records_processed"], row["error_count"], row["warning_count"]) == (40, 2, 3)
    execution = db.execute(
        "SELECT id FROM integration_executions WHERE dagster_run_id = %s", (result.run_id,)
    ).fetchone()
    assert row["execution_id"] == execution["id"]
    schedule = db.execute(
        "SELECT last_run_time, next_run_time FROM integration_schedules WHERE id = %s", (record.id,)
    ).fetchone()
    assert schedule["last_run_time"] == dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    assert schedule["next_run_time"] is not None
    # a second pass over the same runs changes nothing
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    assert schedule_execution_rows(db, record.id) == [row]


def test_failed_run_fails_row_and_notifies_each_recipient(
    db: Any, database_url: str, instance: dg.DagsterInstance, webhook: tuple[str, Any]
) -> None:
    url, hook = webhook
    record, org, _row_id, result = _scheduled_run(db, database_url, instance, failing_job, notification_on_failure=True)
    alice, bob = add_user(db, org), add_user(db, org)
    db.execute("UPDATE integration_schedules SET notification_recipients = %s WHERE id = %s", ([alice, bob], record.id))
    record = type(record).from_row(
        db.execute("SELECT * FROM integration_schedules WHERE id = %s", (record.id,)).fetchone()
    )
    assert not result.success
    for _ in range(2):  # the second pass must not notify twice
        with connect(database_url) as conn:
            evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=lambda: [WebhookNotifier(url)])
    [row] = schedule_execution_rows(db, record.id)
    assert row["execution_status"] == "failed"
    notes = db.execute(
        "SELECT recipient_id, channel, status, payload FROM integration_notifications WHERE "
        "schedule_id = %s ORDER BY recipient_id",
        (record.id,),
    ).fetchall()
    assert sorted(str(n["recipient_id"]) for n in notes) == sorted([alice, bob])
    assert {(n["channel"], n["status"]) for n in notes} == {("webhook", "sent")}
    assert notes[0]["payload"]["run_id"] == result.run_id
    assert sorted(m["recipient_id"] for m in hook.received) == sorted([alice, bob])
    assert {m["error"] for m in hook.received} == {"source unreachable"}
    assert {m["schedule_id"] for m in hook.received} == {record.id}


def test_webhook_error_is_recorded_on_the_row(
    db: Any, database_url: str, instance: dg.DagsterInstance, webhook: tuple[str, Any]
) -> None:
    url, hook = webhook
    hook.status = 503
    record, org, _row_id, _result = _scheduled_run(db, database_url, instance, failing_job)
    user = add_user(db, org)
    db.execute("UPDATE integration_schedules SET notification_recipients = %s WHERE id = %s", ([user], record.id))
    record = type(record).from_row(
        db.execute("SELECT * FROM integration_schedules WHERE id = %s", (record.id,)).fetchone()
    )
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=lambda: [WebhookNotifier(url)])
    [note] = db.execute(
        "SELECT status, error FROM integration_notifications WHERE schedule_id = %s", (record.id,)
    ).fetchall()
    assert note["status"] == "failed" and "503" in note["error"]


def test_no_notifier_leaves_pending_email_rows(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    record, org, _row_id, _result = _scheduled_run(db, database_url, instance, failing_job)
    user = add_user(db, org)
    db.execute(
        "UPDATE integration_schedules SET notification_recipients = %s, notification_on_failure = true WHERE id = %s",
        ([user], record.id),
    )
    record = type(record).from_row(
        db.execute("SELECT * FROM integration_schedules WHERE id = %s", (record.id,)).fetchone()
    )
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    [note] = db.execute(
        "SELECT channel, status FROM integration_notifications WHERE schedule_id = %s", (record.id,)
    ).fetchall()
    assert (note["channel"], note["status"]) == ("email", "pending")


def test_notification_off_writes_nothing(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    record, org, _row_id, _result = _scheduled_run(
        db, database_url, instance, failing_job, notification_on_failure=False
    )
    user = add_user(db, org)
    db.execute("UPDATE integration_schedules SET notification_recipients = %s WHERE id = %s", ([user], record.id))
    record = type(record).from_row(
        db.execute("SELECT * FROM integration_schedules WHERE id = %s", (record.id,)).fetchone()
    )
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    assert db.execute("SELECT count(*) AS n FROM integration_notifications").fetchone()["n"] == 0
    assert schedule_execution_rows(db, record.id)[0]["execution_status"] == "failed"


def test_webhook_notifier_is_registered_as_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEBHOOK_URL_ENV, raising=False)
    assert [n for n in load_notifiers() if isinstance(n, WebhookNotifier)] == []
    monkeypatch.setenv(WEBHOOK_URL_ENV, "http://127.0.0.1:9/x")
    [hook] = [n for n in load_notifiers() if isinstance(n, WebhookNotifier)]
    assert hook.url == "http://127.0.0.1:9/x" and hook.channel == "webhook"


def test_run_start_moves_last_run_time_and_database_next_run_matches_dagster(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    """An interval that does not divide an hour: after the run starts, the trigger's
    next_run_time is the next instant the Dagster schedule fires."""
    from integration_orchestrator.model.schedule import ScheduleRecord
    from integration_orchestrator.schedules.cron import fire_times

    record, _org, _row_id, _result = _scheduled_run(
        db, database_url, instance, ok_job, schedule_type="interval", cron_expression=None, interval_minutes=47
    )
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    row = db.execute("SELECT *, now() AS db_now FROM integration_schedules WHERE id = %s", (record.id,)).fetchone()
    assert row["last_run_time"] == dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)
    reloaded = ScheduleRecord.from_row(row)  # the code location reloads with the new last_run_time
    assert row["next_run_time"] == next(fire_times(reloaded, row["updated_at"]))


def test_writeback_cursor_syncs_a_finished_run_once(db: Any, database_url: str, instance: dg.DagsterInstance) -> None:
    record, _org, _row_id, _result = _scheduled_run(db, database_url, instance, ok_job)
    with connect(database_url) as conn:
        first = evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
        assert first.skip_reason.skip_message == "synced 1 run(s)"
        second = evaluate_writeback(instance, conn, {record.id: record}, first.cursor, notifiers=list)
        # the same finished run is not synced again
        assert second.skip_reason.skip_message == "no integration runs changed"
        third = evaluate_writeback(instance, conn, {record.id: record}, second.cursor, notifiers=list)
        assert third.skip_reason.skip_message == "no integration runs changed"
        # a run updated afterwards is still seen
        _record2, _org2, row2, _result2 = _scheduled_run(db, database_url, instance, failing_job)
        fourth = evaluate_writeback(instance, conn, {record.id: record}, third.cursor, notifiers=list)
        assert fourth.skip_reason.skip_message == "synced 1 run(s)"
    assert db.execute("SELECT execution_status::text AS s FROM integration_schedule_executions WHERE id = %s",
                      (row2,)).fetchone() == {"s": "failed"}
