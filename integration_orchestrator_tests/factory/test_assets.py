"""Assets tied to their jobs, through Dagster's GraphQL API (a real gRPC code server, this worktree's code).

Each integration's asset lists its job (``jobNames``), the schedule or sensor that targets
the job (``targetingInstigators``), its mapping checks, and its lineage; materializing it
(the job with the asset selected, or Dagster's implicit asset job as the UI's Materialize
button does) runs the integration as its job does and writes its execution row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.definitions.assets.job.asset_job import IMPLICIT_ASSET_JOB_NAME
from dagster._core.workspace.context import WorkspaceRequestContext
from dagster_graphql.client.query import LAUNCH_PIPELINE_EXECUTION_MUTATION
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql, infer_job_selector

from integration_orchestrator.db.urls import DATABASE_URL_ENV
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_mapping_test,
    add_organization,
    add_pipeline,
    add_schedule,
    create_target_table,
    jmespath_step,
)

ASSET_QUERY = """
query Asset($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    __typename
    ... on AssetNode {
      jobNames
      isExecutable
      isMaterializable
      opNames
      dependencyKeys { path }
      targetingInstigators { __typename ... on Schedule { name } ... on Sensor { name } }
      assetChecksOrError { ... on AssetChecks { checks { name } } }
    }
  }
}
"""

PEOPLE = dg.AssetKey(["integrations", "people_sync"])
COPY = dg.AssetKey(["integrations", "people_copy"])


def _setup(db: psycopg.Connection[Any], database_url: str, tmp_path: Path) -> dict[str, str]:
    org = add_organization(db)
    people = add_config(db, org, "People Sync", [{"p": {"id": 1}}, {"p": {"id": 2}}])
    mapping = add_mapping(db, org, people, "person id", "p.id", "id", target_data_type="integer", is_required=True)
    add_mapping_test(db, org, mapping, input_data={"p": {"id": "7"}}, expected={"id": 7})
    add_pipeline(db, org, people, "people warehouse", [jmespath_step("tier", 1, "enrich", "{tier: 'gql'}")])
    add_schedule(db, org, people, schedule_name="Nightly people")
    # reads the table People Sync writes (the same database, named by URL): its asset depends on People Sync's
    copy = add_config(db, org, "People Copy", target={"type": "file", "path": str(tmp_path / "copy.ndjson")})
    db.execute(
        "UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{source}', %s::jsonb) "
        "WHERE id = %s",
        (psycopg.types.json.Jsonb({"type": "postgres", "url": database_url, "query": "SELECT id FROM people_out"}),
         copy),
    )
    add_schedule(db, org, copy, schedule_name="On people", schedule_type="event_based", cron_expression=None,
                 concurrent_execution_allowed=True)
    create_target_table(db)
    return {"org": org, "people": people, "copy": copy}


@pytest.fixture
def graphql(db: psycopg.Connection[Any], database_url: str, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WorkspaceRequestContext, dict[str, str]]]:
    ids = _setup(db, database_url, tmp_path)
    monkeypatch.setenv(DATABASE_URL_ENV, database_url)
    (tmp_path / "home").mkdir()
    location = tmp_path / "location.py"
    location.write_text("from integration_orchestrator.definitions import defs\n")
    direct = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}}
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides=direct) as instance, \
            define_out_of_process_context(str(location), "defs", instance) as context:
        yield context, ids


def _asset(context: WorkspaceRequestContext, key: dg.AssetKey) -> dict[str, Any]:
    result = execute_dagster_graphql(context, ASSET_QUERY, variables={"key": key.to_graphql_input()})
    assert not result.errors, result.errors
    node: dict[str, Any] = result.data["assetNodeOrError"]
    assert node["__typename"] == "AssetNode", node
    return node


def _launch(context: WorkspaceRequestContext, job: str, keys: list[dg.AssetKey]) -> str:
    selection: list[Any] = [k.to_graphql_input() for k in keys]
    selector = infer_job_selector(context, job, asset_selection=selection)
    result = execute_dagster_graphql(context, LAUNCH_PIPELINE_EXECUTION_MUTATION,
                                     variables={"executionParams": {"selector": selector, "mode": "default"}})
    assert not result.errors, result.errors
    launched = result.data["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id: str = launched["run"]["runId"]
    return run_id


def _finished(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRun:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run
        time.sleep(0.5)
    logs = [str(e.dagster_event.event_type_value if e.dagster_event else e.user_message)[:300]
            for e in instance.all_logs(run_id)]
    raise AssertionError(f"run {run_id} did not finish: {run and run.status}; {logs}")


def test_the_asset_shows_its_job_schedule_sensor_checks_and_lineage(
    graphql: tuple[WorkspaceRequestContext, dict[str, str]],
) -> None:
    context, _ids = graphql
    people = _asset(context, PEOPLE)
    assert people["jobNames"] == [IMPLICIT_ASSET_JOB_NAME, "people_warehouse"]
    assert people["isExecutable"] and people["isMaterializable"]
    assert people["targetingInstigators"] == [{"__typename": "Schedule", "name": "nightly_people_schedule"}]
    assert people["assetChecksOrError"]["checks"] == [{"name": "mapping_person_id"}]
    assert "people_warehouse__pipeline.sink" in people["opNames"]
    copy = _asset(context, COPY)
    assert copy["jobNames"] == [IMPLICIT_ASSET_JOB_NAME, "people_copy"]
    assert copy["targetingInstigators"] == [{"__typename": "Sensor", "name": "on_people_sensor"}]
    assert copy["dependencyKeys"] == [{"path": ["integrations", "people_sync"]}]  # it reads what People Sync writes
    source = people["dependencyKeys"]
    assert source == [] or source[0]["path"][0] == "integration_sources"  # an inline source names no place


@pytest.mark.slow
def test_materializing_the_asset_runs_the_integration_as_its_job(
    graphql: tuple[WorkspaceRequestContext, dict[str, str]], db: psycopg.Connection[Any],
) -> None:
    context, ids = graphql
    instance = context.instance
    by_job = _finished(instance, _launch(context, "people_warehouse", [PEOPLE]))
    assert by_job.is_success, by_job
    by_ui = _finished(instance, _launch(context, IMPLICIT_ASSET_JOB_NAME, [PEOPLE]))  # the UI's Materialize button
    assert by_ui.is_success, by_ui
    for run in (by_job, by_ui):
        events = instance.fetch_materializations(PEOPLE, limit=10).records
        assert run.run_id in {e.run_id for e in events}
    rows = db.execute(
        "SELECT dagster_run_id, dagster_job_name, status, records_out, tags->>'integration/config_id' AS config "
        "FROM integration_executions ORDER BY created_at").fetchall()
    assert [(r["dagster_run_id"], r["dagster_job_name"], r["status"], r["records_out"], r["config"]) for r in rows] == [
        (by_job.run_id, "people_warehouse", "succeeded", 2, ids["people"]),
        (by_ui.run_id, "people_warehouse", "succeeded", 2, ids["people"]),
    ]
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 4}


@pytest.mark.slow
def test_one_integration_per_asset_run(
    graphql: tuple[WorkspaceRequestContext, dict[str, str]], db: psycopg.Connection[Any],
) -> None:
    context, _ids = graphql
    run = _finished(context.instance, _launch(context, IMPLICIT_ASSET_JOB_NAME, [PEOPLE, COPY]))
    assert not run.is_success
    failures = [e for e in context.instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event
                and e.dagster_event.event_type_value in ("STEP_FAILURE", "RUN_FAILURE", "ENGINE_EVENT")]
    text = " ".join(str(e.dagster_event.event_specific_data) for e in failures if e.dagster_event)
    assert "A run materializes one integration" in text
    assert db.execute("SELECT count(*) AS n FROM integration_executions").fetchone() == {"n": 0}
