"""Dead workers found by their silent heartbeat (``factory/dead_runs.py``), without processes:
rows whose ``updated_at`` is set in the past, runs created in a test instance."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.test_utils import create_run_for_test

from integration_orchestrator.factory import serial
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.sensors import reconcile_executions
from integration_orchestrator_tests.rows import add_config, add_execution, add_organization

TTL = 60


@pytest.mark.parametrize(
    ("row_status", "silent_for", "run_status", "row_after", "run_after", "reconciled"),
    [
        # running row, open run: a live worker is left alone; a silent one is failed in both
        ("running", 5, "STARTED", "running", "STARTED", []),
        ("running", TTL + 5, "STARTED", "failed", "FAILURE", ["failed"]),
        ("running", TTL + 5, "STARTING", "failed", "FAILURE", ["failed"]),
        # final row (the sink or the ledger finished it), open run: the run gets the row's end
        ("succeeded", TTL + 5, "STARTED", "succeeded", "SUCCESS", []),
        ("failed", TTL + 5, "STARTED", "failed", "FAILURE", []),
        ("succeeded", 5, "STARTED", "succeeded", "STARTED", []),  # its worker still beats
        # a run Dagster already finished: the existing path, whatever the heartbeat
        ("running", TTL + 5, "SUCCESS", "succeeded", "SUCCESS", ["succeeded"]),
    ],
)
def test_silent_rows_are_finished_in_dagster_and_in_the_row(
    db: psycopg.Connection[Any], database_url: str, monkeypatch: pytest.MonkeyPatch, row_status: str,
    silent_for: int, run_status: str, row_after: str, run_after: str, reconciled: list[str],
) -> None:
    monkeypatch.setenv(serial.LEASE_TTL_ENV, str(TTL))
    monkeypatch.setenv(serial.HEARTBEAT_ENV, "1")
    org = add_organization(db)
    config = add_config(db, org, "People", [])
    run_id = str(uuid.uuid4())
    final = row_status != "running"
    add_execution(db, org, config, row_status, dagster_run_id=run_id, dagster_job_name="people",
                  started_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
                  finished_at=dt.datetime.now(dt.UTC) if final else None,
                  updated_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=silent_for))
    with dg.instance_for_test() as instance:
        create_run_for_test(instance, job_name="people", run_id=run_id, status=dg.DagsterRunStatus[run_status])
        done = reconcile_executions(instance, IntegrationDatabase(database_url=database_url))
        run = instance.get_run_by_id(run_id)
    assert run is not None and run.status.value == run_after
    assert done == [(run_id, status) for status in reconciled]
    row = db.execute("SELECT status, error_message FROM integration_executions WHERE dagster_run_id = %s",
                     (run_id,)).fetchone()
    assert row is not None and row["status"] == row_after
    if reconciled == ["failed"]:
        assert "stopped heart-beating" in row["error_message"]


@pytest.mark.parametrize(
    ("env", "ttl", "beat"),
    [
        ({}, 600.0, 30.0),
        ({serial.LEASE_TTL_ENV: "5", serial.HEARTBEAT_ENV: "0.5"}, 5.0, 0.5),
        ({serial.LEASE_TTL_ENV: "zero", serial.HEARTBEAT_ENV: "-1"}, 600.0, 30.0),  # bad: the defaults
    ],
)
def test_lease_settings_are_read_from_the_environment_at_use(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], ttl: float, beat: float
) -> None:
    for name in (serial.LEASE_TTL_ENV, serial.HEARTBEAT_ENV):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (serial.lease_ttl().total_seconds(), serial.heartbeat_seconds()) == (ttl, beat)
