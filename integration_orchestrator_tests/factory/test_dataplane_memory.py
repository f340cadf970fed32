"""Memory follows the batch size, not the record count: the same job over 10× the records,
each run in a process of its own, measured by the kernel (peak resident set)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration_orchestrator_tests.processes import REPO_ROOT
from integration_orchestrator_tests.rows import (
    add_file_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

RUN = """
import resource, sys
import dagster as dg
from integration_orchestrator.assembly import build_definitions
job = build_definitions(sys.argv[1]).get_job_def(sys.argv[2])
quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
with dg.DagsterInstance.ephemeral() as instance:
    assert job.execute_in_process(instance=instance, run_config=quiet).success
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
PAD = "x" * 200  # about 300 bytes a record


def _integration(db: psycopg.Connection[Any], org: Any, name: str, path: Path, records: int) -> str:
    with path.open("w") as out:
        for i in range(records):
            out.write(json.dumps({"p": {"id": i, "name": f"n{i}", "pad": PAD, "tags": [PAD[:20], str(i)]}}) + "\n")
    config = add_file_config(db, org, name, path)
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "p.name", "name")
    add_pipeline(db, org, config, name, [jmespath_step("tag", 1, "enrich", "{tier: 'x'}")],
                 performance={"batch_size": 5_000})
    return name.lower()


def _peak_mb(database_url: str, job: str) -> int:
    done = subprocess.run([sys.executable, "-c", RUN, database_url, job], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return int(done.stdout.split()[-1])


@pytest.mark.slow
def test_ten_times_the_records_do_not_take_more_memory(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    create_target_table(db)
    small = _integration(db, org, "small", tmp_path / "small.ndjson", 30_000)
    large = _integration(db, org, "large", tmp_path / "large.ndjson", 300_000)
    small_mb, large_mb = _peak_mb(database_url, small), _peak_mb(database_url, large)
    assert db.execute("SELECT count(*) AS n FROM people_out").fetchone() == {"n": 330_000}
    # 270,000 more records of ~300 bytes: +18 MB here; +435 MB when ops held every record (before §10)
    assert large_mb - small_mb < 60, (small_mb, large_mb)
