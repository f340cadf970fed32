"""The data plane through real jobs: batches on storage, re-execution from failure, bad source lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.streaming import BATCH_DIRECTORY
from integration_orchestrator.factory.translator import (
    IntegrationDefinitionSpec,
    IntegrationTranslator,
    IntegrationTranslatorData,
)
from integration_orchestrator_tests.rows import (
    add_file_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

LINES = ['{"p": {"id": 1, "name": "a"}}', '{"p": {"id": 2, "name": "b"}', '{"p": {"id": 3, "name": "c"}}', "[1]"]


def _file_integration(db: psycopg.Connection[Any], path: Path, strategy: str) -> None:
    path.write_text("\n".join(LINES) + "\n")
    org = add_organization(db)
    config = add_file_config(db, org, "People", path)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    add_pipeline(db, org, config, "people", [jmespath_step("tag", 1, "enrich", "{tier: 'x'}")], strategy=strategy)
    create_target_table(db)


@pytest.mark.parametrize("strategy", ["dead_letter", "continue_on_error"])
def test_a_bad_source_line_is_a_failed_record_naming_file_and_line(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, strategy: str
) -> None:
    path = tmp_path / "people.ndjson"
    _file_integration(db, path, strategy)
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance)
    assert result.success
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id")] == [1, 3]
    execution = db.execute("SELECT records_in, records_out, records_failed FROM integration_executions").fetchone()
    assert execution == {"records_in": 4, "records_out": 2, "records_failed": 2}
    letters = db.execute("SELECT step_name, record, error_message, error_details FROM integration_dead_letters "
                         "ORDER BY error_message").fetchall()
    if strategy == "continue_on_error":
        assert letters == []
        return
    assert [(x["step_name"], x["record"]["line"], x["error_details"]["line"]) for x in letters] == [
        ("source", 2, 2), ("source", 4, 4)]
    assert letters[0]["record"] == {"file": str(path), "line": 2, "text": LINES[1]}
    assert letters[0]["error_message"].startswith(f"{path} line 2: line 2 is not valid JSON")
    assert letters[1]["error_message"] == f"{path} line 4: line 4 is not a JSON object"


def test_under_fail_fast_a_bad_source_line_fails_the_run_with_the_line(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    _file_integration(db, tmp_path / "people.ndjson", "fail_fast")
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, raise_on_error=False)
    assert not result.success
    (row,) = db.execute("SELECT status, error_message FROM integration_executions").fetchall()
    assert row["status"] == "failed" and "line 2 is not valid JSON" in row["error_message"]
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 0}


@pytest.mark.usefixtures("fresh_load_context")
def test_reexecution_from_failure_reads_the_failed_runs_batches(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sink fails (no target table); after the table exists, re-executing from failure runs only the sink,
    on the batches the first run persisted; a succeeded run's batches are removed."""
    path = tmp_path / "people.ndjson"
    _file_integration(db, path, "fail_fast")
    path.write_text('{"p": {"id": 1, "name": "a"}}\n{"p": {"id": 2, "name": "b"}}\n')
    db.execute("DROP TABLE people_out")
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)
    job = ReconstructableRepository.for_module("integration_orchestrator.definitions", "defs"
                                               ).get_reconstructable_job("people")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        first = dg.execute_job(job, instance=instance)
        assert not first.success
        storage = Path(instance.storage_directory()) / BATCH_DIRECTORY
        assert sorted(p.name for p in (storage / first.run_id).iterdir()) == ["mappings", "source", "step_tag"]
        path.unlink()  # the source is gone: only the persisted batches can feed the sink
        create_target_table(db)
        second = dg.execute_job(job, instance=instance, reexecution_options=dg.ReexecutionOptions.from_failure(
            first.run_id, instance))
        assert second.success
        ran = {e.step_key for e in second.all_events if e.is_step_success}
        assert {k.split(".")[-1] for k in ran} == {"sink"}
        assert not (storage / second.run_id).exists()
    rows = db.execute("SELECT id, name, tier FROM people_out ORDER BY id").fetchall()
    assert rows == [{"id": 1, "name": "a", "tier": "x"}, {"id": 2, "name": "b", "tier": "x"}]


