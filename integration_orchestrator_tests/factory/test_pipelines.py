"""Each pipeline type and each error strategy, executed for real (in process)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.assets import pipeline_graph
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

PEOPLE = [
    {"person": {"id": 1, "name": "ada"}, "kind": "vip"},
    {"person": {"id": 2, "name": "bob"}, "kind": "std"},
    {"person": {"id": 3, "name": "cy"}, "kind": "std"},
]
UPPER = "merge(@, {name: join('', [name, '!'])})"
BAD_ID_2 = "id == `2` && 'bad id' || null"


def _setup(db: psycopg.Connection[Any], steps: list[dict[str, Any]], **pipeline: Any) -> dict[str, str]:
    org = add_organization(db)
    config = add_config(db, org, "People", PEOPLE)
    add_mapping(db, org, config, "id", "person.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "person.name", "name")
    add_mapping(db, org, config, "kind", "kind", "tier")
    pipeline_id = add_pipeline(db, org, config, "people", steps, **pipeline)
    create_target_table(db)
    return {"org": org, "config": config, "pipeline": pipeline_id}


def _run(database_url: str) -> dg.ExecuteInProcessResult:
    defs = build_definitions(database_url)
    with dg.instance_for_test() as instance:
        return defs.get_job_def("people").execute_in_process(instance=instance, raise_on_error=False)


def _rows(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return [
        tuple(r.values())
        for r in db.execute("SELECT id, name, tier, batch FROM people_out ORDER BY id, batch").fetchall()
    ]


PIPELINES: dict[str, tuple[dict[str, Any], list[dict[str, Any]], list[tuple[Any, ...]]]] = {
    "linear": (
        dict(pipeline_type="linear"),
        [jmespath_step("b", 2, "filter", "id != `3`"), jmespath_step("a", 1, "map", UPPER)],
        [(1, "ada!", "vip", None), (2, "bob!", "std", None)],
    ),
    "conditional": (
        dict(pipeline_type="conditional"),
        [jmespath_step("vip name", 1, "map", UPPER, when="tier == 'vip'"),
         jmespath_step("std batch", 2, "enrich", "{batch: 's'}", when="tier == 'std'")],
        [(1, "ada!", "vip", None), (2, "bob", "std", "s"), (3, "cy", "std", "s")],
    ),
    "parallel": (
        dict(pipeline_type="parallel", performance={"batch_size": 1, "parallelism": 2}),
        [jmespath_step("name", 1, "map", UPPER), jmespath_step("batch", 2, "enrich", "{batch: 'p'}")],
        [(1, "ada!", "vip", "p"), (2, "bob!", "std", "p"), (3, "cy!", "std", "p")],
    ),
    "hybrid_fan_in": (
        dict(pipeline_type="hybrid"),
        [jmespath_step("vips", 1, "filter", "tier == 'vip'"),
         jmespath_step("stds", 2, "filter", "tier == 'std' && id != `3`"),
         jmespath_step("join", 3, "enrich", "{batch: 'j'}", depends_on=["stds", "vips"])],
        [(1, "ada", "vip", "j"), (2, "bob", "std", "j")],
    ),
    "hybrid_fan_out": (
        dict(pipeline_type="hybrid"),
        [jmespath_step("base", 1, "map", UPPER),
         jmespath_step("left", 2, "enrich", "{batch: 'l'}", depends_on=["base"], when="tier == 'vip'"),
         jmespath_step("right", 3, "filter", "tier == 'vip'", depends_on=["base"])],
        [(1, "ada!", "vip", "l"), (1, "ada!", "vip", None), (2, "bob!", "std", None), (3, "cy!", "std", None)],
    ),
}


@pytest.mark.parametrize("case", sorted(PIPELINES))
def test_pipeline_types(case: str, db: psycopg.Connection[Any], database_url: str) -> None:
    pipeline, steps, expected = PIPELINES[case]
    _setup(db, steps, **pipeline)
    result = _run(database_url)
    assert result.success
    assert _rows(db) == expected
    execution = db.execute("SELECT status, records_in, records_out FROM integration_executions").fetchone()
    assert execution == {"status": "succeeded", "records_in": 3, "records_out": len(expected)}


def test_parallel_fans_out_one_op_per_batch(db: psycopg.Connection[Any], database_url: str) -> None:
    pipeline, steps, _ = PIPELINES["parallel"]
    _setup(db, steps, **pipeline)
    result = _run(database_url)
    mapped = {
        e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS" and "[" in (e.step_key or "")
    }
    assert mapped == {f"people__pipeline.step_{s}[batch_{i:06d}]" for s in ("name", "batch") for i in range(3)}
    steps_table = result.asset_materializations_for_node("people__pipeline.sink")[0].metadata["steps"].value
    assert isinstance(steps_table, str)
    assert "| name | 3 | 3 | 0 | 0 |" in steps_table  # statistics summed over the batches


VALIDATE = [jmespath_step("check", 1, "validate", BAD_ID_2)]


def test_fail_fast_fails_the_run_and_writes_nothing(db: psycopg.Connection[Any], database_url: str) -> None:
    _setup(db, VALIDATE, strategy="fail_fast")
    result = _run(database_url)
    assert not result.success
    assert _rows(db) == []
    execution = db.execute("SELECT status, error_message FROM integration_executions").fetchone()
    assert execution is not None and execution["status"] == "failed"
    assert execution["error_message"].startswith("step_check: Step `check`") and "bad id" in execution["error_message"]


def test_continue_on_error_drops_and_counts(db: psycopg.Connection[Any], database_url: str) -> None:
    _setup(db, VALIDATE, strategy="continue_on_error")
    result = _run(database_url)
    assert result.success
    assert [r[0] for r in _rows(db)] == [1, 3]
    execution = db.execute(
        "SELECT status, records_in, records_out, records_failed FROM integration_executions"
    ).fetchone()
    assert execution == {"status": "succeeded", "records_in": 3, "records_out": 2, "records_failed": 1}
    assert db.execute("SELECT count(*) AS n FROM integration_dead_letters").fetchone() == {"n": 0}


def test_dead_letter_stores_failed_records(db: psycopg.Connection[Any], database_url: str) -> None:
    ids = _setup(db, VALIDATE, strategy="dead_letter")
    result = _run(database_url)
    assert result.success
    assert [r[0] for r in _rows(db)] == [1, 3]
    letter = db.execute(
        "SELECT d.step_name, d.record, d.error_message, d.status, d.pipeline_id, e.dagster_run_id"
        " FROM integration_dead_letters d JOIN integration_executions e ON e.id = d.execution_id"
    ).fetchall()
    assert len(letter) == 1
    assert letter[0]["step_name"] == "check" and letter[0]["record"]["id"] == 2
    assert "bad id" in letter[0]["error_message"] and letter[0]["status"] == "pending"
    assert str(letter[0]["pipeline_id"]) == ids["pipeline"] and letter[0]["dagster_run_id"] == result.run_id


def test_retry_strategy_retries_the_op_with_the_row_policy(db: psycopg.Connection[Any], database_url: str) -> None:
    _setup(db, VALIDATE, strategy="retry",
           performance={"retry": {"max_retries": 2, "delay_seconds": 0, "backoff": "linear", "jitter": False}})
    defs = build_definitions(database_url)
    node = pipeline_graph(defs.get_job_def("people")).node_named("step_check")
    assert node.retry_policy == dg.RetryPolicy(max_retries=2, delay=0, backoff=dg.Backoff.LINEAR)
    result = _run(database_url)
    assert not result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert len(retries) == 2
    execution = db.execute("SELECT status FROM integration_executions").fetchone()
    assert execution == {"status": "failed"}
