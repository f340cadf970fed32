"""dead-letters list | replay: audited, never duplicated, failures stay pending."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

PEOPLE = [{"p": {"id": i, "name": n}} for i, n in [(1, "a"), (2, "b"), (3, "c")]]


def _dead_letter_run(db: psycopg.Connection[Any], database_url: str) -> str:
    org = add_organization(db)
    config = add_config(db, org, "People", PEOPLE)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    pipeline = add_pipeline(db, org, config, "people", [
        jmespath_step("check", 1, "validate", "id != `1` && 'not yet' || null"),
        jmespath_step("tag", 2, "enrich", "{tier: 'replayed-or-not'}"),
    ], strategy="dead_letter")
    create_target_table(db)
    with dg.instance_for_test() as instance:
        assert build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance).success
    assert db.execute("SELECT count(*) AS n FROM integration_dead_letters").fetchone() == {"n": 2}
    return pipeline


def _fix_pipeline(db: psycopg.Connection[Any], pipeline: str, expression: str) -> None:
    steps = {"steps": [jmespath_step("check", 1, "validate", expression),
                       jmespath_step("tag", 2, "enrich", "{tier: 'replayed'}")]}
    db.execute(
        "UPDATE integration_pipeline_definitions SET pipeline_steps = %s WHERE id = %s", (Jsonb(steps), pipeline)
    )


def test_list_shows_pending_letters(db: psycopg.Connection[Any], database_url: str, run_cli: Any) -> None:
    _dead_letter_run(db, database_url)
    done = run_cli("dead-letters", "list")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("pending") == 2 and "step check" in done.stdout and "not yet" in done.stdout
    assert "2 dead letter(s)" in done.stdout


def test_replay_through_the_current_pipeline_once(db: psycopg.Connection[Any], database_url: str, run_cli: Any) -> None:
    pipeline = _dead_letter_run(db, database_url)
    _fix_pipeline(db, pipeline, "id == `3` && 'still bad' || null")  # record 2 now passes, 3 still fails
    done = run_cli("dead-letters", "replay")
    assert done.returncode == 1, done.stderr  # one failed again
    assert "replayed 1, failed again 1" in done.stdout
    rows = db.execute("SELECT id, tier FROM people_out ORDER BY id, tier").fetchall()
    assert rows == [{"id": 1, "tier": "replayed-or-not"}, {"id": 2, "tier": "replayed"}]
    letters = {r["record"]["id"]: r for r in db.execute(
        "SELECT record, status, replay_count, error_message, replay_execution_id FROM integration_dead_letters")}
    assert letters[2]["status"] == "replayed" and letters[2]["replay_execution_id"] is not None
    assert letters[3]["status"] == "pending" and letters[3]["replay_count"] == 1
    assert "still bad" in letters[3]["error_message"]
    audit = db.execute("SELECT dagster_job_name, status, records_in, records_out, records_failed, tags, config_id"
                       " FROM integration_executions WHERE id = %s", (letters[2]["replay_execution_id"],)).fetchone()
    assert audit is not None
    assert audit == {"dagster_job_name": "dead_letter_replay", "status": "succeeded", "records_in": 2,
                     "records_out": 1, "records_failed": 1, "config_id": audit["config_id"],
                     "tags": {"replay": "true", "from_step": "check", "integration/serial": str(audit["config_id"])}}
    # a second replay never writes record 2 again
    _fix_pipeline(db, pipeline, "null")
    done = run_cli("dead-letters", "replay")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "replayed 1, failed again 0" in done.stdout
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id").fetchall()] == [1, 2, 3]


def test_replay_of_a_hybrid_pipeline_follows_the_dag_not_the_step_order(
    db: psycopg.Connection[Any], database_url: str, run_cli: Any
) -> None:
    """The letter failed in `right`; replay runs `right` and what depends on it (`tag`), never `left`,
    which comes after `right` in step order but is on another branch (it drops every record)."""
    org = add_organization(db)
    config = add_config(db, org, "People", PEOPLE)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")

    def steps(check: str) -> list[dict[str, Any]]:
        return [
            jmespath_step("right", 1, "validate", check),
            jmespath_step("left", 2, "filter", "`false`"),
            jmespath_step("tag", 3, "enrich", "{tier: 'joined'}", depends_on=["right"]),
        ]

    pipeline = add_pipeline(db, org, config, "people", steps("id == `2` && 'not yet' || null"),
                            pipeline_type="hybrid", strategy="dead_letter")
    create_target_table(db)
    with dg.instance_for_test() as instance:
        assert build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance).success
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id")] == [1, 3]
    db.execute("UPDATE integration_pipeline_definitions SET pipeline_steps = %s WHERE id = %s",
               (Jsonb({"steps": steps("`null`")}), pipeline))
    done = run_cli("dead-letters", "replay")
    assert "replayed 1, failed again 0" in done.stdout, done.stdout
    rows = db.execute("SELECT id, tier FROM people_out ORDER BY id").fetchall()
    assert rows == [{"id": 1, "tier": "joined"}, {"id": 2, "tier": "joined"}, {"id": 3, "tier": "joined"}]


def test_replay_is_refused_while_a_run_of_the_integration_holds_its_lease(
    db: psycopg.Connection[Any], database_url: str, run_cli: Any
) -> None:
    pipeline = _dead_letter_run(db, database_url)
    _fix_pipeline(db, pipeline, "null")
    holder = db.execute("SELECT organization_id, config_id FROM integration_executions").fetchone()
    assert holder is not None
    db.execute(  # a live run of the same integration (fresh row, running, its serial tag)
        "INSERT INTO integration_executions (dagster_run_id, dagster_job_name, config_id, status, tags,"
        " organization_id) VALUES ('live-run', 'people', %s, 'running', %s, %s)",
        (holder["config_id"], Jsonb({"integration/serial": str(holder["config_id"])}), holder["organization_id"]))
    done = run_cli("dead-letters", "replay")
    assert done.returncode == 1
    assert "refused, run live-run of the integration is still running" in done.stdout, done.stdout + done.stderr
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id").fetchall()] == [1]
    assert db.execute("SELECT count(*) AS n FROM integration_dead_letters WHERE status = 'pending'"
                      ).fetchone() == {"n": 2}
    db.execute("UPDATE integration_executions SET status = 'succeeded' WHERE dagster_run_id = 'live-run'")
    done = run_cli("dead-letters", "replay")
    assert "replayed 2, failed again 0" in done.stdout, done.stdout + done.stderr


def test_a_run_is_refused_while_a_replay_of_the_integration_holds_its_lease(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    _dead_letter_run(db, database_url)
    holder = db.execute("SELECT organization_id, config_id FROM integration_executions").fetchone()
    assert holder is not None
    db.execute(  # a replay in progress (fresh row, running, the integration's serial tag)
        "INSERT INTO integration_executions (dagster_run_id, dagster_job_name, config_id, status, tags,"
        " organization_id) VALUES ('replay:live', 'dead_letter_replay', %s, 'running', %s, %s)",
        (holder["config_id"], Jsonb({"integration/serial": str(holder["config_id"])}), holder["organization_id"]))
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    refused = db.execute("SELECT error_message FROM integration_executions WHERE dagster_run_id = %s",
                         (result.run_id,)).fetchone()
    assert refused is not None and refused["error_message"].startswith("Refused: run replay:live of integration")
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 1}