@pytest.mark.usefixtures("fresh_load_context")
def test_a_reexecution_that_commits_promotes_its_parents_letters(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent read the source (2 bad lines, staged) and failed in the sink; the re-execution
    runs only the sink: when its load commits, the parent's letters become pending."""
    _file_integration(db, tmp_path / "people.ndjson", "dead_letter")
    db.execute("DROP TABLE people_out")
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)
    job = ReconstructableRepository.for_module("integration_orchestrator.definitions", "defs"
                                               ).get_reconstructable_job("people")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        first = dg.execute_job(job, instance=instance)
        assert not first.success
        assert db.execute("SELECT status::text AS s FROM integration_dead_letters").fetchall() == [{"s": "staged"}] * 2
        create_target_table(db)
        second = dg.execute_job(job, instance=instance, reexecution_options=dg.ReexecutionOptions.from_failure(
            first.run_id, instance))
        assert second.success
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id")] == [1, 3]
    letters = db.execute("SELECT status::text AS s, record ->> 'line' AS line FROM integration_dead_letters"
                         " ORDER BY 2").fetchall()
    assert letters == [{"s": "pending", "line": "2"}, {"s": "pending", "line": "4"}]


def test_a_source_letter_replays_once_its_text_is_fixed(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, run_cli: Any
) -> None:
    _file_integration(db, tmp_path / "people.ndjson", "dead_letter")
    with dg.instance_for_test() as instance:
        assert build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance).success
    db.execute("""UPDATE integration_dead_letters SET record = jsonb_set(record, '{text}', %s)
                  WHERE record->>'line' = '2'""", (psycopg.types.json.Jsonb('{"p": {"id": 2, "name": "b"}}'),))
    done = run_cli("dead-letters", "replay")
    assert "replayed 1, failed again 1" in done.stdout, done.stdout + done.stderr
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id")] == [1, 2, 3]
    still = db.execute("SELECT error_message FROM integration_dead_letters WHERE status = 'pending'").fetchone()
    assert still is not None and still["error_message"].endswith("line 4 of " + str(tmp_path / "people.ndjson")
                                                                 + " is still not a JSON object")


def test_an_unreadable_line_that_may_hold_a_sensitive_value_is_not_stored_in_clear(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "people.ndjson"
    _file_integration(db, path, "dead_letter")
    path.write_text('{"p": {"id": 1, "name": "a"}}\n{"p": {"id": 2, "password": "hunter2-hunter2"}\n')
    with dg.instance_for_test() as instance:
        assert build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance).success
    (letter,) = db.execute("SELECT record::text AS record, error_message FROM integration_dead_letters").fetchall()
    assert "hunter2" not in letter["record"] and "hunter2" not in letter["error_message"]


class _MemoryStorage(IntegrationTranslator):
    """Batches in fsspec's in-memory filesystem: any UPath works, not only local disk."""

    def get_integration_spec(self, data: IntegrationTranslatorData) -> IntegrationDefinitionSpec:
        return super().get_integration_spec(data).replace(batch_storage="memory://integration-batches")


def test_batches_can_live_in_any_upath_filesystem(db: psycopg.Connection[Any], database_url: str,
                                                  tmp_path: Path) -> None:
    from upath import UPath

    path = tmp_path / "people.ndjson"
    _file_integration(db, path, "dead_letter")
    path.write_text('{"p": {"id": 1, "name": "a"}}\n{"p": {"id": 2, "name": "b"}}\n')
    db.execute("DROP TABLE people_out")  # the sink fails: the run keeps its batches
    job = build_definitions(database_url, translator=_MemoryStorage()).get_job_def("people")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    kept = UPath("memory://integration-batches") / result.run_id
    assert sorted(p.name for p in kept.iterdir()) == ["mappings", "source", "step_tag"]
    create_target_table(db)
    with dg.instance_for_test() as instance:
        assert job.execute_in_process(instance=instance).success
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id")] == [1, 2]
