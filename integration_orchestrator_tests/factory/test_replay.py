"""Dead letters and replay against real crashes (kill -9 as ``os._exit(9)`` in a real process).

The crashing processes get a ``sitecustomize`` (written by the test, no hook in the package)
that wraps ``PostgresTableTarget``:

- ``after-write``: ``write`` (the replay's target write) returns, then the process dies —
  for a target elsewhere after its commit, for the platform database inside the replay's
  transaction, before the letter marks;
- ``after-commit``: ``write_batches`` (the run's load) commits, then the process dies;
- ``before-commit``: ``_ledgered`` (inside the load's transaction) returns, then the process
  dies before the commit.

Each scenario asserts the exact target rows, the exact letters per status and every
execution row.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.sensors import reconcile_executions
from integration_orchestrator_tests.connectors.test_postgres_ledger import other_url
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import (
    PEOPLE_OUT,
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    add_schedule,
    create_target_table,
    jmespath_step,
)

pytestmark = pytest.mark.slow

_CRASH = '''
import os
_point = os.environ.get("REPLAY_TEST_CRASH")
if _point:
    from integration_orchestrator.connectors.postgres import PostgresTableTarget
    if _point == "after-write":
        _write = PostgresTableTarget.write
        def write(self, records, load_context=None):
            _write(self, records, load_context)
            os._exit(9)  # the replay wrote the target; the letter marks never run
        PostgresTableTarget.write = write
    elif _point == "after-commit":
        _write_batches = PostgresTableTarget.write_batches
        def write_batches(self, batches, load_context=None):
            _write_batches(self, batches, load_context)
            os._exit(9)  # the run's load committed; the sink's write-back never runs
        PostgresTableTarget.write_batches = write_batches
    elif _point == "before-commit":
        _ledgered = PostgresTableTarget._ledgered
        def _crash(self, conn, loader, run, load):
            _ledgered(self, conn, loader, run, load)
            os._exit(9)  # the rows are loaded in the open transaction; it never commits
        PostgresTableTarget._ledgered = _crash
'''

# 20 records pass; 10 distinct ones fail in `check`, and one failing record appears twice.
RECORDS = ([{"p": {"id": i, "name": f"n{i}"}} for i in range(1, 21)]
           + [{"p": {"id": 100 + i, "name": f"bad{i}"}} for i in range(10)]
           + [{"p": {"id": 200, "name": "twin"}}, {"p": {"id": 200, "name": "twin"}}])
PASSING, FAILING = 20, 12
ALL_IDS = Counter(r["p"]["id"] for r in RECORDS)
FAILS = "id >= `100` && 'not yet' || null"


def _integration(db: psycopg.Connection[Any], target: dict[str, Any]) -> str:
    org = add_organization(db)
    config = add_config(db, org, "People", RECORDS, target=target)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    pipeline = add_pipeline(db, org, config, "people", [jmespath_step("check", 1, "validate", FAILS)],
                            strategy="dead_letter")
    create_target_table(db)
    return pipeline


def _fix(db: psycopg.Connection[Any], pipeline: str) -> None:
    db.execute("UPDATE integration_pipeline_definitions SET pipeline_steps = %s WHERE id = %s",
               (Jsonb({"steps": [jmespath_step("check", 1, "validate", "`null`")]}), pipeline))


def _env(database_url: str, tmp_path: Path, crash: str | None) -> dict[str, str]:
    site = tmp_path / "site"
    if not site.exists():
        site.mkdir()
        (site / "sitecustomize.py").write_text(_CRASH)
    home = tmp_path / "home"
    if not home.exists():
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("REPLAY_TEST_CRASH", None)
    return {**env, "REPLAY_TEST_CRASH": crash} if crash else env


def _replay(database_url: str, tmp_path: Path, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "integration_orchestrator", "dead-letters", "replay"],
                          env=_env(database_url, tmp_path, crash), cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, check=False)


def _run_in_process(database_url: str) -> str:
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance)
    assert result.success
    return result.run_id


def _target(db: psycopg.Connection[Any]) -> Counter[int]:
    return Counter(r["id"] for r in db.execute("SELECT id FROM people_out").fetchall())


def _letters(db: psycopg.Connection[Any]) -> dict[str, int]:
    rows = db.execute("SELECT status::text AS s, count(*) AS n FROM integration_dead_letters GROUP BY 1").fetchall()
    return {r["s"]: r["n"] for r in rows}


def _executions(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in db.execute(
        "SELECT dagster_run_id AS run, dagster_job_name AS job, status, records_in, records_out, records_failed"
        " FROM integration_executions ORDER BY created_at").fetchall()]


def _reconcile(database_url: str, tmp_path: Path) -> list[tuple[str, str]]:
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        return reconcile_executions(instance, IntegrationDatabase(database_url=database_url))


def _stale(db: psycopg.Connection[Any], run_id: str) -> None:
    """The killed replay's heartbeat stopped ``LEASE_TTL`` ago (the updated_at trigger bypassed)."""
    with db.transaction():
        db.execute("SET LOCAL session_replication_role = replica")
        db.execute("UPDATE integration_executions SET updated_at = now() - interval '11 minutes'"
                   " WHERE dagster_run_id = %s", (run_id,))


