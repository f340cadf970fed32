"""Tenant isolation end to end: a per-organization code location holds none of another
organization's definitions or rows, and its runs read and write as the application role
of their own organization only (row-level security)."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.snapshot import snapshot_to_json
from integration_orchestrator.factory.writeback import ensure_execution
from integration_orchestrator_tests.rows import (
    add_config,
    add_execution,
    add_mapping,
    add_mapping_test,
    add_organization,
    add_pipeline,
    add_schedule,
    create_target_table,
    jmespath_step,
)

Conn = psycopg.Connection[dict[str, Any]]
TENANT_TABLES = ("integration_configs", "integration_mappings", "integration_pipeline_definitions",
                 "integration_schedules", "integration_executions", "integration_dead_letters",
                 "integration_config_history", "integration_mapping_tests")


def _tenant(db: Conn, name: str) -> dict[str, str]:
    org = add_organization(db, name)
    slug = name.lower()
    config = add_config(db, org, f"{name} People", [{"p": {"id": 1}}, {"p": {"id": 2}}])
    mapping = add_mapping(db, org, config, f"{slug} id", "p.id", "id", target_data_type="integer")
    add_mapping_test(db, org, mapping, f"{slug} copies id", {"p": {"id": 5}}, {"id": 5})
    pipeline = add_pipeline(db, org, config, f"{name} Pipeline",
                            [jmespath_step(f"{slug} check", 1, "validate", "id == `2` && 'two' || null")],
                            strategy="dead_letter")
    add_schedule(db, org, config, schedule_name=f"{name} Hourly", cron_expression="0 * * * *")
    return {"org": org, "config": config, "pipeline": pipeline, "name": name, "slug": slug}


@pytest.fixture
def tenants(db: Conn) -> tuple[dict[str, str], dict[str, str]]:
    create_target_table(db)
    return _tenant(db, "Alpha"), _tenant(db, "Beta")


def _names(defs: dg.Definitions) -> set[str]:
    repo = defs.get_repository_def()
    names = {j.name for j in repo.get_all_jobs()}
    names |= {s.name for s in repo.schedule_defs} | {s.name for s in repo.sensor_defs}
    names |= {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    names |= {k.to_user_string() for k in repo.asset_graph.asset_check_keys}
    return names


def test_code_location_per_organization_has_none_of_the_others(
    database_url: str, tenants: tuple[dict[str, str], dict[str, str]]
) -> None:
    alpha, beta = tenants
    everything = _names(build_definitions(database_url))
    assert {"alpha_pipeline", "beta_pipeline", "alpha_hourly_schedule", "beta_hourly_schedule"} <= everything
    for own, other in ((alpha, beta), (beta, alpha)):
        names = _names(build_definitions(database_url, organization_id=own["org"]))
        assert {f"{own['slug']}_pipeline", f"{own['slug']}_hourly_schedule"} <= names
        assert not [n for n in names if other["slug"] in n], names
        snapshot = snapshot_to_json(load_snapshot_from_url(database_url, own["org"]))  # what run workers rebuild from
        assert own["config"] in snapshot
        assert not [v for v in (other["org"], other["config"], other["pipeline"], other["name"]) if v in snapshot]


def test_runs_write_and_read_only_their_organization(
    db: Conn, database_url: str, tenants: tuple[dict[str, str], dict[str, str]]
) -> None:
    alpha, beta = tenants
    defs = build_definitions(database_url, organization_id=alpha["org"])
    with dg.instance_for_test() as instance:
        assert defs.get_job_def("alpha_pipeline").execute_in_process(instance=instance).success
    rows = db.execute(
        "SELECT organization_id::text AS org, count(*) AS n FROM integration_dead_letters GROUP BY 1"
    ).fetchall()
    assert rows == [{"org": alpha["org"], "n": 1}]
    runs = db.execute("SELECT organization_id::text AS org, status FROM integration_executions").fetchall()
    assert runs == [{"org": alpha["org"], "status": "succeeded"}]
    # the connection the ops use, as Alpha: Beta's rows do not exist for it
    for table in TENANT_TABLES:
        with tenant_transaction(db, alpha["org"]):
            seen = db.execute(
                f"SELECT count(*) AS n FROM {table} WHERE organization_id = %s", (beta["org"],)
            ).fetchone()
            everything = db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
        own = db.execute(f"SELECT count(*) AS n FROM {table} WHERE organization_id = %s", (alpha["org"],)).fetchone()
        assert seen == {"n": 0} and everything == own, table
    # and the write-back cannot write into Beta, even given Beta's ids
    with pytest.raises(psycopg.errors.Error):
        ensure_execution(db, run_id="forged", job_name="x", organization_id=alpha["org"], config_id=beta["config"],
                         pipeline_id=beta["pipeline"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        _insert_as(db, alpha["org"], beta)


def _insert_as(db: Conn, org: str, other: dict[str, str]) -> None:
    with tenant_transaction(db, org):
        add_execution(db, other["org"], other["config"])


def test_cli_as_one_organization(run_cli: Any, db: Conn, tenants: tuple[dict[str, str], dict[str, str]]) -> None:
    alpha, beta = tenants
    db.execute("UPDATE integration_mappings SET source_path = '$[' WHERE mapping_name = 'beta id'")
    result = run_cli("validate", "--organization-id", alpha["org"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alpha_pipeline" in result.stdout and "beta" not in result.stdout.lower()
    assert run_cli("validate", "--organization-id", beta["org"]).returncode == 2
    history = run_cli("history", beta["config"], "--organization", alpha["org"], "--json")
    assert history.returncode == 2 and "has no history in this organization" in history.stderr
    own = json.loads(run_cli("history", beta["config"], "--organization", beta["org"], "--json").stdout)
    assert own["name"] == "Beta People"


def test_cli_over_every_organization_works_per_tenant(
    run_cli: Any, db: Conn, database_url: str, tenants: tuple[dict[str, str], dict[str, str]]
) -> None:
    """`mappings test` and `dead-letters list` go through each organization's application role in turn."""
    for tenant in tenants:
        with dg.instance_for_test() as instance:
            defs = build_definitions(database_url, organization_id=tenant["org"])
            assert defs.get_job_def(f"{tenant['slug']}_pipeline").execute_in_process(instance=instance).success
    listed = run_cli("dead-letters", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Alpha People" in listed.stdout and "Beta People" in listed.stdout and "2 dead letter(s)" in listed.stdout
    replayed = run_cli("dead-letters", "replay")  # the check still fails record 2 in both organizations
    assert replayed.returncode == 1 and "replayed 0, failed again 2" in replayed.stdout, (
        replayed.stdout + replayed.stderr
    )
    tested = run_cli("mappings", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "alpha copies id" in tested.stdout and "beta copies id" in tested.stdout
    statuses = db.execute("SELECT test_status::text AS s FROM integration_mapping_tests ORDER BY 1").fetchall()
    assert statuses == [{"s": "passed"}, {"s": "passed"}]
