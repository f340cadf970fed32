"""``demo`` through the real entry point: a real Dagster run, rows written back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect
from integration_orchestrator.db.urls import database_name, with_database


@pytest.fixture
def dagster_database(database_url: str, pg_admin_url: str) -> Iterator[str]:
    name = database_name(database_url) + "_dagster"
    yield name
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.slow
def test_demo_runs_the_integration_end_to_end(
    run_cli: Any, db: psycopg.Connection[dict[str, Any]], database_url: str, dagster_database: str
) -> None:
    result = run_cli("demo")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "execution     status=succeeded records in=7 out=4 failed=1" in out
    assert "mapping tests (asset checks): 6/6 passed" in out
    run_id = re.search(r"dagster run   ([0-9a-f-]{36}) \(SUCCESS\)", out).group(1)

    rows = db.execute("SELECT employee_id, full_name, risk_tier FROM demo_access_register ORDER BY 1").fetchall()
    assert [tuple(r.values()) for r in rows] == [
        (1001, "Ada Lovelace", "high"), (1002, "Grace Hopper", "high"),
        (1004, "Katherine Johnson", "high"), (1005, "Edsger Dijkstra", "standard"),
    ]
    execution = db.execute("SELECT status::text, records_in, records_out, records_failed FROM integration_executions "
                           "WHERE dagster_run_id = %s", (run_id,)).fetchone()
    assert execution == {"status": "succeeded", "records_in": 7, "records_out": 4, "records_failed": 1}
    letter = db.execute("SELECT step_name, error_message, record FROM integration_dead_letters").fetchone()
    assert letter is not None and letter["step_name"] == "mappings" and "mapping `email`" in letter["error_message"]
    statuses = db.execute("SELECT DISTINCT test_status::text AS s FROM integration_mapping_tests").fetchall()
    assert statuses == [{"s": "passed"}]

    # The run is in Dagster's own storage (dagster-postgres), where `dev`'s UI shows it.
    with connect(with_database(database_url, dagster_database)) as dagster_db:
        run = dagster_db.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
    assert run == {"status": "SUCCESS"}

    # Running it again replaces the demo rows instead of duplicating them.
    again = run_cli("demo")
    assert again.returncode == 0, again.stderr[-3000:]
    assert db.execute("SELECT count(*) AS n FROM organizations WHERE slug = 'demo-compliance'").fetchone() == {"n": 1}
    assert db.execute("SELECT count(*) AS n FROM demo_access_register").fetchone() == {"n": 4}
