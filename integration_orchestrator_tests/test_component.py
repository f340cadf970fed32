"""``IntegrationsComponent`` in a ``dg`` project: scaffolded, listed, refreshed, reconstructed, reloaded.

Each test builds the project ``create-dagster project`` would (``pyproject.toml`` with a
``[tool.dg]`` section, ``src/<name>/definitions.py`` loading the defs folder), runs the
real ``dg`` entry point in it, and reads the result as a user does.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import psycopg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository, initialize_repository_def_from_pointer

from integration_orchestrator.component import IntegrationsComponent, load_translator
from integration_orchestrator.errors import ConfigurationError
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path, start_background
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    add_schedule,
    create_target_table,
    jmespath_step,
)

pytestmark = pytest.mark.usefixtures("fresh_load_context")

TABLES = ["integration_configs", "integration_mappings", "integration_mapping_tests",
          "integration_pipeline_definitions", "integration_transformations", "integration_schedules"]


def make_project(root: Path, defs_yaml: str | None = None) -> tuple[Path, str]:
    """A dg project under ``root`` (as ``create-dagster project`` lays it out); its root and module name."""
    name = f"proj_{uuid.uuid4().hex[:8]}"
    package = root / "src" / name
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    (package / "definitions.py").write_text(textwrap.dedent("""
        from pathlib import Path

        from dagster import definitions, load_from_defs_folder


        @definitions
        def defs():
            return load_from_defs_folder(path_within_project=Path(__file__).parent)
        """))
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""
        [project]
        name = "{name}"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = ["integration-orchestrator"]

        [tool.dg]
        directory_type = "project"

        [tool.dg.project]
        root_module = "{name}"
        """))
    if defs_yaml is not None:
        (package / "defs" / "integrations").mkdir()
        (package / "defs" / "integrations" / "defs.yaml").write_text(defs_yaml)
    return root, name


def project_env(root: Path, database_url: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(root / "src"), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url,
            "DAGSTER_HOME": str(root / "dagster_home")}


