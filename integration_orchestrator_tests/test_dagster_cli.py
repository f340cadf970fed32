"""The ``dagster`` CLI as a new user types it, in a new shell, on the embedded default.

A project directory like a fresh clone's root (the repository's ``workspace.yaml``) gets
``integration-orchestrator demo`` (the README's quickstart); then every documented
``dagster`` command runs through the real entry point with a minimal environment: ``PATH``,
``HOME`` and ``DAGSTER_HOME`` (what the README's quickstart exports) — no database URL,
no storage URL. ``PYTHONPATH`` names the package's own source tree, which an installed
checkout imports anyway; it only makes a git worktree's code the code under test.

Where there is no database the same commands say so and create nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration_orchestrator.db import connect, connection, existing_database_url
from integration_orchestrator.db.connection import DAGSTER_DATABASE
from integration_orchestrator.db.embedded import HOME_ENV, NoEmbeddedDatabaseError, start_embedded_server
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path, start_background

pytestmark = pytest.mark.slow  # an embedded PostgreSQL server and a dozen Dagster processes

JOB = "hr_access_review"
NO_DATABASE = "No integration-orchestrator database: INTEGRATION_ORCHESTRATOR_DATABASE_URL is unset"


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def dagster_home(self) -> Path:
        return self.root / ".integration_orchestrator" / "dagster_home"


def _clean_env(dagster_home: Path | None) -> dict[str, str]:
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env = {"PATH": f"{Path(bin_path('dagster')).parent}:{system_path}", "HOME": os.environ["HOME"],
           "PYTHONPATH": str(REPO_ROOT)}
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def _run(args: list[str], cwd: Path, dagster_home: Path | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(dagster_home), capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    # A private folder like conftest's server home (pytest's basetemp may not be reachable
    # by the embedded server's own user).
    root = Path(tempfile.mkdtemp(prefix="io-clone-"))
    shutil.copy(REPO_ROOT / "workspace.yaml", root / "workspace.yaml")
    demo = _run([bin_path("integration-orchestrator"), "demo"], root, None)
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-3000:]
    assert (root / ".integration_orchestrator" / "dagster_home" / "dagster.yaml").exists()
    try:
        yield Project(root)
    finally:
        server = start_embedded_server(root / ".integration_orchestrator", create=False)
        server.stop()  # the last handle stops the server (the demo's handle is gone)
        shutil.rmtree(root, ignore_errors=True)


def _storage_runs(project: Project) -> dict[str, str]:
    """run id -> status, read from Dagster's storage database on the project's embedded server."""
    server = start_embedded_server(project.root / ".integration_orchestrator", create=False)
    try:
        with connect(server.url(DAGSTER_DATABASE)) as conn:
            return {r["run_id"]: r["status"] for r in conn.execute("SELECT run_id, status FROM runs")}
    finally:
        server.stop()


DAGSTER = "dagster"
COMMANDS = [
    pytest.param(["job", "list"], f"Job: {JOB}", id="job-list"),
    pytest.param(["definitions", "validate"], "All code locations passed validation", id="definitions-validate"),
    pytest.param(["schedule", "list"], "Schedule: hr_access_review_nightly_schedule", id="schedule-list"),
    pytest.param(["job", "execute", "-m", "integration_orchestrator.definitions", "-j", JOB],
                 f'Finished execution of run for "{JOB}"', id="job-execute"),
    pytest.param(["asset", "materialize", "-m", "integration_orchestrator.definitions",
                  "--select", "integrations/hr_access_review"],
                 "Asset check 'mapping_hired_on' on 'integrations/hr_access_review' passed", id="asset-materialize"),
]


@pytest.mark.parametrize(("args", "expected"), COMMANDS)
def test_dagster_command_in_the_project_root(project: Project, args: list[str], expected: str) -> None:
    result = _run([bin_path(DAGSTER), *args], project.root, project.dagster_home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert expected in output, output[-4000:]
    assert "Error" not in result.stdout


def test_dagster_job_launch_queues_a_run_the_daemon_runs(project: Project, tmp_path: Path) -> None:
    before = set(_storage_runs(project))
    launch = _run([bin_path(DAGSTER), "job", "launch", "-j", JOB], project.root, project.dagster_home)
    assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-3000:]
    runs = _storage_runs(project)
    (run_id,) = set(runs) - before
    assert runs[run_id] == "QUEUED"  # in the project's own Dagster storage
    daemon = start_background([bin_path("dagster-daemon"), "run"], env=_clean_env(project.dagster_home),
                              cwd=project.root, log=tmp_path / "daemon.log")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and _storage_runs(project)[run_id] not in {"SUCCESS", "FAILURE"}:
            assert daemon.running(), daemon.log_tail()
            time.sleep(2)
        assert _storage_runs(project)[run_id] == "SUCCESS", daemon.log_tail()
    finally:
        daemon.stop(timeout=120)


@pytest.mark.parametrize("with_home", [True, False], ids=["dagster-home-set", "no-dagster-home"])
def test_no_database_says_so_and_creates_nothing(project: Project, tmp_path: Path, with_home: bool) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(REPO_ROOT / "workspace.yaml", elsewhere / "workspace.yaml")
    home = project.dagster_home if with_home else None
    for args in (["job", "list"], ["definitions", "validate"]):
        result = _run([bin_path(DAGSTER), *args], elsewhere, home)
        output = result.stdout + result.stderr
        assert NO_DATABASE in output, output[-3000:]
        assert f"no embedded database under {elsewhere / '.integration_orchestrator'}" in output
        assert "Nothing was created." in output
        assert sorted(p.name for p in elsewhere.iterdir()) == ["workspace.yaml"]
    assert not (Path(str(elsewhere)) / ".integration_orchestrator").exists()


def test_existing_database_url_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", raising=False)
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "io"))
    monkeypatch.setattr(connection, "_embedded", None)  # no server attached by an earlier test
    with pytest.raises(NoEmbeddedDatabaseError, match=r"no embedded database under .*/io"):
        existing_database_url()
    assert list(tmp_path.iterdir()) == []
