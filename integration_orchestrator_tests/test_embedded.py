"""With no database URL, the CLI starts the embedded server, reuses its data and stops it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow  # each test starts and stops an embedded PostgreSQL server


def _cli(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "integration_orchestrator", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


def _postgres_processes(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        if proc.info["name"] == "postgres" and str(pgdata) in " ".join(proc.info["cmdline"] or []):
            found.append(proc)
    return found


def test_embedded_default_home_under_working_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATION_ORCHESTRATOR_")}
    first = _cli("db", "upgrade", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    pgdata = tmp_path / ".integration_orchestrator" / "pgdata"
    assert (pgdata / "PG_VERSION").exists()
    assert "migration(s) applied" in first.stdout
    # The server was stopped when the command exited ...
    assert _postgres_processes(pgdata) == []
    # ... and the next command reuses the same data: nothing left to apply.
    second = _cli("db", "upgrade", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout
    url = _cli("db", "url", cwd=tmp_path, env=env).stdout.strip()
    # A Unix-socket URL (the socket sits in the data folder, or in the runtime folder
    # when that path would be too long for a socket).
    assert url.startswith("postgresql://postgres:@/integration_orchestrator?host=/")


def test_embedded_home_from_environment(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATION_ORCHESTRATOR_")}
    env["INTEGRATION_ORCHESTRATOR_HOME"] = str(home)
    result = _cli("db", "upgrade", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (home / "pgdata" / "PG_VERSION").exists()
    assert not (tmp_path / ".integration_orchestrator").exists()
