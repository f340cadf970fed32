"""``benchmarks/ledger_bench.py`` at a small size: both loads write every row, the unchanged second run none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def test_ledger_bench_runs_and_the_unchanged_run_loads_nothing(database_url: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ledger_bench.py"), "--records", "3000", "--batch-size", "1000",
         "--repeat", "2", "--database-url", database_url],
        capture_output=True, text=True, timeout=600, check=False, cwd=BENCHMARKS,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith(("plain", "incremental")) and "3,000 rows" in line for line in lines) == 4
    assert sum(line.startswith("unchanged") and " 0 rows" in line for line in lines) == 2
    assert "ledger + state overhead:" in done.stdout
