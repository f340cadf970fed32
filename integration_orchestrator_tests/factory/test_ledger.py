"""The load ledger against a real crash: kill -9 after the target commit, before the write-back.

The job runs as ``dagster job execute`` in a subprocess whose ``sitecustomize`` (written by
the test, no hook in the package) wraps ``PostgresTableTarget.write_batches`` and
``FileTarget.write_batches``: once the load has committed, the process ends with
``os._exit(9)``, so nothing after the commit runs. Then the reconciler, a rerun of the
same run id, or a Dagster re-execution FROM_FAILURE (a new run id, the parent's data).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.sensors import reconcile_executions
from integration_orchestrator_tests.connectors.test_http_ledger import Receiver, serve_receiver
from integration_orchestrator_tests.connectors.test_postgres_ledger import other_url
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import (
    PEOPLE_OUT,
    add_file_config,
    add_mapping,
    add_organization,
    create_target_table,
)

RECORDS = 500

_CRASH = '''
import os
if os.environ.get("LEDGER_TEST_CRASH_AFTER_LOAD"):
    from integration_orchestrator.connectors.file import FileTarget
    from integration_orchestrator.connectors.postgres import PostgresTableTarget
    def crashing(write):
        def write_batches(self, batches, load_context=None):
            result = write(self, batches, load_context)
            os._exit(9)  # the load committed; the write-back never runs
        return write_batches
    PostgresTableTarget.write_batches = crashing(PostgresTableTarget.write_batches)
    FileTarget.write_batches = crashing(FileTarget.write_batches)
'''


def _integration(db: psycopg.Connection[Any], tmp_path: Path, target: dict[str, Any]) -> str:
    path = tmp_path / "people.ndjson"
    path.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(RECORDS)))
    org = add_organization(db)
    config = add_file_config(db, org, "People", path)
    db.execute("UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{target}', %s) "
               "WHERE id = %s", (psycopg.types.json.Jsonb(target), config))
    add_mapping(db, org, config, "id", "id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "name", "name")
    create_target_table(db)
    return config


def _crashing_execute(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_CRASH)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(home),
           "LEDGER_TEST_CRASH_AFTER_LOAD": "1",
           "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [bin_path("dagster"), "job", "execute", "-j", "people", "-m", "integration_orchestrator.definitions",
               "-a", "defs"]
    return subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)


def _execution(db: psycopg.Connection[Any]) -> dict[str, Any]:
    rows = db.execute("SELECT dagster_run_id, status, records_out, metadata FROM integration_executions").fetchall()
    assert len(rows) == 1, rows
    return dict(rows[0])


def _target(db: psycopg.Connection[Any]) -> dict[str, Any]:
    row = db.execute("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM people_out").fetchone()
    assert row is not None
    return dict(row)


@pytest.mark.slow
@pytest.mark.parametrize("platform", [False, True], ids=["own-url", "platform-database"])
def test_kill_after_the_target_commit_is_settled_from_the_ledger_and_never_loads_twice(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, platform: bool
) -> None:
    # A target with its own URL (the same server, spelled differently: another database as far
    # as the platform knows), or the platform database itself (no url).
    target = dict(PEOPLE_OUT) if platform else {**PEOPLE_OUT, "url": other_url(database_url)}
    _integration(db, tmp_path, target)
    done = _crashing_execute(database_url, tmp_path)
    assert done.returncode == 9, done.stdout[-3000:] + done.stderr[-3000:]

    assert _target(db) == {"n": RECORDS, "ids": RECORDS}
    execution = _execution(db)
    run_id = execution["dagster_run_id"]
    ledger = db.execute("SELECT run_id, job_name, rows_written, rows_inserted FROM integration_loads").fetchall()
    assert ledger == [{"run_id": run_id, "job_name": "people", "rows_written": RECORDS, "rows_inserted": RECORDS}]
    if platform:  # the execution row committed with the load
        assert (execution["status"], execution["records_out"]) == ("succeeded", RECORDS)
    else:  # the worker died before the write-back: the row still says running
        assert execution["status"] == "running"
        with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
            settled = reconcile_executions(instance, IntegrationDatabase(database_url=database_url))
        assert settled == [(run_id, "succeeded")]
        execution = _execution(db)
        assert (execution["status"], execution["records_out"]) == ("succeeded", RECORDS)
        assert execution["metadata"]["ledger"]["rows_written"] == RECORDS

    # The same run id again (a re-execution that reaches the sink): the ledger has it, nothing loads.
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, run_id=run_id)
    assert result.success
    assert _target(db) == {"n": RECORDS, "ids": RECORDS}
    assert db.execute("SELECT count(*) AS n FROM integration_loads").fetchone() == {"n": 1}
    assert _execution(db)["status"] == "succeeded"


def test_a_failed_row_whose_run_is_in_the_ledger_is_settled_succeeded(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    """The write-back failed after the commit (e.g. a database blip): the failure hook wrote ``failed``."""
    _integration(db, tmp_path, dict(PEOPLE_OUT))
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance)
        assert result.success
        db.execute("UPDATE integration_executions SET status = 'failed', error_message = 'blip', records_out = 0")
        settled = reconcile_executions(instance, IntegrationDatabase(database_url=database_url))
    assert settled == [(result.run_id, "succeeded")]
    execution = _execution(db)
    assert (execution["status"], execution["records_out"]) == ("succeeded", RECORDS)


def _file_lines(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_a_file_target_killed_after_its_commit_is_settled_from_its_ledger_and_never_written_twice(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "people.ndjson"
    _integration(db, tmp_path, {"type": "file", "path": str(out), "mode": "append"})
    done = _crashing_execute(database_url, tmp_path)
    assert done.returncode == 9, done.stdout[-3000:] + done.stderr[-3000:]
    assert _file_lines(out) == list(range(RECORDS))
    execution = _execution(db)
    assert execution["status"] == "running"
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        settled = reconcile_executions(instance, IntegrationDatabase(database_url=database_url))
    assert settled == [(execution["dagster_run_id"], "succeeded")]
    assert (_execution(db)["status"], _execution(db)["records_out"]) == ("succeeded", RECORDS)

    with dg.instance_for_test() as instance:  # the same run id again: the file's ledger has it
        result = build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, run_id=execution["dagster_run_id"])
    assert result.success
    assert _file_lines(out) == list(range(RECORDS))


def people_job() -> dg.JobDefinition:
    """The ``people`` job, reconstructable (for ``dg.execute_job`` re-executions)."""
    return build_definitions(os.environ["INTEGRATION_ORCHESTRATOR_DATABASE_URL"]).get_job_def("people")


def _reexecute(tmp_path: Path, parent_id: str, *, everything: bool) -> dg.ExecuteJobResult:
    """A re-execution of the killed parent run: FROM_FAILURE (the sink again, with the parent's
    outputs) or of every step (the source reads again: new data)."""
    _forget_reconstructed_definitions()
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        parent = instance.get_run_by_id(parent_id)
        assert parent is not None
        instance.report_run_failed(parent)  # what run monitoring does with a dead worker
        options = (dg.ReexecutionOptions(parent_run_id=parent_id) if everything
                   else dg.ReexecutionOptions.from_failure(parent_id, instance))
        try:
            with dg.execute_job(dg.reconstructable(people_job), instance, reexecution_options=options) as result:
                assert result.success, [e.message for e in result.all_events if e.is_failure]
                assert result.dagster_run.run_id != parent_id
                return result
        finally:
            _forget_reconstructed_definitions()


def _forget_reconstructed_definitions() -> None:
    """Dagster keeps, process-wide, the last definition per code pointer and the load
    context (with the snapshot) of the last reconstruction: every load starts afresh."""
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext
    from dagster._core.definitions.reconstruct import ReconstructableJob

    ReconstructableJob.get_definition.cache_clear()
    ReconstructableJob.get_repository_definition.cache_clear()
    DefinitionsLoadContext._instance = None


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["postgres_table", "file"])
def test_a_reexecution_from_failure_after_the_parents_commit_loads_nothing_and_a_full_one_loads_again(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch,
    fresh_load_context: None,
) -> None:
    out = tmp_path / "out" / "people.ndjson"
    target = ({**PEOPLE_OUT, "url": other_url(database_url)} if kind == "postgres_table"
              else {"type": "file", "path": str(out), "mode": "append"})
    _integration(db, tmp_path, target)

    def loaded() -> int:
        return _target(db)["n"] if kind == "postgres_table" else len(_file_lines(out))

    done = _crashing_execute(database_url, tmp_path)
    assert done.returncode == 9, done.stdout[-3000:] + done.stderr[-3000:]
    parent_id = _execution(db)["dagster_run_id"]
    assert loaded() == RECORDS
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))

    result = _reexecute(tmp_path, parent_id, everything=False)  # the sink again, on the parent's data
    sinks = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"]
    assert len(sinks) == 1  # only the sink ran, and it reports the recorded counts
    assert sinks[0].materialization.metadata["records_out"].value == RECORDS
    assert loaded() == RECORDS  # the parent's data committed once: not loaded twice

    _reexecute(tmp_path, parent_id, everything=True)  # the source reads again: new data, loaded
    assert loaded() == 2 * RECORDS


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


def test_an_http_target_sends_keyed_batches_and_a_rerun_of_the_run_sends_nothing(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    _integration(db, tmp_path, {"type": "http", "url": receiver.url, "batch_size": 200,
                                "idempotency_header": "X-Batch-Key"})
    job = build_definitions(database_url).get_job_def("people")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance)
    assert result.success
    assert receiver.requests == {f"{result.run_id}-{n}": 1 for n in (1, 2, 3)}  # 500 records, 200 a batch
    with dg.instance_for_test() as instance:  # the same run id again (another instance: a fresh run record)
        assert job.execute_in_process(instance=instance, run_id=result.run_id).success
    assert sum(receiver.requests.values()) == 3  # the run's load is recorded: nothing sent again
    assert sorted(r["id"] for k in receiver.records for r in receiver.records[k]) == list(range(RECORDS))
    loads = db.execute("SELECT run_id, rows_written, batches FROM integration_http_loads").fetchall()
    assert loads == [{"run_id": result.run_id, "rows_written": RECORDS, "batches": 3}]
    assert _execution(db)["status"] == "succeeded"
