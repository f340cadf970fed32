"""An op's final failure marks the execution row failed (node and masked error), from the op
itself: no Dagster hook, so a successful run logs no HOOK_SKIPPED (nor HOOK_COMPLETED) event."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator_tests.rows import (
    add_config,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

HOOK_EVENTS = {"HOOK_SKIPPED", "HOOK_COMPLETED", "HOOK_ERRORED"}


def _run(database_url: str, job: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return build_definitions(database_url).get_job_def(job).execute_in_process(instance=instance,
                                                                                    raise_on_error=False)


def _execution(db: psycopg.Connection[Any], run_id: str) -> dict[str, Any]:
    row = db.execute("SELECT status::text AS status, error_message FROM integration_executions"
                     " WHERE dagster_run_id = %s", (run_id,)).fetchone()
    assert row is not None
    return dict(row)


def test_successful_run_logs_no_hook_events(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "First", [{"id": 1}]), "first", [jmespath_step("a", 1, "map", "@")])
    create_target_table(db)
    result = _run(database_url, "first")
    assert result.success
    assert not {e.event_type_value for e in result.all_events} & HOOK_EVENTS
    assert _execution(db, result.run_id)["status"] == "succeeded"


@pytest.mark.parametrize(
    ("strategy", "performance", "retries"),
    [("fail_fast", None, 0), ("retry", {"retry": {"max_retries": 1, "delay_seconds": 0}}, 1)],
)
def test_failed_step_marks_the_execution_failed(
    db: psycopg.Connection[Any], database_url: str, strategy: str, performance: dict[str, Any] | None, retries: int
) -> None:
    org = add_organization(db)
    config = add_config(db, org, "Broken", [{"id": 1, "name": "x"}])
    add_pipeline(db, org, config, "broken", [jmespath_step("bad", 1, "map", "abs(name)")], strategy=strategy,
                 performance=performance)
    create_target_table(db)
    result = _run(database_url, "broken")
    assert not result.success
    events = [e.event_type_value for e in result.all_events]
    assert events.count("STEP_UP_FOR_RETRY") == retries
    assert not set(events) & HOOK_EVENTS
    execution = _execution(db, result.run_id)
    assert execution["status"] == "failed"
    assert execution["error_message"].startswith("step_bad: "), execution
