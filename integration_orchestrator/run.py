"""Run one integration job in process and summarise what it wrote back.

For ``demo`` and scripts: builds the Definitions from the rows, executes the job with
the given Dagster instance (the ``dev`` instance makes the run visible in the UI) and
reads back the run's ``integration_executions`` row and the check results.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.dagster_home import prepare_dagster_home
from integration_orchestrator.db import (
    connect,
    dagster_storage_url,
    resolve_database_url,
)
from integration_orchestrator.db.embedded import default_home

__all__ = ["RunSummary", "dev_instance", "run_integration_job"]


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    success: bool
    execution: dict[str, Any] | None  # the integration_executions row
    checks: dict[str, bool]  # check name → passed
    error: str | None

    def lines(self) -> list[str]:
        row = self.execution or {}
        out = [f"run {self.run_id}: {'SUCCESS' if self.success else 'FAILURE'}",
               f"execution {row.get('id')}: {row.get('status')} — records in {row.get('records_in')}, "
               f"out {row.get('records_out')}, failed {row.get('records_failed')}"]
        out += [f"check {name}: {'passed' if ok else 'FAILED'}" for name, ok in sorted(self.checks.items())]
        if self.error:
            out.append(f"error: {self.error}")
        return out


@contextmanager
def dev_instance(database_url: str | None = None) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance ``integration-orchestrator dev`` uses (same storage, same home)."""
    app_url = resolve_database_url(database_url)
    home = default_home() / "dagster_home"
    prepare_dagster_home(home)
    os.environ["INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL"] = dagster_storage_url(app_url)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def run_integration_job(job_name: str, *, database_url: str | None = None,
                        instance: dg.DagsterInstance | None = None) -> RunSummary:
    """Execute ``job_name`` in process; summarise the run and its write-back."""
    url = resolve_database_url(database_url)
    defs = build_definitions(url)
    job = defs.get_job_def(job_name)
    if instance is None:
        with dg.instance_for_test() as temporary:
            return _execute(job, temporary, url)
    return _execute(job, instance, url)


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, url: str) -> RunSummary:
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    failure = next((e for e in result.all_events if e.event_type_value == "STEP_FAILURE"), None)
    error = None
    if failure is not None and failure.step_failure_data.error:
        error = failure.step_failure_data.error.message.strip()
    with connect(url) as conn:
        execution = conn.execute(
            "SELECT id, status, records_in, records_out, records_failed, error_message"
            " FROM integration_executions WHERE dagster_run_id = %s", (result.run_id,)).fetchone()
    return RunSummary(result.run_id, result.success, dict(execution) if execution else None, checks, error)
