"""The factory's code location (workspace.yaml) with schedule rows, through Dagster's CLI
and the real daemon: listed schedules with their timezone, a tick that runs the factory's
job and writes the schedule execution with the counts of the run."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator.schedules.writeback import schedule_execution_rows
from integration_orchestrator_tests.processes import REPO_ROOT, Background, bin_path
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_schedule,
    create_target_table,
)

DEADLINE_SECONDS = 300


def _env(database_url: str, home: Path) -> dict[str, str]:
    return {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(home)}


def _people(db: Any) -> tuple[str, str]:
    org = add_organization(db)
    config = add_config(db, org, "People", [{"p": {"id": 1}}, {"p": {"id": 2}}])
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    create_target_table(db)
    return org, config


def test_dagster_schedule_list_shows_rows(db: Any, database_url: str, dagster_home: Path) -> None:
    org, config = _people(db)
    add_schedule(db, org, config, schedule_name="People nightly", cron_expression="0 2 * * *", timezone="Asia/Tokyo")
    add_schedule(db, org, config, schedule_name="People paused", cron_expression="0 3 * * *", is_active=False)
    done = subprocess.run([bin_path("dagster"), "schedule", "list", "-w", str(REPO_ROOT / "workspace.yaml")],
                          capture_output=True, text=True, env=_env(database_url, dagster_home), cwd=REPO_ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    # default status follows is_active (Dagster's CLI prints name, status and cron only;
    # the UI adds the timezone and the next tick)
    assert "Schedule: people_nightly_schedule [RUNNING]" in out
    assert "Schedule: people_paused_schedule [STOPPED]" in out
    assert "Cron Schedule: 0 2 * * *" in out


@pytest.mark.slow
def test_daemon_runs_factory_job_from_schedule(
    db: Any, database_url: str, dagster_daemon: Callable[..., Background]
) -> None:
    org, config = _people(db)
    schedule = add_schedule(db, org, config, schedule_name="People every minute", cron_expression="* * * * *",
                            timezone="America/Chicago")
    daemon = dagster_daemon("-w", str(REPO_ROOT / "workspace.yaml"),
                            env={"INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url})
    done = daemon.wait_for(
        lambda: [r for r in schedule_execution_rows(db, str(schedule["id"]))
                 if r["execution_status"] in ("completed", "failed")],
        DEADLINE_SECONDS,
    )
    assert done, f"no finished schedule execution; daemon log:\n{daemon.log_tail()}"
    daemon.stop()
    row = done[0]
    assert row["execution_status"] == "completed", row
    assert row["records_processed"] == 2
    assert row["execution_id"] is not None
    execution = db.execute(
        "SELECT schedule_id, tags FROM integration_executions WHERE id = %s", (row["execution_id"],)
    ).fetchone()
    assert str(execution["schedule_id"]) == str(schedule["id"])
    assert execution["tags"]["integration/schedule_execution_id"] == str(row["id"])
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone()["n"] >= 2
