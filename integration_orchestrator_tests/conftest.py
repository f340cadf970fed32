"""Real PostgreSQL for every test, no mocks.

One server per test session: the embedded server (a fresh data directory under the
session's temp folder), or the server named by ``INTEGRATION_ORCHESTRATOR_TEST_DATABASE_URL``
(e.g. the PostgreSQL 15 service at ``postgresql://postgres@127.0.0.1:5432/postgres``).
The schema is migrated once into a template database; each test that asks for
``database_url`` gets its own database cloned from it (``CREATE DATABASE ... TEMPLATE``),
so tests are isolated and cheap; ``sdb`` is one such database shared by a module's tests.
Rows are built with ``integration_orchestrator_tests.rows``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from integration_orchestrator.db import connect, upgrade
from integration_orchestrator.db.embedded import start_embedded_server
from integration_orchestrator.db.urls import with_database
from integration_orchestrator_tests.processes import REPO_ROOT, Background, bin_path, start_background
from integration_orchestrator_tests.rows import Conn, Ids, populate_organization

TEST_URL_ENV = "INTEGRATION_ORCHESTRATOR_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL to the maintenance database of the session's PostgreSQL server."""
    external = os.environ.get(TEST_URL_ENV)
    if external:
        yield external
        return
    # A private folder, not pytest's tmp_path_factory: pytest prunes old basetemp folders,
    # which would delete the data directory of another session's running server.
    home = Path(tempfile.mkdtemp(prefix="io-embedded-pg-"))
    server = start_embedded_server(home)
    try:
        yield server.url("postgres")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _drop(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    """Name of a database migrated to the latest schema, used as a clone template."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"io_tpl_{worker}_{uuid.uuid4().hex[:8]}"
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        upgrade(with_database(pg_admin_url, name))
        yield name
    finally:
        _drop(pg_admin_url, name)


@contextmanager
def _clone(admin_url: str, template: str, prefix: str) -> Iterator[str]:
    """A new database cloned from ``template``, dropped on exit; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    try:
        yield with_database(admin_url, name)
    finally:
        _drop(admin_url, name)


@pytest.fixture
def database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh, fully migrated database of its own for this test."""
    with _clone(pg_admin_url, template_database, "io_t") as url:
        yield url


@pytest.fixture(scope="module")
def shared_database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """One migrated database shared by a module's tests.

    For tests of pure SQL functions, or tests that only add rows (with unique names) or
    fail to: sharing saves a database clone per test.
    """
    with _clone(pg_admin_url, template_database, "io_m") as url:
        yield url


@pytest.fixture(scope="module")
def sdb(shared_database_url: str) -> Iterator[Conn]:
    """An owner connection (autocommit) to the module's shared database."""
    with connect(shared_database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def organizations(sdb: Conn) -> tuple[Ids, Ids]:
    """Two populated organizations (A, B) in the module's shared database (see ``rows.populate_organization``)."""
    return populate_organization(sdb, "a"), populate_organization(sdb, "b")


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"io_e_{uuid.uuid4().hex[:12]}"
    with connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(pg_admin_url, name)
    finally:
        _drop(pg_admin_url, name)


@pytest.fixture
def db(database_url: str) -> Iterator[Conn]:
    """An owner connection (autocommit) to the test's database."""
    with connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    """A ``DAGSTER_HOME`` (telemetry off) for the Dagster processes of one test."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


@pytest.fixture
def background(tmp_path: Path) -> Iterator[Callable[..., Background]]:
    """Start a long-running process (output in ``tmp_path / log_name``); each one is stopped at teardown."""
    started: list[Background] = []

    def start(args: list[str], *, env: Mapping[str, str], log_name: str, cwd: Path = REPO_ROOT) -> Background:
        process = start_background(args, env=env, cwd=cwd, log=tmp_path / log_name)
        started.append(process)
        return process

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture
def dagster_daemon(background: Callable[..., Background], dagster_home: Path) -> Callable[..., Background]:
    """Start a real ``dagster-daemon run <target...>`` on ``dagster_home`` with ``env`` added (stopped at teardown)."""

    def start(*target: str, env: Mapping[str, str]) -> Background:
        full_env = {**os.environ, "DAGSTER_HOME": str(dagster_home), **env}
        return background([bin_path("dagster-daemon"), "run", *target], env=full_env, log_name="daemon.log")

    return start


@pytest.fixture
def run_cli(database_url: str, tmp_path: Path) -> Any:
    """Run the real ``integration-orchestrator`` entry point against the test database."""

    def run(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "integration_orchestrator", *args],
            capture_output=True,
            text=True,
            input=input,
            env=full_env,
            cwd=tmp_path,
            timeout=600,
        )

    return run


@pytest.fixture
def fresh_load_context() -> Iterator[None]:
    """Loading the code location in this process installs Dagster's process-wide
    ``DefinitionsLoadContext`` (reconstruction, with this test's snapshot): start from none,
    so each load builds afresh, and put the previous one back for the tests that follow."""
    from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext

    previous = DefinitionsLoadContext._instance
    DefinitionsLoadContext._instance = None
    yield
    DefinitionsLoadContext._instance = previous
