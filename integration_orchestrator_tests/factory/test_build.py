"""Rows → Definitions → a real run in process, results written back to PostgreSQL."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory import IntegrationDefinitionSpec, IntegrationTranslator, IntegrationTranslatorData
from integration_orchestrator.factory.assets import pipeline_graph
from integration_orchestrator.factory.health import HEALTH_ASSET_KEY
from integration_orchestrator.factory.jobs import execution_config
from integration_orchestrator.run import run_integration_job
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

PEOPLE = [
    {"person": {"id": 1, "name": "ada"}, "kind": "vip"},
    {"person": {"id": 2, "name": "bob"}, "kind": "std"},
    {"person": {"id": 3, "name": "cy"}, "kind": "std"},
]


def _sample(db: psycopg.Connection[Any]) -> dict[str, str]:
    org = add_organization(db)
    config = add_config(db, org, "People Sync", PEOPLE)
    m_id = add_mapping(db, org, config, "person id", "person.id", "id", target_data_type="integer", is_required=True)
    add_mapping(db, org, config, "person name", "person.name", "name")
    add_mapping(db, org, config, "kind", "kind", "tier")
    add_mapping_test(db, org, m_id, "id copied", {"person": {"id": 42}}, {"id": 42})
    pipeline = add_pipeline(db, org, config, "People → Warehouse", [
        jmespath_step("upper", 1, "map", "merge(@, {name: join('', [name, '!'])})"),
        jmespath_step("not cy", 2, "filter", "id != `3`"),
        jmespath_step("batch", 3, "enrich", "{batch: 'b1'}"),
    ])
    create_target_table(db)
    return {"org": org, "config": config, "pipeline": pipeline, "mapping": m_id}


def test_rows_become_a_job_asset_and_check(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    defs = build_definitions(database_url)
    job = defs.get_job_def("people_warehouse")
    assert job.tags["integration/config_id"] == ids["config"]
    assert job.tags["integration/organization_id"] == ids["org"]
    assert job.tags["integration/pipeline_id"] == ids["pipeline"]
    assert {n.name for n in pipeline_graph(job).nodes} == {
        "source", "mappings", "step_upper", "step_not_cy", "step_batch", "checks", "sink",
    }
    repo = defs.get_repository_def()
    keys = repo.asset_graph.get_all_asset_keys()
    assert dg.AssetKey(["integrations", "people_sync"]) in keys
    assert HEALTH_ASSET_KEY in keys
    check_keys = repo.asset_graph.asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["integrations", "people_sync"]), "mapping_person_id") in check_keys


def test_run_writes_target_rows_execution_and_checks(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    defs = build_definitions(database_url)
    with dg.instance_for_test() as instance:
        result = defs.get_job_def("people_warehouse").execute_in_process(instance=instance)
        assert result.success
        materializations = result.asset_materializations_for_node("people_warehouse__pipeline.sink")
        assert materializations[0].metadata["records_in"].value == 3
        assert materializations[0].metadata["records_out"].value == 2
        assert materializations[0].metadata["records_dropped"].value == 1
        steps_table = materializations[0].metadata["steps"].value
        assert isinstance(steps_table, str)
        assert "| upper |" in steps_table
        evaluations = result.get_asset_check_evaluations()
        assert [(e.check_name, e.passed) for e in evaluations] == [("mapping_person_id", True)]
    rows = db.execute("SELECT id, name, tier, batch FROM people_out ORDER BY id").fetchall()
    assert rows == [
        {"id": 1, "name": "ada!", "tier": "vip", "batch": "b1"},
        {"id": 2, "name": "bob!", "tier": "std", "batch": "b1"},
    ]
    execution = db.execute("SELECT * FROM integration_executions").fetchone()
    assert execution is not None
    assert execution["dagster_run_id"] == result.run_id
    assert execution["status"] == "succeeded"
    assert (execution["records_in"], execution["records_out"], execution["records_failed"]) == (3, 2, 0)
    assert str(execution["pipeline_id"]) == ids["pipeline"]
    assert execution["finished_at"] >= execution["started_at"]
    test_row = db.execute("SELECT test_status, actual_output, last_run FROM integration_mapping_tests").fetchone()
    assert test_row is not None and test_row["test_status"] == "passed" and test_row["last_run"] is not None


class _Renaming(IntegrationTranslator):
    def get_integration_spec(self, data: IntegrationTranslatorData) -> IntegrationDefinitionSpec:
        spec = super().get_integration_spec(data)
        return spec.replace(job_name=f"team_{spec.job_name}", op_tags={**spec.op_tags, "team": "finance"})


def test_translator_override_point(db: psycopg.Connection[Any], database_url: str) -> None:
    _sample(db)
    defs = build_definitions(database_url, translator=_Renaming())
    job = defs.get_job_def("team_people_warehouse")
    assert all(node.tags.get("team") == "finance" for node in pipeline_graph(job).nodes)


def test_linear_jobs_run_in_process_parallel_ones_in_forkserver_step_processes(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    ids = _sample(db)
    add_pipeline(db, ids["org"], ids["config"], "People fan out", [jmespath_step("batch", 1, "enrich", "{batch: 'b'}")],
                 pipeline_type="parallel", performance={"batch_size": 2, "parallelism": 3})
    defs = build_definitions(database_url)
    linear, parallel = defs.get_job_def("people_warehouse"), defs.get_job_def("people_fan_out")
    assert execution_config(linear) == {"in_process": {}}
    assert execution_config(parallel) == {"multiprocess": {"start_method": {"forkserver": {}}, "max_concurrent": 3}}


class _OwnExecutor(IntegrationTranslator):
    def get_integration_spec(self, data: IntegrationTranslatorData) -> IntegrationDefinitionSpec:
        return super().get_integration_spec(data).replace(run_config=None)


def test_translator_can_drop_the_executor_config(db: psycopg.Connection[Any], database_url: str) -> None:
    _sample(db)
    job = build_definitions(database_url, translator=_OwnExecutor()).get_job_def("people_warehouse")
    assert not job.run_config and execution_config(job) is None


def test_schedule_rows_become_schedules_of_the_job(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    add_schedule(db, ids["org"], ids["config"], schedule_name="Nightly People", cron_expression="0 2 * * *",
                 timezone="Europe/Berlin")
    defs = build_definitions(database_url)
    schedule = defs.get_schedule_def("nightly_people_schedule")
    assert schedule.job_name == "people_warehouse"
    assert schedule.execution_timezone == "Europe/Berlin"


def test_failing_required_mapping_check_blocks_the_write(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    add_mapping_test(db, ids["org"], ids["mapping"], "wrong on purpose", {"person": {"id": 7}}, {"id": 8})
    summary = run_integration_job("people_warehouse", database_url=database_url)
    assert not summary.success
    assert summary.checks == {"mapping_person_id": False}
    assert summary.execution is not None and summary.execution["status"] == "failed"
    assert "blocking mapping check failed" in (summary.error or "")
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 0}
    statuses = sorted(r["test_status"] for r in db.execute("SELECT test_status FROM integration_mapping_tests"))
    assert statuses == ["failed", "passed"]


def test_run_integration_job_summary(db: psycopg.Connection[Any], database_url: str) -> None:
    _sample(db)
    summary = run_integration_job("people_warehouse", database_url=database_url)
    assert summary.success and summary.checks == {"mapping_person_id": True}
    assert summary.execution is not None
    assert (summary.execution["status"], summary.execution["records_out"]) == ("succeeded", 2)
    assert summary.lines()[1].endswith("records in 3, out 2, failed 0")


def test_organization_scoped_definitions(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    other = add_organization(db, "Other Org")
    add_pipeline(db, other, add_config(db, other, "Other Sync"), "other pipeline", [jmespath_step("a", 1, "map", "@")])
    assert {j.name for j in build_definitions(database_url).jobs} >= {"people_warehouse", "other_pipeline"}
    scoped = build_definitions(database_url, organization_id=ids["org"])
    assert "people_warehouse" in {j.name for j in scoped.jobs}
    assert "other_pipeline" not in {j.name for j in scoped.jobs}


class _Pooled(IntegrationTranslator):
    def get_integration_spec(self, data: IntegrationTranslatorData) -> IntegrationDefinitionSpec:
        spec = super().get_integration_spec(data)
        return spec.replace(pool="erp-api") if data.record.config.integration_name == "People Sync" else spec


def test_translator_pool_gets_its_own_op_definitions(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _sample(db)
    add_pipeline(db, ids["org"], add_config(db, ids["org"], "Plain"), "plain", [jmespath_step("a", 1, "map", "@")])
    defs = build_definitions(database_url, translator=_Pooled())
    pooled = pipeline_graph(defs.get_job_def("people_warehouse")).node_named("source").definition
    plain = pipeline_graph(defs.get_job_def("plain")).node_named("source").definition
    assert isinstance(pooled, dg.OpDefinition) and isinstance(plain, dg.OpDefinition)
    assert (pooled.pool, pooled.name) == ("erp-api", "integration_source__pool_erp_api")
    assert (plain.pool, plain.name) == (None, "integration_source")
    defs.get_repository_def()  # no name conflict between the two definitions


def test_declared_checks_execute_from_the_asset_job(db: psycopg.Connection[Any], database_url: str) -> None:
    _sample(db)
    defs = build_definitions(database_url)
    key = dg.AssetCheckKey(dg.AssetKey(["integrations", "people_sync"]), "mapping_person_id")
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_check_selection={key}, asset_selection=set())
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert [(e.check_name, e.passed) for e in result.get_asset_check_evaluations()] == [("mapping_person_id", True)]
    assert db.execute("SELECT test_status FROM integration_mapping_tests").fetchone() == {"test_status": "passed"}
