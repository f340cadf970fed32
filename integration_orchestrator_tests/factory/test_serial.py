"""One run per integration on every launch path, and re-executions with their own execution row."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.serial import claim_lease
from integration_orchestrator.model.tags import TAG_CONFIG_ID, TAG_SERIAL, TAG_SERIAL_WAIT
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import (
    add_config,
    add_execution,
    add_file_config,
    add_mapping,
    add_organization,
    add_pipeline,
    add_schedule,
    create_target_table,
    jmespath_step,
)

RECORDS = 2_000


def _people(db: psycopg.Connection[Any], path: Path, records: int = 3) -> tuple[str, str]:
    """An append integration reading ``path`` (ndjson, ``records`` people); (org, config)."""
    path.write_text("".join(json.dumps({"p": {"id": i, "name": f"n{i}"}}) + "\n" for i in range(records)))
    org = add_organization(db)
    config = add_file_config(db, org, "People", path)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    add_pipeline(db, org, config, "people", [jmespath_step("tag", 1, "enrich", "{tier: 'x'}")])
    create_target_table(db)
    return org, config


@pytest.mark.parametrize(
    ("schedules", "serial"),
    [
        ((), True),  # manual launches only
        ((False,), True),
        ((True,), False),  # the schedule allows concurrent execution
        ((True, False), True),  # one schedule does not: the job stays serial
        ((True, True), False),
    ],
)
def test_the_job_tags_carry_the_serial_tag_unless_every_schedule_allows_concurrency(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, schedules: tuple[bool, ...], serial: bool
) -> None:
    org, config = _people(db, tmp_path / "people.ndjson")
    for i, allowed in enumerate(schedules):
        add_schedule(db, org, config, schedule_name=f"s{i}", concurrent_execution_allowed=allowed)
    job = build_definitions(database_url).get_job_def("people")
    assert job.tags[TAG_CONFIG_ID] == config
    assert job.tags.get(TAG_SERIAL) == (config if serial else None)
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)  # a manual launch carries the job's tags
        assert result.success
        assert result.dagster_run.tags.get(TAG_SERIAL) == (config if serial else None)


def _row(org: str, config: str, run_id: str) -> dict[str, Any]:
    return {"run_id": run_id, "job_name": "people", "organization_id": org, "config_id": config,
            "pipeline_id": None, "tags": {TAG_SERIAL: config}}


@pytest.mark.parametrize(
    ("fresh", "alive", "refused"),
    [(True, True, True), (True, False, False), (False, True, False)],
)
def test_claim_lease_refuses_only_for_a_live_holder(
    db: psycopg.Connection[Any], database_url: str, fresh: bool, alive: bool, refused: bool
) -> None:
    org = add_organization(db)
    config = add_config(db, org, "People", [])
    add_execution(db, org, config, dagster_run_id="holder", tags=psycopg.types.json.Jsonb({TAG_SERIAL: config}))
    if not fresh:
        db.execute("ALTER TABLE integration_executions DISABLE TRIGGER USER")
        db.execute("UPDATE integration_executions SET updated_at = now() - interval '1 hour'")
        db.execute("ALTER TABLE integration_executions ENABLE TRIGGER USER")
    seen: list[tuple[str, bool]] = []

    def is_alive(run_id: str, row_fresh: bool) -> bool:
        seen.append((run_id, row_fresh))
        return alive and row_fresh

    holder = claim_lease(db, config, is_alive, _row(org, config, "second"))
    assert seen == [("holder", fresh)]
    assert holder == ("holder" if refused else None)
    claimed = db.execute("SELECT status FROM integration_executions WHERE dagster_run_id = 'second'").fetchone()
    assert claimed == (None if refused else {"status": "running"})


def test_a_run_that_finds_a_live_holder_is_refused_with_its_name(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org, config = _people(db, tmp_path / "people.ndjson")
    holder = str(uuid.uuid4())  # a `dagster job execute` of another instance: only its row speaks for it
    add_execution(db, org, config, dagster_run_id=holder, tags=psycopg.types.json.Jsonb({TAG_SERIAL: config}))
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 0}
    row = db.execute("SELECT status, error_message FROM integration_executions WHERE dagster_run_id = %s",
                     (result.run_id,)).fetchone()
    assert row is not None and row["status"] == "failed"
    assert row["error_message"].startswith(f"Refused: run {holder} of integration 'People' is still running")


def test_a_run_told_to_wait_starts_when_the_holder_finishes(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org, config = _people(db, tmp_path / "people.ndjson")
    holder = str(uuid.uuid4())
    add_execution(db, org, config, dagster_run_id=holder, tags=psycopg.types.json.Jsonb({TAG_SERIAL: config}))

    def finish() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE integration_executions SET status = 'succeeded', started_at = now(), "
                         "finished_at = now() WHERE dagster_run_id = %s", (holder,))

    timer = threading.Timer(2.0, finish)
    timer.start()
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, tags={TAG_SERIAL_WAIT: "60"})
    timer.join()
    assert result.success
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 3}


def _three_job_executes(database_url: str, home: Path, wait: str) -> list[tuple[int, str]]:
    """Three `dagster job execute` processes of ``people`` started together: (exit code, output) each."""
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)):  # its storage made once, not raced by the three
        pass
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(home)}
    command = [bin_path("dagster"), "job", "execute", "-j", "people", "-m", "integration_orchestrator.definitions",
               "-a", "defs", "--tags", json.dumps({TAG_SERIAL_WAIT: wait})]
    processes = [subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(3)]
    return [(p.returncode, out) for p, out in ((p, p.communicate(timeout=600)[0]) for p in processes)]


def _loads_do_not_overlap(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    rows = db.execute("SELECT dagster_run_id, status, started_at, finished_at, records_out, error_message "
                      "FROM integration_executions ORDER BY started_at").fetchall()
    loaded = [r for r in rows if r["status"] == "succeeded"]
    for before, after in itertools.pairwise(loaded):
        assert after["started_at"] >= before["finished_at"]
    return list(rows)


@pytest.mark.slow
def test_three_concurrent_job_executes_told_to_wait_load_one_after_another(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    """All three succeed, one after another, and the target holds the records exactly three times."""
    _people(db, tmp_path / "people.ndjson", RECORDS)
    done = _three_job_executes(database_url, tmp_path / "home", "300")
    assert [code for code, _ in done] == [0, 0, 0], done[0][1][-3000:]
    rows = _loads_do_not_overlap(db)
    assert [(r["status"], r["records_out"]) for r in rows] == [("succeeded", RECORDS)] * 3
    counts = db.execute("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM people_out").fetchone()
    assert counts == {"n": 3 * RECORDS, "ids": RECORDS}


@pytest.mark.slow
def test_three_concurrent_job_executes_never_load_alongside(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    """Without waiting, a run that finds another loading is refused naming it; the target holds the records
    once per succeeded run (whatever the timing: on this machine two of the three are usually refused)."""
    _people(db, tmp_path / "people.ndjson", RECORDS)
    done = _three_job_executes(database_url, tmp_path / "home", "0")
    rows = _loads_do_not_overlap(db)
    run_ids = {r["dagster_run_id"] for r in rows}
    succeeded = [r for r in rows if r["status"] == "succeeded"]
    refused = [r for r in rows if r["status"] == "failed"]
    assert len(succeeded) + len(refused) == 3 and succeeded
    assert sorted(code for code, _ in done) == [0] * len(succeeded) + [1] * len(refused)
    for row in refused:
        holder = row["error_message"].removeprefix("Refused: run ").split(" ")[0]
        assert holder in run_ids - {row["dagster_run_id"]}
        assert any(row["error_message"][:60] in out for _, out in done)
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": len(succeeded) * RECORDS}


@pytest.mark.usefixtures("fresh_load_context")
def test_a_reexecution_from_failure_gets_its_own_row_linked_to_its_parent(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink fails (no target table); the re-execution from failure skips the source, yet has its own
    execution row: succeeded, with the counts it wrote, linked to its parent and root; the parent stays failed."""
    _people(db, tmp_path / "people.ndjson")
    db.execute("DROP TABLE people_out")
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)
    job = ReconstructableRepository.for_module("integration_orchestrator.definitions", "defs"
                                               ).get_reconstructable_job("people")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        first = dg.execute_job(job, instance=instance)
        assert not first.success
        create_target_table(db)
        second = dg.execute_job(job, instance=instance, reexecution_options=dg.ReexecutionOptions.from_failure(
            first.run_id, instance))
        assert second.success
        assert {e.step_key.split(".")[-1] for e in second.all_events if e.is_step_success and e.step_key} == {"sink"}
    rows = {r["dagster_run_id"]: r for r in db.execute(
        "SELECT dagster_run_id, status, records_in, records_out, records_failed, metadata, tags "
        "FROM integration_executions")}
    assert set(rows) == {first.run_id, second.run_id}
    parent, child = rows[first.run_id], rows[second.run_id]
    assert parent["status"] == "failed" and parent["records_out"] == 0
    assert (child["status"], child["records_in"], child["records_out"], child["records_failed"]) == (
        "succeeded", 3, 3, 0)
    assert child["metadata"]["parent_run_id"] == first.run_id
    assert child["metadata"]["root_run_id"] == first.run_id
    assert "parent_run_id" not in parent["metadata"]
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 3}
