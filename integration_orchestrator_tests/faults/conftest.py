"""Shared machinery of the fault matrix: a real job process, a pause point, counts.

:class:`Faults` builds one append integration (``people``: an NDJSON file of
:data:`RECORDS` people, every :data:`BAD_EVERY`-th one rejected by a validate step,
strategy ``dead_letter``) writing ``people_out`` in the platform's database server
through its own URL (another database as far as the platform knows, so the load and the
write-back are two transactions: the hard case). It runs the job as ``dagster job
execute`` in a subprocess whose ``sitecustomize`` (``hooks.py``) pauses at a named point,
kills it with SIGKILL, and counts what is left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest

from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.sensors import reconcile_executions
from integration_orchestrator.factory.serial import HEARTBEAT_ENV, LEASE_TTL_ENV
from integration_orchestrator_tests.connectors.test_postgres_ledger import other_url
from integration_orchestrator_tests.faults.hooks import SITECUSTOMIZE
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import (
    PEOPLE_OUT,
    add_file_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)


class LettersNotStaged(AssertionError):
    """The pending dead letters are not the intended number (one per failed record, of committed loads only)."""


RECORDS = 300
BAD_EVERY = 10
BAD = RECORDS // BAD_EVERY
GOOD = RECORDS - BAD
#: the short lease of the fault tests (the defaults are 10 min and 30 s)
TTL_SECONDS, HEARTBEAT = 4.0, 0.5
JOB_TIMEOUT = 240


@dataclass
class Job:
    """One ``dagster job execute`` process (its own session, so SIGKILL reaches its children)."""

    process: subprocess.Popen[str]
    fault_dir: Path
    point: str | None

    def wait_at(self, seconds: float = JOB_TIMEOUT) -> None:
        """Until the process is paused at its point."""
        assert self.point is not None
        deadline = time.monotonic() + seconds
        while not (self.fault_dir / f"at-{self.point}").exists():
            assert self.process.poll() is None, f"ended before {self.point}: {self.output()}"
            assert time.monotonic() < deadline, f"never reached {self.point}"
            time.sleep(0.1)

    def go(self) -> None:
        assert self.point is not None
        (self.fault_dir / f"go-{self.point}").write_text("")

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def finish(self, seconds: float = JOB_TIMEOUT) -> int:
        self.process.wait(timeout=seconds)
        return self.process.returncode

    def output(self) -> str:
        return (self.fault_dir / "output.log").read_text(errors="replace")[-4000:]


@dataclass
class Faults:
    db: psycopg.Connection[Any]
    database_url: str
    tmp_path: Path
    config: str = ""
    env: dict[str, str] = field(default_factory=dict)
    started: list[Job] = field(default_factory=list)

    @property
    def jobs(self) -> int:
        return len(self.started)

    @property
    def home(self) -> Path:
        return self.tmp_path / "home"

    def setup(self, *, platform_target: bool = False, dagster_yaml: str = "telemetry:\n  enabled: false\n") -> None:
        path = self.tmp_path / "people.ndjson"
        path.write_text("".join(json.dumps({"p": {"id": i, "name": "BAD" if i % BAD_EVERY == 0 else f"n{i}"}}) + "\n"
                                for i in range(RECORDS)))
        org = add_organization(self.db)
        target = dict(PEOPLE_OUT) if platform_target else {**PEOPLE_OUT, "url": other_url(self.database_url)}
        self.config = add_file_config(self.db, org, "People", path, target=target)
        add_mapping(self.db, org, self.config, "id", "p.id", "id", target_data_type="integer")
        add_mapping(self.db, org, self.config, "name", "p.name", "name")
        add_pipeline(self.db, org, self.config, "people", [
            jmespath_step("check", 1, "validate", "name == 'BAD' && 'a bad record' || null"),
        ], strategy="dead_letter")
        create_target_table(self.db)
        self.home.mkdir(exist_ok=True)
        (self.home / "dagster.yaml").write_text(dagster_yaml)
        with dg.DagsterInstance.from_config(str(self.home)):  # its storage made once, not raced by the jobs
            pass
        site = self.tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.env = {
            **os.environ,
            "INTEGRATION_ORCHESTRATOR_DATABASE_URL": self.database_url,
            "DAGSTER_HOME": str(self.home),
            LEASE_TTL_ENV: str(TTL_SECONDS), HEARTBEAT_ENV: str(HEARTBEAT),
            "PYTHONPATH": os.pathsep.join([str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        }

    def execute(self, point: str | None = None, env: Mapping[str, str] | None = None,
                tags: Mapping[str, str] | None = None) -> Job:
        """``dagster job execute`` of ``people`` in the background, pausing at ``point``."""
        fault_dir = self.tmp_path / f"fault-{self.jobs + 1}"
        fault_dir.mkdir()
        command = [bin_path("dagster"), "job", "execute", "-j", "people", "-m", "integration_orchestrator.definitions",
                   "-a", "defs"]
        if tags:
            command += ["--tags", json.dumps(dict(tags))]
        full_env = {**self.env, **(env or {}), "FAULT_DIR": str(fault_dir)}
        if point:
            full_env["FAULT_PAUSE_AT"] = point
        with (fault_dir / "output.log").open("w") as log:  # a file, not a pipe: nothing blocks on a full pipe
            process = subprocess.Popen(command, env=full_env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                       text=True, start_new_session=True)
        job = Job(process, fault_dir, point)
        self.started.append(job)
        return job

    def kill_leftovers(self) -> None:
        for job in self.started:
            if job.process.poll() is None:
                job.kill9()

    def run(self) -> None:
        """A clean run to its end."""
        job = self.execute()
        assert job.finish() == 0, job.output()

    def reconcile(self, after: float = 0.0) -> list[tuple[str, str]]:
        time.sleep(after)
        with dg.DagsterInstance.from_config(str(self.home)) as instance, _lease_env(self.env):
            return reconcile_executions(instance, IntegrationDatabase(database_url=self.database_url))

    # -- counts -------------------------------------------------------------------------------
    def target(self) -> dict[str, int]:
        row = self.db.execute("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM people_out").fetchone()
        assert row is not None
        return {"n": int(row["n"]), "ids": int(row["ids"])}

    def pending_letters(self) -> int:
        row = self.db.execute("SELECT count(*) AS n FROM integration_dead_letters WHERE status = 'pending'").fetchone()
        assert row is not None
        return int(row["n"])

    def assert_letters(self, expected: int) -> None:
        """Exactly ``expected`` pending letters; raised last in a test, as :class:`LettersNotStaged`."""
        pending = self.pending_letters()
        if pending != expected:
            raise LettersNotStaged(f"{pending} pending dead letters, expected {expected}")

    def executions(self) -> list[tuple[str, int | None]]:
        """(status, records_out) of every execution row, oldest first."""
        rows = self.db.execute("SELECT status, records_out FROM integration_executions ORDER BY created_at").fetchall()
        return [(r["status"], r["records_out"]) for r in rows]

    def dagster(self) -> list[str]:
        """The Dagster status of every execution row's run, oldest first ('gone' if unknown)."""
        ids = [str(r["dagster_run_id"]) for r in self.db.execute(
            "SELECT dagster_run_id FROM integration_executions ORDER BY created_at").fetchall()]
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            runs = [instance.get_run_by_id(i) for i in ids]
        return [run.status.value if run is not None else "gone" for run in runs]


@contextmanager
def _lease_env(env: Mapping[str, str]) -> Iterator[None]:
    """The lease settings of the job processes, for a reconciler run in the test process."""
    saved = {k: os.environ.get(k) for k in (LEASE_TTL_ENV, HEARTBEAT_ENV)}
    os.environ.update({k: env[k] for k in saved})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def faults(db: psycopg.Connection[Any], database_url: str, tmp_path: Path) -> Iterator[Faults]:
    """The fault machinery on the test's own database (call ``setup()`` first); a job a
    failed test left paused is killed at the end."""
    f = Faults(db, database_url, tmp_path)
    yield f
    f.kill_leftovers()
