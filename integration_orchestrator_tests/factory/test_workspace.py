"""workspace.yaml / dagster.yaml: the code location loads and runs through Dagster's own CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)


def _dagster(database_url: str, home: Path, *args: str, workspace: bool = True) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(home)}
    dagster = bin_path("dagster")
    target = ["-w", str(REPO_ROOT / "workspace.yaml")] if workspace else [
        "-m", "integration_orchestrator.definitions", "-a", "defs"]
    return subprocess.run([dagster, *args, *target], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=600)


def test_definitions_validate_lists_the_location(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    add_pipeline(db, org, add_config(db, org, "People"), "people", [jmespath_step("a", 1, "map", "@")])
    done = _dagster(database_url, tmp_path / "home", "definitions", "validate")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Validation successful for code location integration_orchestrator" in done.stdout + done.stderr


def test_definitions_validate_with_database_down_names_the_problem(tmp_path: Path) -> None:
    done = _dagster("postgresql://nobody@127.0.0.1:9/none", tmp_path / "home", "definitions", "validate")
    assert done.returncode != 0
    assert ("DatabaseUnavailableError: Cannot reach the integration database at postgresql://nobody@127.0.0.1:9/none"
            in done.stdout + done.stderr)


@pytest.mark.slow
def test_job_execute_through_the_code_pointer(db: psycopg.Connection[Any], database_url: str, tmp_path: Path) -> None:
    org = add_organization(db)
    config = add_config(db, org, "People", [{"p": {"id": 1}}, {"p": {"id": 2}}])
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_pipeline(db, org, config, "people", [jmespath_step("tier", 1, "enrich", "{tier: 'cli'}")])
    create_target_table(db)
    done = _dagster(database_url, tmp_path / "home", "job", "execute", "-j", "people", workspace=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert db.execute("SELECT id, tier FROM people_out ORDER BY id").fetchall() == [
        {"id": 1, "tier": "cli"}, {"id": 2, "tier": "cli"}]
    assert db.execute("SELECT status FROM integration_executions").fetchone() == {"status": "succeeded"}
    shutil.rmtree(tmp_path / "home", ignore_errors=True)
