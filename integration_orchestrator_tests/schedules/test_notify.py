"""Failure notifications for every launch path (issue 17, part 3).

The end-to-end test runs a real integration job by hand (no schedule tags: what
``dagster job launch`` and the UI launch) whose source fails, then evaluates the code
location's own ``integration_schedule_writeback`` sensor with the ``webhook`` notifier
(the entry point, configured by its variable) posting to a loopback HTTP server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.db import connect
from integration_orchestrator.model.tags import (
    TAG_CONFIG_ID,
    TAG_EVENT_ID,
    TAG_ORGANIZATION_ID,
    TAG_SCHEDULE_EXECUTION_ID,
    TAG_SCHEDULE_ID,
    TAG_UPSTREAM_RUN_ID,
)
from integration_orchestrator.schedules.lifecycle import WRITEBACK_SENSOR_NAME, evaluate_writeback
from integration_orchestrator.schedules.notify import WEBHOOK_URL_ENV, WebhookNotifier, launch_path
from integration_orchestrator_tests.rows import add_config, add_file_config, add_organization, add_user, schedule_record
from integration_orchestrator_tests.schedules.test_lifecycle import failing_job, instance, webhook

__all__ = ["instance", "webhook"]  # fixtures shared with test_lifecycle

PATHS = [
    ("schedule tick", {TAG_SCHEDULE_ID: "s", TAG_SCHEDULE_EXECUTION_ID: "x"}, "schedule"),
    ("event sensor", {TAG_SCHEDULE_ID: "s", TAG_EVENT_ID: "e"}, "sensor"),
    ("run-after sensor", {TAG_SCHEDULE_ID: "s", TAG_UPSTREAM_RUN_ID: "r"}, "sensor"),
    ("by hand", {TAG_CONFIG_ID: "c"}, "manual"),
    ("re-execution", {TAG_CONFIG_ID: "c", "dagster/parent_run_id": "p", TAG_SCHEDULE_ID: "s"}, "re-execution"),
]


@pytest.mark.parametrize(("tags", "expected"), [p[1:] for p in PATHS], ids=[p[0] for p in PATHS])
def test_launch_path_from_tags(tags: dict[str, str], expected: str) -> None:
    assert launch_path(tags) == expected


def _notes(db: Any, run_id: str) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT recipient_id::text AS recipient, channel, status, schedule_id, payload FROM integration_notifications"
        " WHERE payload->>'run_id' = %s ORDER BY recipient_id", (run_id,),
    ).fetchall()


def test_manual_failing_run_notifies_end_to_end(
    db: Any, database_url: str, tmp_path: Path, instance: dg.DagsterInstance, webhook: tuple[str, Any],
    monkeypatch: pytest.MonkeyPatch, fresh_load_context: None,
) -> None:
    url, hook = webhook
    monkeypatch.setenv(WEBHOOK_URL_ENV, url)
    org = add_organization(db)
    config = add_file_config(db, org, "Orders by hand", tmp_path / "missing.ndjson")
    alice, bob = add_user(db, org), add_user(db, org, notify_on_manual_runs=False)
    schedule = schedule_record(db, org, config, schedule_type="manual", notification_on_failure=True,
                               notification_recipients=[alice, bob])
    defs = build_definitions(database_url)
    result = defs.get_job_def("orders_by_hand").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    sensor = defs.get_sensor_def(WRITEBACK_SENSOR_NAME)
    for _ in range(2):  # a second evaluation must not notify twice
        sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
    [note] = _notes(db, result.run_id)
    assert (note["recipient"], note["channel"], note["status"]) == (alice, "webhook", "sent")  # bob opted out
    assert note["payload"]["launch_path"] == "manual" and note["schedule_id"] is None
    [message] = hook.received
    assert message["launch_path"] == "manual" and message["recipient_id"] == alice
    assert message["config_id"] == config and message["run_id"] == result.run_id
    assert message["job_name"] == "orders_by_hand" and "source" in message["error"]
    assert schedule.id  # the integration's recipients come from its (manual) schedule row


def _run(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    result = failing_job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)
    assert not result.success
    return result.run_id


@pytest.mark.parametrize("path", ["manual", "re-execution", "sensor"])
def test_every_launch_path_notifies_and_only_manual_honours_the_opt_out(
    db: Any, database_url: str, instance: dg.DagsterInstance, webhook: tuple[str, Any], path: str
) -> None:
    url, hook = webhook
    org = add_organization(db)
    config = add_config(db, org)
    alice, bob = add_user(db, org), add_user(db, org, notify_on_manual_runs=False)
    record = schedule_record(db, org, config, notification_on_failure=True, notification_recipients=[alice, bob])
    tags = {TAG_CONFIG_ID: config, TAG_ORGANIZATION_ID: org}
    if path == "re-execution":
        tags["dagster/parent_run_id"] = _run(instance, {})  # a run of another job: not an integration run
    if path == "sensor":
        tags |= {TAG_SCHEDULE_ID: record.id, TAG_EVENT_ID: "00000000-0000-4000-8000-000000000001"}
    run_id = _run(instance, tags)
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=lambda: [WebhookNotifier(url)])
    notes = _notes(db, run_id)
    expected = [alice] if path == "manual" else sorted([alice, bob])
    assert [n["recipient"] for n in notes] == sorted(expected)
    assert {n["payload"]["launch_path"] for n in notes} == {path}
    assert {m["launch_path"] for m in hook.received} == {path}
    assert {n["schedule_id"] and str(n["schedule_id"]) for n in notes} == ({record.id} if path == "sensor" else {None})


def test_integration_without_recipients_writes_nothing(
    db: Any, database_url: str, instance: dg.DagsterInstance
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    record = schedule_record(db, org, config, notification_on_failure=False)
    run_id = _run(instance, {TAG_CONFIG_ID: config, TAG_ORGANIZATION_ID: org})
    with connect(database_url) as conn:
        evaluate_writeback(instance, conn, {record.id: record}, None, notifiers=list)
    assert _notes(db, run_id) == []
