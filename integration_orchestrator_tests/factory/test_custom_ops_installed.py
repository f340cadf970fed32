"""The README's example op package (``examples/acme_ops``), pip-installed, used by a pipeline step.

The package is installed with ``pip install --no-deps --target`` into a temporary
directory and a fresh Python process (this worktree's code plus that directory on its
path) loads the integrations: ``acme.geocode`` comes from the entry-point group, not
from an in-process registration.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration_orchestrator_tests.processes import REPO_ROOT
from integration_orchestrator_tests.rows import add_config, add_organization, add_pipeline

EXAMPLE = REPO_ROOT / "examples" / "acme_ops"
WORKTREE = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
import dagster as dg
from acme_ops import Geocoder
from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory.custom_ops import _REGISTERED
from integration_orchestrator.ops import registered_ops

defs = build_definitions(resources={"geocoder": Geocoder(cities={"utrecht": [52.0907, 5.1214]})})
result = defs.get_job_def("geo").execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
op = registered_ops()["acme.geocode"]
print(json.dumps({"success": result.success, "module": op.fn.__module__, "in_process": sorted(_REGISTERED)}))
"""


@pytest.mark.slow
def test_the_readme_example_package_installed_runs_as_a_step(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(site), str(EXAMPLE)],
        capture_output=True, text=True, timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert list(site.glob("acme_ops-*.dist-info/entry_points.txt"))
    org = add_organization(db)
    out = tmp_path / "out.ndjson"
    config = add_config(db, org, "Geo", [{"id": 1, "city": "Utrecht"}, {"id": 2, "city": "Atlantis"}],
                        target={"type": "file", "path": str(out)})
    add_pipeline(db, org, config, "geo", [{"name": "geocode", "order": 1, "op": "acme.geocode",
                                          "config": {"precision": 1}}], strategy="dead_letter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKTREE), str(site)]),
           "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"success": True, "module": "acme_ops", "in_process": []}  # from the entry point
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"id": 1, "city": "Utrecht", "lat": 52.1, "lon": 5.1},
    ]
    letters = db.execute("SELECT record, step_name, error_message FROM integration_dead_letters").fetchall()
    assert [(r["record"]["city"], r["step_name"]) for r in letters] == [("Atlantis", "geocode")]
    assert "no coordinates for city='Atlantis'" in letters[0]["error_message"]


def test_the_readme_shows_the_example_package_as_tested() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    for path in ("pyproject.toml", "src/acme_ops/__init__.py"):
        assert (EXAMPLE / path).read_text().strip() in readme, f"README.md does not show examples/acme_ops/{path}"
