"""Dead letters are staged per run, promoted when its load commits, and never multiply."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.db import connect, tenant_transaction
from integration_orchestrator.factory.deadletters import list_dead_letters, replay_dead_letters
from integration_orchestrator.factory.engines import default_engines
from integration_orchestrator.factory.letters import promote_letters, record_key
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.writeback import ensure_execution, insert_dead_letters
from integration_orchestrator.model import FailedRecord
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

C, P = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"


@pytest.mark.parametrize(("a", "b", "same"), [
    ((C, P, "check", {"a": 1, "b": {"x": 1, "y": 2}}), (C, P, "check", {"b": {"y": 2, "x": 1}, "a": 1}), True),
    ((C, P, "check", {"a": Decimal("1.10")}), (C, P, "check", {"a": Decimal("1.10")}), True),
    ((C, P, "check", {"a": Decimal("1.10")}), (C, P, "check", {"a": Decimal("1.1")}), False),
    ((C, P, "check", {"a": 1}), (C, P, "tag", {"a": 1}), False),
    ((C, P, "check", {"a": 1}), (C, None, "check", {"a": 1}), False),
    ((C, P, "check", {"a": 1}), (P, P, "check", {"a": 1}), False),
    ((C, None, "source", {"file": "a", "line": 3, "text": "{"}), (C, None, "source", {"file": "a", "line": 4,
                                                                                     "text": "{"}), False),
], ids=["key-order", "decimal-text", "decimal-scale", "step", "pipeline", "config", "source-position"])
def test_record_key(a: tuple[Any, ...], b: tuple[Any, ...], same: bool) -> None:
    assert (record_key(*a) == record_key(*b)) is same


# 20 records pass; 10 distinct ones fail in `check`, and one failing record appears twice.
RECORDS = ([{"p": {"id": i, "name": f"n{i}"}} for i in range(1, 21)]
           + [{"p": {"id": 100 + i, "name": f"bad{i}"}} for i in range(10)]
           + [{"p": {"id": 200, "name": "twin"}}, {"p": {"id": 200, "name": "twin"}}])
FAILING, DISTINCT_LETTERS = 12, 12  # the twin stays two letters: two records of one source


def _integration(db: psycopg.Connection[Any], records: list[Any] = RECORDS,
                 check: str = "id >= `100` && 'not yet' || null") -> tuple[str, str, str]:
    org = add_organization(db)
    config = add_config(db, org, "People", records)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    pipeline = add_pipeline(db, org, config, "people", [jmespath_step("check", 1, "validate", check)],
                            strategy="dead_letter")
    create_target_table(db)
    return org, config, pipeline


def _run(database_url: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, raise_on_error=False)


def _statuses(db: psycopg.Connection[Any]) -> dict[str, int]:
    rows = db.execute("SELECT status::text AS s, count(*) AS n FROM integration_dead_letters GROUP BY 1").fetchall()
    return {r["s"]: r["n"] for r in rows}


def test_four_reruns_leave_one_pending_letter_per_failed_record(db: psycopg.Connection[Any], database_url: str) -> None:
    _integration(db)
    for _ in range(4):
        assert _run(database_url).success
    assert _statuses(db) == {"pending": DISTINCT_LETTERS, "discarded": 3 * FAILING}
    keys = db.execute("SELECT record_key FROM integration_dead_letters WHERE status = 'pending'").fetchall()
    assert len({k["record_key"] for k in keys}) == DISTINCT_LETTERS
    twins = db.execute("SELECT record_key FROM integration_dead_letters WHERE status = 'pending'"
                       " AND record ->> 'name' = 'twin' ORDER BY record_key").fetchall()
    assert [k["record_key"][-2:] for k in twins] == ["#0", "#1"]
    duplicate = db.execute("SELECT error_details ->> 'duplicate_of' AS d FROM integration_dead_letters"
                           " WHERE status = 'discarded' LIMIT 1").fetchone()
    assert duplicate is not None and duplicate["d"] is not None
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 4 * 20}  # append: 4 loads


def test_a_run_that_never_commits_leaves_its_letters_staged(
    db: psycopg.Connection[Any], database_url: str, run_cli: Any
) -> None:
    _integration(db)
    db.execute("ALTER TABLE people_out ADD COLUMN must_have text NOT NULL")  # the load fails, nothing commits
    result = _run(database_url)
    assert not result.success
    assert _statuses(db) == {"staged": FAILING}
    assert db.execute("SELECT status FROM integration_executions").fetchall() == [{"status": "failed"}]
    with connect(database_url, autocommit=True) as conn:
        assert list_dead_letters(conn) == []
        assert len(list_dead_letters(conn, status="staged")) == FAILING
    listed = run_cli("dead-letters", "list", "--status", "staged")
    assert f"{FAILING} dead letter(s)" in listed.stdout, listed.stdout + listed.stderr
    # replay never takes a staged letter
    with connect(database_url) as conn:
        report = replay_dead_letters(conn, load_snapshot_from_url(database_url), default_engines(), database_url)
    assert (report.replayed, report.failed_again, report.executions) == (0, 0, [])
    # the fixed table: the rerun's letters become pending, the failed run's stay staged
    db.execute("ALTER TABLE people_out DROP COLUMN must_have")
    assert _run(database_url).success
    assert _statuses(db) == {"staged": FAILING, "pending": DISTINCT_LETTERS}


def test_a_run_whose_every_record_failed_still_commits_its_load(db: psycopg.Connection[Any], database_url: str) -> None:
    _integration(db, check="'never' || null")
    assert _run(database_url).success
    assert _statuses(db) == {"pending": len(RECORDS)}
    assert db.execute("SELECT rows_written FROM integration_loads").fetchall() == [{"rows_written": 0}]
    assert db.execute("SELECT status, records_out FROM integration_executions").fetchall() == [
        {"status": "succeeded", "records_out": 0}]


def test_three_concurrent_promotions_leave_exactly_the_distinct_letters(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    """Three runs staged the same 400 failed records (one twice) and promote at the same instant."""
    org, config, pipeline = _integration(db)
    failures = [FailedRecord(i, {"id": i % 399}, "bad", {}, step="check") for i in range(400)]  # id 0 twice
    keys = [record_key(config, pipeline, "check", f.record) for f in failures]
    runs = [f"concurrent-{n}" for n in range(3)]
    with connect(database_url) as conn:
        for run_id in runs:
            execution = ensure_execution(conn, run_id=run_id, job_name="people", organization_id=org,
                                         config_id=config, pipeline_id=pipeline)
            insert_dead_letters(conn, organization_id=org, execution_id=execution, config_id=config,
                                pipeline_id=pipeline, failures=failures, keys=keys)
    barrier, results, errors = threading.Barrier(3), [], []

    def promote(run_id: str) -> None:
        try:
            with connect(database_url) as conn, tenant_transaction(conn, org):
                barrier.wait()
                results.append(promote_letters(conn, run_id))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=promote, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r["pending"] for r in results) == [0, 0, 400]
    assert _statuses(db) == {"pending": 400, "discarded": 800}
