"""The reconciliation sensor finishes execution rows whose run ended without reporting."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.sensors import reconcile_sensor
from integration_orchestrator_tests.rows import add_config, add_execution, add_organization


@dg.op
def _noop() -> None:
    return None


@dg.job
def _plain() -> None:
    _noop()


def test_reconcile_sensor_finishes_dead_runs(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    config = add_config(db, org, "People")
    with dg.instance_for_test() as instance:
        running = instance.create_run_for_job(_plain, status=dg.DagsterRunStatus.STARTED)
        cancelled = instance.create_run_for_job(_plain, status=dg.DagsterRunStatus.STARTED)
        instance.report_run_canceled(cancelled)
        crashed = instance.create_run_for_job(_plain, status=dg.DagsterRunStatus.STARTED)
        instance.report_run_failed(crashed)
        vanished = str(uuid.uuid4())
        for run_id in (running.run_id, cancelled.run_id, crashed.run_id, vanished):
            add_execution(db, org, config, dagster_run_id=run_id, started_at=dt.datetime.now(dt.UTC))
        sensor = reconcile_sensor()
        context = dg.build_sensor_context(
            instance=instance, resources={DATABASE_RESOURCE_KEY: IntegrationDatabase(database_url=database_url)}
        )
        result = sensor.evaluate_tick(context)
        assert "reconciled 3 execution(s)" in (result.skip_message or "")
        statuses = {
            r["dagster_run_id"]: (r["status"], r["error_message"], r["finished_at"] is not None)
            for r in db.execute("SELECT dagster_run_id, status, error_message, finished_at FROM integration_executions")
        }
        assert statuses[running.run_id] == ("running", None, False)
        assert statuses[cancelled.run_id][0] == "cancelled"
        assert statuses[crashed.run_id][:2] == ("failed", "run ended FAILURE without reporting")
        assert statuses[vanished][:2] == ("failed", "the Dagster run no longer exists")
        assert all(done for run_id, (_, _, done) in statuses.items() if run_id != running.run_id)
        # a second tick has nothing left to do
        assert "reconciled 0" in (sensor.evaluate_tick(context).skip_message or "")