@pytest.mark.parametrize("platform", [False, True], ids=["target-elsewhere", "platform-database"])
def test_replay_killed_between_its_write_and_the_letter_marks_never_writes_twice(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, platform: bool
) -> None:
    pipeline = _integration(db, dict(PEOPLE_OUT) if platform else {**PEOPLE_OUT, "url": other_url(database_url)})
    run_id = _run_in_process(database_url)
    assert _letters(db) == {"pending": FAILING}
    _fix(db, pipeline)

    crashed = _replay(database_url, tmp_path, crash="after-write")
    assert crashed.returncode == 9, crashed.stdout[-3000:] + crashed.stderr[-3000:]
    assert _letters(db) == {"pending": FAILING}  # the marks never committed
    killed = _executions(db)[1]
    assert (killed["job"], killed["status"]) == ("dead_letter_replay", "running")
    replays = db.execute("SELECT run_id, kind, rows_written, cardinality(dead_letter_ids) AS letters"
                         " FROM integration_loads WHERE kind = 'replay'").fetchall()
    if platform:  # one transaction: the write rolled back with the marks
        assert _target(db) == Counter(range(1, PASSING + 1))
        assert replays == []
        _stale(db, killed["run"])
        assert _reconcile(database_url, tmp_path) == [(killed["run"], "failed")]
    else:  # the target committed with its ledger row naming the letters
        assert _target(db) == ALL_IDS
        assert replays == [{"run_id": killed["run"], "kind": "replay", "rows_written": FAILING, "letters": FAILING}]
        assert _reconcile(database_url, tmp_path) == [(killed["run"], "succeeded")]

    again = _replay(database_url, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"replayed {FAILING}" in again.stdout
    assert (f"(of which {FAILING} already in the target)" in again.stdout) is not platform
    assert _target(db) == ALL_IDS  # every record exactly once (the twin twice, as in the source)
    assert _letters(db) == {"replayed": FAILING}
    executions = _executions(db)
    assert executions[0] == {"run": run_id, "job": "people", "status": "succeeded", "records_in": PASSING + FAILING,
                             "records_out": PASSING, "records_failed": FAILING}
    assert executions[1] == {"run": killed["run"], "job": "dead_letter_replay",
                             "status": "failed" if platform else "succeeded", "records_in": 0,
                             "records_out": 0 if platform else FAILING, "records_failed": 0}
    assert {k: v for k, v in executions[2].items() if k != "run"} == {
        "job": "dead_letter_replay", "status": "succeeded", "records_in": FAILING,
        "records_out": FAILING if platform else 0, "records_failed": 0}
    assert len(executions) == 3


def _execute(database_url: str, tmp_path: Path, crash: str) -> subprocess.CompletedProcess[str]:
    command = [bin_path("dagster"), "job", "execute", "-j", "people", "-m", "integration_orchestrator.definitions",
               "-a", "defs"]
    return subprocess.run(command, env=_env(database_url, tmp_path, crash), cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=600, check=False)


def test_a_run_killed_after_its_commit_gets_its_letters_pending_from_the_ledger(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    _integration(db, {**PEOPLE_OUT, "url": other_url(database_url)})
    crashed = _execute(database_url, tmp_path, "after-commit")
    assert crashed.returncode == 9, crashed.stdout[-3000:] + crashed.stderr[-3000:]
    assert _target(db) == Counter(range(1, PASSING + 1))
    assert _letters(db) == {"staged": FAILING}  # the write-back that promotes them never ran
    (run,) = _executions(db)
    assert _reconcile(database_url, tmp_path) == [(run["run"], "succeeded")]
    assert _letters(db) == {"pending": FAILING}
    assert _executions(db)[0]["records_out"] == PASSING


def test_crash_then_rerun_then_fix_then_replay(db: psycopg.Connection[Any], database_url: str, tmp_path: Path) -> None:
    """A run killed before its load commits leaves its letters staged; only the rerun's are replayed."""
    pipeline = _integration(db, dict(PEOPLE_OUT))
    crashed = _execute(database_url, tmp_path, "before-commit")
    assert crashed.returncode == 9, crashed.stdout[-3000:] + crashed.stderr[-3000:]
    assert _target(db) == Counter()
    assert _letters(db) == {"staged": FAILING}
    (first,) = _executions(db)
    assert first["status"] == "running"
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:  # what run monitoring reports
        dead = instance.get_run_by_id(first["run"])
        assert dead is not None
        instance.report_run_failed(dead)
    assert _reconcile(database_url, tmp_path) == [(first["run"], "failed")]

    rerun = _run_in_process(database_url)
    assert _target(db) == Counter(range(1, PASSING + 1))
    assert _letters(db) == {"staged": FAILING, "pending": FAILING}

    _fix(db, pipeline)
    replayed = _replay(database_url, tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"replayed {FAILING}, failed again 0" in replayed.stdout
    assert _target(db) == ALL_IDS
    assert _letters(db) == {"staged": FAILING, "replayed": FAILING}  # the crashed run's letters are never replayed
    assert "replayed 0, failed again 0" in _replay(database_url, tmp_path).stdout
    assert _target(db) == ALL_IDS

    executions = _executions(db)
    assert [(e["run"], e["job"], e["status"], e["records_out"]) for e in executions] == [
        (first["run"], "people", "failed", 0),
        (rerun, "people", "succeeded", PASSING),
        (executions[2]["run"], "dead_letter_replay", "succeeded", FAILING),
    ]


def test_three_concurrent_runs_leave_one_pending_letter_per_failed_record(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    """An integration whose schedule allows concurrent runs: three `dagster job execute` at once,
    1,200 distinct failing records each → exactly 1,200 pending letters (the issue found 3,600)."""
    org = add_organization(db)
    records = [{"p": {"id": i, "name": f"n{i}"}} for i in range(1500)]  # ids >= 300 fail
    config = add_config(db, org, "People", records)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    add_pipeline(db, org, config, "people", [jmespath_step("check", 1, "validate", "id >= `300` && 'no' || null")],
                 strategy="dead_letter")
    add_schedule(db, org, config, concurrent_execution_allowed=True)
    create_target_table(db)
    env = _env(database_url, tmp_path, None)
    with dg.DagsterInstance.from_config(str(tmp_path / "home")):  # its storage made once, not raced by the three
        pass
    command = [bin_path("dagster"), "job", "execute", "-j", "people", "-m", "integration_orchestrator.definitions",
               "-a", "defs"]
    processes = [subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=600)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs[0][-3000:]
    assert _letters(db) == {"pending": 1200, "discarded": 2400}
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 3 * 300}  # append, 3 loads
    assert [(e["status"], e["records_out"], e["records_failed"]) for e in _executions(db)] == [
        ("succeeded", 300, 1200)] * 3