def run_dg(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    (root / "dagster_home").mkdir(exist_ok=True)
    result = subprocess.run([bin_path("dg"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"dg {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def listed(root: Path, env: dict[str, str]) -> dict[str, Any]:
    output: dict[str, Any] = json.loads(run_dg(root, env, "list", "defs", "--json").stdout)
    return output


def jobs_of(listing: dict[str, Any]) -> list[str]:
    return sorted(job["name"] for job in listing.get("jobs", []))


def add_integration(db: psycopg.Connection[Any], org: str, name: str, records: int = 3) -> str:
    config = add_config(db, org, name, [{"p": {"id": i}} for i in range(1, records + 1)])
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    return config


def test_scaffold_then_list_shows_the_integrations_job_schedule_and_asset(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    config = add_integration(db, org, "People")
    add_pipeline(db, org, config, "people sync", [jmespath_step("tier", 1, "enrich", "{tier: 'x'}")])
    add_schedule(db, org, config, schedule_name="nightly", cron_expression="0 2 * * *")
    root, name = make_project(tmp_path)
    env = project_env(root, database_url)

    components = json.loads(run_dg(root, env, "list", "components", "--json").stdout)["items"]
    assert "integration_orchestrator.component.IntegrationsComponent" in {c["key"] for c in components}
    run_dg(root, env, "scaffold", "defs", "integration_orchestrator.IntegrationsComponent", "integrations")
    written = (root / "src" / name / "defs" / "integrations" / "defs.yaml").read_text()
    assert "type: integration_orchestrator.IntegrationsComponent" in written
    assert "{{ env.INTEGRATION_ORCHESTRATOR_DATABASE_URL }}" in written

    listing = listed(root, env)
    assert jobs_of(listing) == ["people_sync"]
    assert [s["name"] for s in listing["schedules"]] == ["nightly_schedule"]
    assets = {a["asset_key"] for a in listing["assets"]}
    assert "integrations/people" in assets


LOCAL_STATE = """\
type: integration_orchestrator.IntegrationsComponent
attributes:
  database_url: "{{ env.INTEGRATION_ORCHESTRATOR_DATABASE_URL }}"
  defs_state:
    management_type: LOCAL_FILESYSTEM
    refresh_if_dev: false
"""


def test_local_state_changes_only_with_dg_utils_refresh_defs_state(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    add_integration(db, org, "People")
    root, _name = make_project(tmp_path, LOCAL_STATE)
    env = project_env(root, database_url)

    assert jobs_of(listed(root, env)) == []  # no state yet: nothing, and no query
    run_dg(root, env, "utils", "refresh-defs-state")
    assert jobs_of(listed(root, env)) == ["people"]
    add_integration(db, org, "Orders")
    assert jobs_of(listed(root, env)) == ["people"]  # the state, not the tables
    run_dg(root, env, "utils", "refresh-defs-state")
    assert jobs_of(listed(root, env)) == ["orders", "people"]


@pytest.mark.slow
def test_run_workers_build_from_the_component_state_without_querying_the_tables(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = add_organization(db)
    config = add_integration(db, org, "People", records=5)
    add_pipeline(db, org, config, "people mp", [jmespath_step("odd", 1, "filter", "id != `2`")],
                 pipeline_type="parallel")
    create_target_table(db)
    root, name = make_project(tmp_path, "type: integration_orchestrator.IntegrationsComponent\n")
    monkeypatch.syspath_prepend(str(root / "src"))
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)
    monkeypatch.setenv("PYTHONPATH", project_env(root, database_url)["PYTHONPATH"])

    repo = ReconstructableRepository.for_module(f"{name}.definitions", "defs", working_directory=str(root / "src"))
    repo_def = initialize_repository_def_from_pointer(repo.pointer)  # the code server's load: one query
    load_data = repo_def.repository_load_data
    assert load_data is not None
    for table in TABLES:  # from now on, any query of the integration tables fails
        db.execute(f"ALTER TABLE {table} RENAME TO hidden_{table}")
    try:
        recon_job = repo.with_repository_load_data(load_data).get_reconstructable_job("people_mp")
        with dg.instance_for_test() as instance:
            result = dg.execute_job(recon_job, instance=instance)  # multiprocess: every step rebuilds
            assert result.success
    finally:
        for table in TABLES:
            db.execute(f"ALTER TABLE hidden_{table} RENAME TO {table}")
    rows = db.execute("SELECT count(*) AS n FROM people_out").fetchone()
    assert rows is not None and rows["n"] == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_JOBS_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name } } } } }"


def _served_jobs(url: str) -> list[str] | None:
    try:
        reply = httpx.post(f"{url}/graphql", json={"query": _JOBS_QUERY}, timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    nodes = reply.get("data", {}).get("repositoriesOrError", {}).get("nodes") or []
    return sorted(j["name"] for n in nodes for j in n["jobs"] if not j["name"].startswith("__"))


@pytest.mark.slow
def test_integration_orchestrator_reload_refreshes_the_served_component(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    add_integration(db, org, "People")
    root, name = make_project(tmp_path, "type: integration_orchestrator.IntegrationsComponent\n")
    env = project_env(root, database_url)
    (root / "dagster_home").mkdir()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_background(
        [bin_path("dagster-webserver"), "-m", f"{name}.definitions", "-h", "127.0.0.1", "-p", str(port)],
        env=env, cwd=root, log=tmp_path / "webserver.log",
    )
    try:
        assert server.wait_for(lambda: _served_jobs(url), 120) == ["people"], server.log_tail()
        add_integration(db, org, "Orders")
        assert _served_jobs(url) == ["people"]
        reload = subprocess.run(
            [bin_path("integration-orchestrator"), "reload", "--url", url, "--location", f"{name}.definitions"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert reload.returncode == 0, reload.stderr
        assert _served_jobs(url) == ["orders", "people"]
    finally:
        server.stop()


class Prefixed:  # not a translator
    pass


def test_a_translator_reference_that_is_not_a_translator_is_a_clear_error() -> None:
    assert load_translator(None) is None
    with pytest.raises(ConfigurationError, match="cannot be imported"):
        load_translator("no_such_module:Thing")
    with pytest.raises(ConfigurationError, match=r"not an integration_orchestrator\.IntegrationTranslator"):
        load_translator(f"{__name__}:Prefixed")


def test_the_reference_defs_yaml_with_a_translator_and_an_organization(
    db: psycopg.Connection[Any], database_url: str, tmp_path: Path
) -> None:
    org = add_organization(db)
    add_integration(db, org, "People")
    add_integration(db, add_organization(db), "Other")  # another organization's: not loaded
    root, name = make_project(tmp_path)
    (root / "src" / name / "translation.py").write_text(textwrap.dedent("""
        import dataclasses

        from integration_orchestrator.factory import IntegrationTranslator


        class Prefixed(IntegrationTranslator):
            def get_integration_spec(self, data):
                spec = super().get_integration_spec(data)
                return dataclasses.replace(spec, job_name=f"team_{spec.job_name}")
        """))
    (root / "src" / name / "defs" / "integrations").mkdir()
    documented = reference_yaml().replace("my_project.translation:MyTranslator", f"{name}.translation:Prefixed")
    (root / "src" / name / "defs" / "integrations" / "defs.yaml").write_text(documented)
    env = {**project_env(root, database_url), "INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID": org}
    assert jobs_of(listed(root, env)) == ["team_people"]  # the reference's defs.yaml, every attribute


def reference_yaml() -> str:
    """The ``defs.yaml`` of docs/reference.md (the example a user copies)."""
    text = (REPO_ROOT / "docs" / "reference.md").read_text()
    block = text.split("```yaml\ntype: integration_orchestrator.IntegrationsComponent", 1)[1].split("```", 1)[0]
    return "type: integration_orchestrator.IntegrationsComponent" + block


def test_the_component_is_importable_from_the_package_root() -> None:
    import integration_orchestrator

    assert integration_orchestrator.IntegrationsComponent is IntegrationsComponent
    assert sys.modules["integration_orchestrator.component"].IntegrationsComponent is IntegrationsComponent
