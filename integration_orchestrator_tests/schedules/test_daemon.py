"""The real ``dagster-daemon``: a minutely schedule fires, its run executes, and the
write-back rows reach ``completed``; an event launches exactly one run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from integration_orchestrator.schedules.writeback import schedule_execution_rows
from integration_orchestrator_tests.processes import Background
from integration_orchestrator_tests.rows import add_config, add_event, add_organization, add_schedule
from integration_orchestrator_tests.schedules.daemon_defs import DATABASE_ENV, job_name

pytestmark = pytest.mark.slow
DEADLINE_SECONDS = 300


def test_daemon_fires_schedule_and_writes_rows(
    db: Any, database_url: str, dagster_home: Path, dagster_daemon: Callable[..., Background]
) -> None:
    org = add_organization(db)
    config = add_config(db, org)
    schedule = add_schedule(db, org, config, schedule_name="Every minute", cron_expression="* * * * *",
                            timezone="Europe/Berlin", execution_timeout_seconds=120)
    event_schedule = add_schedule(db, org, config, schedule_name="On order", schedule_type="event_based",
                                  cron_expression=None, concurrent_execution_allowed=True)
    event = add_event(db, org, config, payload={"order": 7})
    daemon = dagster_daemon("-m", "integration_orchestrator_tests.schedules.daemon_defs", "-a", "defs",
                            env={DATABASE_ENV: database_url})

    def completed() -> list[dict[str, Any]]:
        return [r for r in schedule_execution_rows(db, str(schedule["id"])) if r["execution_status"] == "completed"]

    finished = daemon.wait_for(completed, DEADLINE_SECONDS)
    assert finished, f"a completed schedule execution did not happen; daemon log:\n{daemon.log_tail()}"
    [row, *_] = finished
    assert row["actual_start_time"] >= row["scheduled_time"]
    assert row["actual_end_time"] >= row["actual_start_time"]
    assert row["scheduled_time"].second == 0
    last = db.execute("SELECT last_run_time, next_run_time FROM integration_schedules WHERE id = %s",
                      (schedule["id"],)).fetchone()
    assert last["last_run_time"] >= row["scheduled_time"]
    assert last["next_run_time"] > last["last_run_time"]

    consumed = daemon.wait_for(
        lambda: db.execute("SELECT status, consumed_by_run_id FROM integration_events WHERE id = %s AND"
                           " consumed_by_run_id IS NOT NULL", (event,)).fetchone(),
        DEADLINE_SECONDS,
    )
    assert consumed, f"the event consumed by a run did not happen; daemon log:\n{daemon.log_tail()}"
    assert consumed["status"] == "consumed"
    daemon.stop()
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        runs = instance.get_runs()
        event_runs = [r for r in runs if r.tags.get("integration/event_id") == event]
        assert len(event_runs) == 1
        assert event_runs[0].tags["integration/schedule_id"] == str(event_schedule["id"])
        assert event_runs[0].job_name == job_name(config)
        scheduled = [r for r in runs if r.tags.get("integration/schedule_id") == str(schedule["id"])]
        assert scheduled and all(r.tags["dagster/max_runtime"] == "120" for r in scheduled)
        assert scheduled[0].tags["dagster/schedule_name"] == "every_minute_schedule"
