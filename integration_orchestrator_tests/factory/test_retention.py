"""batches prune: finished runs' batches go, queued or running runs' and recent ones stay."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg

from integration_orchestrator.factory.retention import default_storage, prune_batches


@dg.op
def _noop() -> None:
    pass


@dg.job
def _some_job() -> None:
    _noop()


def _run_dir(storage: Path, run_id: str, age_days: float = 0) -> Path:
    directory = storage / run_id / "source"
    directory.mkdir(parents=True)
    (directory / "out-0000.arrow").write_bytes(b"batches")
    stamp = time.time() - age_days * 86400
    os.utime(storage / run_id, (stamp, stamp))
    return storage / run_id


def test_finished_and_unknown_runs_are_pruned_queued_and_recent_ones_kept(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        storage = Path(str(default_storage(instance)))
        finished = _some_job.execute_in_process(instance=instance).run_id
        queued = instance.create_run_for_job(_some_job).run_id  # NOT_STARTED: not finished
        unknown, recent = str(uuid.uuid4()), str(uuid.uuid4())
        for run_id in (finished, queued, unknown):
            _run_dir(storage, run_id, age_days=10)
        _run_dir(storage, recent, age_days=1)
        report = prune_batches(instance, default_storage(instance), dt.timedelta(days=7))
    assert sorted(report.removed) == sorted([finished, unknown])
    assert sorted(report.kept) == sorted([queued, recent])
    assert sorted(p.name for p in storage.iterdir()) == sorted([queued, recent])


def test_the_cli_prunes_the_instance_storage(run_cli: Any, dagster_home: Path) -> None:
    storage = dagster_home / "storage" / "integration_batches"
    old = _run_dir(storage, str(uuid.uuid4()), age_days=3)
    done = run_cli("batches", "prune", "--older-than-days", "2", env={"DAGSTER_HOME": str(dagster_home)})
    assert done.returncode == 0, done.stderr
    assert f"removed the batches of run {old.name}" in done.stdout
    assert "1 run(s) pruned, 0 kept" in done.stdout
    assert not old.exists()
