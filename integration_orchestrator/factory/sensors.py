"""Run-status reconciliation: no execution row stays ``running`` after its run ended.

Ops write their own results; this sensor is the safety net for runs that died without
reporting (worker killed, cancelled, run monitoring gave up). It first reads the load
ledgers of the targets that keep one (``factory/ledger.py``): a run whose load committed
is finished ``succeeded`` with the ledger's counts, even when its row says ``failed``.
Then it compares every other open ``integration_executions`` row with its Dagster run
and finishes the row. A run Dagster still calls open whose row's heartbeat has been silent
for the lease TTL has a dead worker (``factory/dead_runs.py``): it is finished in Dagster
and in the row, so a dead run ends within TTL + :data:`RECONCILE_INTERVAL_SECONDS`. A
dead-letter replay's row (``replay:<uuid>``, no Dagster run) silent for the TTL is
finished ``failed`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from integration_orchestrator.factory.dead_runs import (
    fail_stopped_run,
    finish_open_dagster_runs,
    stale_running,
    stopped_message,
)
from integration_orchestrator.factory.ledger import settle_loaded_runs
from integration_orchestrator.factory.replay import REPLAY_RUN_PREFIX
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.writeback import finish_execution, open_executions

__all__ = ["RECONCILE_INTERVAL_SECONDS", "RECONCILE_SENSOR_NAME", "reconcile_executions", "reconcile_sensor"]

RECONCILE_SENSOR_NAME = "integration_executions_reconciler"
RECONCILE_INTERVAL_SECONDS = 60

_FINAL: dict[dg.DagsterRunStatus, str] = {
    dg.DagsterRunStatus.SUCCESS: "succeeded",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "cancelled",
}


def reconcile_executions(instance: dg.DagsterInstance, db: IntegrationDatabase,
                         log: Callable[[str], None] = lambda _: None) -> list[tuple[str, str]]:
    """Finish the open rows whose run has ended (or vanished) or whose worker is dead, and the
    Dagster runs of dead workers; returns (run id, status) of the rows finished."""
    with db.connection(retry=False) as conn:  # the ticks are the retry: a tick never waits out an outage
        stale = stale_running(conn)  # before the ledger pass touches the rows it settles
        # First the load ledgers: a run whose target committed its load succeeded, whatever
        # Dagster says of its worker (killed after the commit, write-back failed, ...).
        done = [(run_id, "succeeded") for run_id in settle_loaded_runs(conn, db.url())]
        for row in open_executions(conn):
            run_id = str(row["dagster_run_id"])
            error: str | None
            if run_id.startswith(REPLAY_RUN_PREFIX):  # a dead-letter replay: no Dagster run, a heartbeat
                if run_id not in stale:
                    continue
                status, error = "failed", f"the replay ended without reporting: {stopped_message()}"
                if finish_execution(conn, run_id=run_id, organization_id=str(row["organization_id"]),
                                    status=status, error_message=error, metadata={"reconciled": True}):
                    done.append((run_id, status))
                continue
            run = instance.get_run_by_id(run_id)
            if run is None:
                status, error = "failed", "the Dagster run no longer exists"
            elif run.status in _FINAL:
                status = _FINAL[run.status]
                error = None if status == "succeeded" else f"run ended {run.status.value} without reporting"
            elif run_id in stale:  # Dagster says open, the worker is dead: Dagster first
                fail_stopped_run(instance, run)
                status, error = "failed", stopped_message()
            else:
                continue
            if finish_execution(conn, run_id=run_id, organization_id=str(row["organization_id"]), status=status,
                                error_message=error, metadata={"reconciled": True}):
                done.append((run_id, status))
        # Rows final (by the sink, the ledger or above) whose dead worker left the Dagster run open.
        finish_open_dagster_runs(instance, conn, also=stale, log=log)
    return done


def reconcile_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name=RECONCILE_SENSOR_NAME,
        minimum_interval_seconds=RECONCILE_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={DATABASE_RESOURCE_KEY},
        description="Finishes integration_executions rows whose Dagster run ended without reporting.",
    )
    def _reconcile(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        db: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
        done = reconcile_executions(context.instance, db, log=context.log.info)
        for run_id, status in done:
            context.log.info(f"execution of run {run_id} reconciled as {status}")
        return dg.SkipReason(f"reconciled {len(done)} execution(s)")

    return _reconcile
