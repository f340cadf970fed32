"""Three concurrent ``dagster job execute`` launches of one append integration.

They bypass the run queue, so the job's lease (``factory/serial.py``) keeps them apart:
with ``integration/serial_wait_seconds`` they run one after the other, each loading every
good record exactly once, their execution intervals never overlapping; without it, the
run holding the lease loads and the two launched while it runs are refused before reading.
"""

from __future__ import annotations

import pytest

from integration_orchestrator.model.tags import TAG_SERIAL_WAIT
from integration_orchestrator_tests.faults.conftest import BAD, GOOD, NEEDS_STAGING, Faults

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


@NEEDS_STAGING
def test_three_waiting_launches_load_one_after_the_other(faults: Faults) -> None:
    faults.setup()
    jobs = [faults.execute(tags={TAG_SERIAL_WAIT: "180"}) for _ in range(LAUNCHES)]
    assert [job.finish() for job in jobs] == [0] * LAUNCHES, [job.output() for job in jobs]
    assert faults.target() == {"n": LAUNCHES * GOOD, "ids": GOOD}
    per_id = faults.db.execute("SELECT DISTINCT count(*) AS n FROM people_out GROUP BY id").fetchall()
    assert per_id == [{"n": LAUNCHES}]  # each record once per completed run
    assert faults.executions() == [("succeeded", GOOD)] * LAUNCHES
    assert faults.dagster() == ["SUCCESS"] * LAUNCHES
    assert _overlaps(faults) == 0
    faults.assert_letters(BAD)  # one pending letter per bad record, not one per run


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
