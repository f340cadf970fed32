"""Data teams' own ops as pipeline steps (``integration_orchestrator.ops``), registered in process.

The installed-package path (entry point group) is tested in ``test_custom_ops_installed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions, check_snapshot
from integration_orchestrator.factory.assets import pipeline_graph
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.ops import RecordFailure, integration_op, register_op
from integration_orchestrator_tests.rows import (
    add_config,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)


class Tiers(dg.ConfigurableResource["Tiers"]):
    by_name: dict[str, str]


@integration_op(name="test.tier", config_schema={"default": dg.Field(str, default_value="std")},
                required_resource_keys={"tiers"})
def tier(context: Any, config: dict[str, Any], records: list[dict[str, Any]]) -> Iterator[Any]:
    tiers: Tiers = context.resources.tiers
    for record in records:
        if record.get("name") == "bad":
            yield RecordFailure(record, "no tier for a bad record")
        else:
            yield {**record, "tier": tiers.by_name.get(str(record.get("name")), config["default"])}


register_op(tier)
RESOURCES = {"tiers": Tiers(by_name={"ada": "vip"})}
RECORDS = [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}, {"id": 3, "name": "bad"}]


def _people(db: psycopg.Connection[Any], steps: list[dict[str, Any]], **pipeline: Any) -> str:
    org = add_organization(db)
    config = add_config(db, org, "People", RECORDS)
    create_target_table(db)
    return add_pipeline(db, org, config, "people", steps, **pipeline)


def test_an_op_step_runs_as_its_own_node_with_the_users_resource(
    db: psycopg.Connection[Any], database_url: str,
) -> None:
    _people(db, [jmespath_step("upper", 1, "map", "@"), {"name": "tier", "order": 2, "op": "test.tier"}],
            strategy="dead_letter")
    defs = build_definitions(database_url, resources=RESOURCES)
    job = defs.get_job_def("people")
    definition = pipeline_graph(job).node_named("step_tier").definition
    assert isinstance(definition, dg.OpDefinition) and definition.name == "integration_op_test_tier_1"
    assert "tiers" in definition.required_resource_keys
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    rows = db.execute("SELECT id, name, tier FROM people_out ORDER BY id").fetchall()
    assert rows == [{"id": 1, "name": "ada", "tier": "vip"}, {"id": 2, "name": "bob", "tier": "std"}]
    letters = db.execute("SELECT record, error_message, step_name FROM integration_dead_letters").fetchall()
    assert [(r["record"]["name"], r["step_name"]) for r in letters] == [("bad", "tier")]
    assert "no tier for a bad record" in letters[0]["error_message"]


def test_an_op_failure_follows_fail_fast(db: psycopg.Connection[Any], database_url: str) -> None:
    _people(db, [{"name": "tier", "order": 1, "op": "test.tier", "config": {"default": "gold"}}], strategy="fail_fast")
    job = build_definitions(database_url, resources=RESOURCES).get_job_def("people")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 0}


@pytest.mark.parametrize(("step", "resources", "reason"), [
    ({"op": "test.nope"}, RESOURCES, "unknown op `test.nope`"),
    ({"op": "test.tier", "config": {"default": 3}}, RESOURCES, "config of op `test.tier` is invalid"),
    ({"op": "test.tier", "config": {"colour": "red"}}, RESOURCES, "config of op `test.tier` is invalid"),
    ({"op": "test.tier"}, {}, "op `test.tier` needs resource(s) tiers"),
    ({"op": "test.tier", "when": "id > `1`"}, RESOURCES, "not supported on an op step (op `test.tier`"),
    ({"op": "test.tier", "transformation_id": "x"}, RESOURCES, "needs exactly one of"),
])
def test_a_bad_op_step_is_an_invalid_row_naming_the_op(
    db: psycopg.Connection[Any], database_url: str, step: dict[str, Any], resources: dict[str, Any], reason: str,
) -> None:
    pipeline = _people(db, [{"name": "tier", "order": 1, **step}])
    checked = check_snapshot(load_snapshot_from_url(database_url), database_url, resources=resources)
    assert checked.jobs == ()
    [invalid] = [r for r in checked.invalid if r.row_id == pipeline]
    assert invalid.table == "integration_pipeline_definitions"
    assert reason in invalid.message, invalid.message
