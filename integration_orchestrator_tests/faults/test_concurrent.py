"""Three concurrent launches of one append integration, on both launch paths.

``dagster job execute`` bypasses the run queue, so the job's lease (``factory/serial.py``)
keeps them apart: the run holding the lease loads and the two launched while it runs are
refused before reading (waiting launches: ``test_serial.py``). ``dagster job launch``
goes through the queue: a real ``dagster-daemon`` and dagster.yaml's tag concurrency
limit run them one after the other, each loading every good record exactly once, their
execution intervals never overlapping.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import dagster as dg
import pytest

from integration_orchestrator_tests.faults.conftest import BAD, GOOD, Faults
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path, start_background

pytestmark = pytest.mark.slow
LAUNCHES = 3


def _overlaps(faults: Faults) -> int:
    row = faults.db.execute(
        """
        SELECT count(*) AS n FROM integration_executions a JOIN integration_executions b ON a.id < b.id
        WHERE a.status = 'succeeded' AND b.status = 'succeeded'
          AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)
        """
    ).fetchone()
    assert row is not None
    return int(row["n"])


def test_three_launches_without_waiting_load_once(faults: Faults) -> None:
    faults.setup()
    first = faults.execute("before_sink")  # holds the lease, paused before its load
    first.wait_at()
    others = [faults.execute() for _ in range(LAUNCHES - 1)]  # launched together while it runs
    assert [job.finish() for job in others] == [1] * (LAUNCHES - 1), [job.output() for job in others]
    first.go()
    assert first.finish() == 0, first.output()
    assert faults.target() == {"n": GOOD, "ids": GOOD}
    assert sorted(faults.executions()) == [("failed", 0)] * (LAUNCHES - 1) + [("succeeded", GOOD)]
    assert sorted(faults.dagster()) == ["FAILURE"] * (LAUNCHES - 1) + ["SUCCESS"]
    refused = faults.db.execute("SELECT count(*) AS n FROM integration_executions "
                                "WHERE status = 'failed' AND error_message LIKE 'Refused: run %'").fetchone()
    assert refused == {"n": LAUNCHES - 1}
    assert faults.pending_letters() == BAD  # the refused runs never read


QUEUE_YAML = """telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  runs:
    max_concurrent_runs: 10
    tag_concurrency_limits:
      - key: integration/serial
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


def test_three_queued_launches_run_one_after_the_other(faults: Faults, tmp_path: Path) -> None:
    """Through the run queue: a real ``dagster-daemon`` with dagster.yaml's tag concurrency limit."""
    faults.setup(dagster_yaml=QUEUE_YAML)
    target = ["-m", "integration_orchestrator.definitions", "-a", "defs"]
    daemon = start_background([bin_path("dagster-daemon"), "run", *target], env=faults.env, cwd=REPO_ROOT,
                              log=tmp_path / "daemon.log")
    try:
        for _ in range(LAUNCHES):
            launched = subprocess.run([bin_path("dagster"), "job", "launch", "-j", "people", *target],
                                      env=faults.env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                                      check=False)
            assert launched.returncode == 0, launched.stdout[-2000:] + launched.stderr[-2000:]

        def all_final() -> bool:
            with dg.DagsterInstance.from_config(str(faults.home)) as instance:
                runs = instance.get_runs()
            return len(runs) == LAUNCHES and all(run.is_finished for run in runs)

        assert daemon.wait_for(all_final, 240), daemon.log_tail()
    finally:
        daemon.stop()
    assert faults.target() == {"n": LAUNCHES * GOOD, "ids": GOOD}
    assert faults.executions() == [("succeeded", GOOD)] * LAUNCHES
    assert faults.dagster() == ["SUCCESS"] * LAUNCHES
    assert _overlaps(faults) == 0  # the queue held the second and third back
    faults.assert_letters(BAD)
