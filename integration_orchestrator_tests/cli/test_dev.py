"""``dev`` serves the user's own code location (``--module`` or ``-w``): the translator and
resource example of docs/reference.md, as written there, under the real ``dev``; and ``dev``
started in the background (SIGINT ignored, as a shell's ``dev &`` does) stops on SIGTERM, sent
to its pid or to its process group, with its webserver, daemon and code server gone."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect
from integration_orchestrator.db.urls import database_name
from integration_orchestrator_tests.processes import REPO_ROOT
from integration_orchestrator_tests.rows import add_config, add_organization, add_pipeline, jmespath_step

pytestmark = pytest.mark.slow  # `dagster dev`: a webserver, a daemon and a code server

QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  jobs { name tags { key value } }
  assetNodes { assetKey { path } groupName }
  allTopLevelResourceDetails { name } } } } }"""
WORKSPACE = """load_from:
  - python_module:
      module_name: my_integrations
      attribute: defs
      working_directory: .
"""


def doc_example(name: str) -> str:
    """The fenced code block after ``<!-- example: NAME -->`` in docs/reference.md."""
    text = (REPO_ROOT / "docs" / "reference.md").read_text()
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"docs/reference.md has no example {name}"
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _location(port: int) -> dict[str, Any] | None:
    try:
        reply = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": QUERY}, timeout=60).json()
        nodes = reply["data"]["repositoriesOrError"]["nodes"]
    except (httpx.HTTPError, KeyError, TypeError, ValueError):
        return None
    return nodes[0] if nodes else None


@pytest.mark.parametrize(("how", "kill"), [("module", "pid"), ("workspace", "group")])
def test_dev_serves_the_users_code_location_and_stops_on_sigterm(
    db: psycopg.Connection[Any], database_url: str, pg_admin_url: str, tmp_path: Path, how: str, kill: str
) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "First", [{"id": 1}]), "first", [jmespath_step("a", 1, "map", "@")])
    (tmp_path / "my_integrations.py").write_text(doc_example("my_integrations.py"))
    (tmp_path / "my_workspace.yaml").write_text(WORKSPACE)
    port = _free_port()
    location = ["--module", "my_integrations"] if how == "module" else ["-w", "my_workspace.yaml"]
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
           "INTEGRATION_ORCHESTRATOR_HOME": str(tmp_path / "home")}
    log = (tmp_path / "dev.log").open("wb")
    dev = subprocess.Popen(  # as `dev &` from a script: SIGINT ignored, SIGTERM to dev alone
        [sys.executable, "-m", "integration_orchestrator", "dev", "--port", str(port), *location],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509 - no threads here
    )
    try:
        deadline = time.monotonic() + 400
        found = None
        while time.monotonic() < deadline and not (found and found["jobs"]):
            assert dev.poll() is None, (tmp_path / "dev.log").read_text()[-3000:]
            found = _location(port)
            time.sleep(2)
        assert found, (tmp_path / "dev.log").read_text()[-3000:]
        jobs = {job["name"]: {t["key"]: t["value"] for t in job["tags"]} for job in found["jobs"]}
        assert jobs["erp_first"]["team"] == "erp"  # the translator ran under dev
        groups = {"/".join(a["assetKey"]["path"]): a["groupName"] for a in found["assetNodes"]}
        assert groups["integrations/first"] == "erp"
        assert "erp_api" in {r["name"] for r in found["allTopLevelResourceDetails"]}
        assert (tmp_path / "my_workspace.yaml").read_text() == WORKSPACE  # never written

        children = psutil.Process(dev.pid).children(recursive=True)
        assert children
        started = time.monotonic()
        if kill == "pid":  # `kill PID` of a `dev &`
            os.kill(dev.pid, signal.SIGTERM)
        else:  # `kill -- -PGID`: dev's whole process group
            os.killpg(dev.pid, signal.SIGTERM)
        code = dev.wait(timeout=120)
        assert code == 0, (tmp_path / "dev.log").read_text()[-3000:]
        assert time.monotonic() - started < 120
        psutil.wait_procs(children, timeout=60)
        assert [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    finally:
        if dev.poll() is None:
            for process in psutil.Process(dev.pid).children(recursive=True):
                process.kill()
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
        log.close()
        with connect(pg_admin_url, autocommit=True) as admin:
            name = database_name(database_url) + "_dagster"
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
