"""One bad row never takes the others down; `validate` and the UI list each with its reason."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.engines import default_engines
from integration_orchestrator.factory.health import HEALTH_ASSET_KEY
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.validate import validate_snapshot
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    add_transformation,
    jmespath_step,
)

GOOD = [jmespath_step("a", 1, "map", "@")]

# case → (how to break it, table of the invalid row, field, text in the reason)
BAD_ROWS: dict[str, tuple[Any, str, str | None, str]] = {
    "unknown source type": (
        lambda db, org: add_config(db, org, "Broken", target={"type": "nowhere"}),
        "integration_configs", None, "nowhere",
    ),
    "bad mapping path": (
        lambda db, org: add_mapping(db, org, add_config(db, org, "Broken"), "bad path", "a[", "x"),
        "integration_mappings", "source_path", "",
    ),
    "step cycle": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "cyclic", [
            jmespath_step("a", 1, "map", "@", depends_on=["b"]), jmespath_step("b", 2, "map", "@", depends_on=["a"]),
        ], pipeline_type="hybrid"),
        "integration_pipeline_definitions", "pipeline_steps.steps", "cycle",
    ),
    "unknown transformation id": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "dangling", [
            {"name": "a", "order": 1, "transformation_id": "00000000-0000-0000-0000-000000000000"}]),
        "integration_pipeline_definitions", "pipeline_steps.steps[0].transformation_id", "no transformation",
    ),
    "bad when": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "bad when", [
            jmespath_step("a", 1, "map", "@", when="a ==")], pipeline_type="conditional"),
        "integration_pipeline_definitions", "pipeline_steps.steps[0].when", "JMESPath",
    ),
    "bad transformation logic": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "bad logic", [
            jmespath_step("a", 1, "map", "foo[")]),
        "integration_pipeline_definitions", "pipeline_steps", "step `a`",
    ),
    "bad batch size": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "bad perf", GOOD,
                                     pipeline_type="parallel", performance={"batch_size": 0}),
        "integration_pipeline_definitions", "performance_config.batch_size", "positive integer",
    ),
    "bad retry policy": (
        lambda db, org: add_pipeline(db, org, add_config(db, org, "Broken"), "bad retry", GOOD, strategy="retry",
                                     performance={"retry": {"backoff": "sideways"}}),
        "integration_pipeline_definitions", "performance_config.retry.backoff", "exponential",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_one_bad_row_is_reported_and_the_rest_loads(case: str, db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    good = add_config(db, org, "Good One")
    add_pipeline(db, org, good, "good pipeline", GOOD)
    breaker, table, field, text = BAD_ROWS[case]
    breaker(db, org)
    result = validate_snapshot(load_snapshot_from_url(database_url), default_engines())
    assert [r.pipeline.pipeline_name for r in result.integrations if r.pipeline] == ["good pipeline"]
    assert len(result.invalid) == 1
    invalid = result.invalid[0]
    assert invalid.table == table
    if field is not None:
        assert invalid.field == field
    assert text in invalid.message
    assert invalid.message.startswith("In ")


def test_health_asset_lists_invalid_rows_in_the_ui(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "Good"), "good", GOOD)
    add_pipeline(db, org, add_config(db, org, "Broken"), "cyclic", [
        jmespath_step("a", 1, "map", "@", depends_on=["a"])], pipeline_type="hybrid")
    defs = build_definitions(database_url)
    assert defs.get_job_def("good").name == "good"
    spec = next(s for s in defs.assets if getattr(s, "key", None) == HEALTH_ASSET_KEY)
    assert spec.metadata["invalid_row_count"] == 1
    invalid_rows = spec.metadata["invalid_rows"].value
    assert isinstance(invalid_rows, str)
    assert "cyclic" in invalid_rows and "cannot depend on itself" in invalid_rows
    assert spec.description.startswith("WARNING: 1 invalid")


def test_validate_cli_lists_invalid_rows_and_exits_2(db: psycopg.Connection[Any], run_cli: Any) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "Good"), "good", GOOD)
    add_config(db, org, "Broken", target={"type": "nowhere"})
    done = run_cli("validate")
    assert done.returncode == 2, done.stderr
    assert "invalid: In " in done.stdout and "Broken" in done.stdout
    assert "1 integration job(s) valid, 1 invalid row(s)" in done.stdout


def test_validate_cli_exits_0_when_all_valid(db: psycopg.Connection[Any], run_cli: Any) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "Good"), "good", GOOD)
    done = run_cli("validate")
    assert done.returncode == 0, done.stderr
    assert "job good -> asset integrations/good" in done.stdout


def test_database_down_is_one_clear_error(run_cli: Any) -> None:
    done = run_cli("validate", env={"INTEGRATION_ORCHESTRATOR_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: Cannot reach the integration database")
    assert "Traceback" not in done.stderr


def test_reused_transformation_row(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    upper = add_transformation(db, org, "shout", {"expression": "merge(@, {loud: `true`})"}, transformation_type="map")
    add_pipeline(db, org, add_config(db, org, "Good"), "good", [{"name": "s", "order": 1, "transformation_id": upper}])
    result = validate_snapshot(load_snapshot_from_url(database_url), default_engines())
    assert result.invalid == ()
    assert result.integrations[0].settings.steps[0].transformation["transformation_name"] == "shout"
