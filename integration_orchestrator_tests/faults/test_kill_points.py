"""kill -9 of a real ``dagster job execute`` at each point of a load, then reconciler and rerun.

Each scenario asserts the exact target rows, pending dead letters, execution rows and the
Dagster status of every run. The worker is dead, so the reconciler finishes its run within
TTL + one tick: from the ledger when the load committed, else failed in Dagster and the row.
"""

from __future__ import annotations

import time

import pytest

from integration_orchestrator.factory.dead_runs import STOPPED_MESSAGE
from integration_orchestrator_tests.faults.conftest import BAD, GOOD, TTL_SECONDS, Faults

pytestmark = pytest.mark.slow


def test_kill_before_the_commit_then_rerun_loads_once(faults: Faults) -> None:
    faults.setup()
    job = faults.execute("before_commit")
    job.wait_at()
    time.sleep(TTL_SECONDS + 1)
    assert faults.reconcile() == []  # paused longer than the TTL, but alive: its heartbeat goes on
    job.kill9()
    assert faults.target() == {"n": 0, "ids": 0}
    assert faults.executions() == [("running", 0)]
    assert faults.dagster() == ["STARTED"]  # what run monitoring never sees: no run launcher

    assert faults.reconcile(after=TTL_SECONDS + 1) == [(_only_run(faults), "failed")]
    assert faults.executions() == [("failed", 0)]
    assert faults.dagster() == ["FAILURE"]
    error = faults.db.execute("SELECT error_message FROM integration_executions").fetchone()
    assert error is not None and STOPPED_MESSAGE.split("{")[0] in error["error_message"]

    faults.run()
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("failed", 0), ("succeeded", GOOD)]
    assert faults.dagster() == ["FAILURE", "SUCCESS"]
    faults.assert_letters(BAD)


def test_kill_after_the_commit_is_settled_from_the_ledger_and_the_dagster_run_ends(faults: Faults) -> None:
    faults.setup()
    job = faults.execute("after_commit")
    job.wait_at()
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert faults.executions() == [("running", 0)]
    assert faults.reconcile() == [(_only_run(faults), "succeeded")]  # the ledger: at once
    assert faults.executions() == [("succeeded", GOOD)]
    assert faults.reconcile(after=TTL_SECONDS + 1) == []
    assert faults.dagster() == ["STARTED"]  # the worker is alive (writing back): its run is its own
    job.kill9()
    assert faults.reconcile(after=TTL_SECONDS + 1) == []
    assert faults.dagster() == ["SUCCESS"]  # its heartbeat stopped: Dagster agrees with the row
    assert faults.pending_letters() == BAD  # written before the sink, one copy

    # Nothing to rerun (the load committed once): a second run of this append integration
    # appends a second copy by design, so the scenario ends here with exact counts.
    assert faults.target() == {"n": GOOD, "ids": GOOD}


def _only_run(faults: Faults) -> str:
    row = faults.db.execute("SELECT dagster_run_id FROM integration_executions").fetchone()
    assert row is not None
    return str(row["dagster_run_id"])
