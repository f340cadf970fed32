"""``integration-orchestrator templates ...`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from integration_orchestrator.templates.library import builtin_template_paths
from integration_orchestrator_tests.rows import add_organization
from integration_orchestrator_tests.templates.helpers import minimal_template, write_template


def test_install_list_test_export_round_trip(run_cli: Any, db: Any, tmp_path: Path) -> None:
    first = run_cli("templates", "install")
    assert first.returncode == 0, first.stderr
    count = len(builtin_template_paths())
    assert first.stdout.count("installed ") == count and "certified; tests" in first.stdout

    again = run_cli("templates", "install")
    assert again.returncode == 0 and again.stdout.count("unchanged ") == count

    listing = run_cli("templates", "list")
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "CATEGORY", "CERTIFIED", "OWNER", "ACTIVE"]
    okta = next(line for line in lines if line.startswith("okta_users"))
    assert okta.split()[:4] == ["okta_users", "1.0.0", "security", "yes"]
    assert lines[-1] == f"{count} template(s)"

    tested = run_cli("templates", "test", "jira_risk_register")
    assert tested.returncode == 0, tested.stderr
    assert "PASS  risk_id / issue key [unit]" in tested.stdout
    assert "PASS  transformation jira_overdue_risks / open and overdue [unit]" in tested.stdout
    assert "jira_risk_register 1.0.0: 22/22 passed; certified on" in tested.stdout
    assert "coverage" in tested.stdout

    shown = run_cli("templates", "show", "okta_users")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("okta_users 1.0.0 (security, okta)\ncertified: ")
    assert (
        "source: http GET https://example.okta.com/api/v1/users, link_header pagination, api_key auth, 600 req/min"
        in shown.stdout
    )
    assert "  is_active              boolean  -- The account can sign in" in shown.stdout
    assert "  account_id             $.id -> account_id" in shown.stdout

    exported = run_cli("templates", "export", "github_org_members")
    assert exported.returncode == 0
    assert yaml.safe_load(exported.stdout)["template_name"] == "github_org_members"
    target = tmp_path / "shared.yaml"
    written = run_cli("templates", "export", "github_org_members", "--output", str(target))
    assert written.returncode == 0 and target.exists()

    add_organization(db, "acme")
    shared = run_cli("templates", "install", "--file", str(target), "--organization", "acme")
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.startswith("installed github_org_members 1.0.0 (certified")
    owned = run_cli("templates", "list", "--organization", "acme")
    assert sum(1 for line in owned.stdout.splitlines() if line.startswith("github_org_members")) == 2


def test_instantiate_upgrade_deploy(run_cli: Any, db: Any, tmp_path: Path) -> None:
    v1 = write_template(tmp_path, minimal_template())
    v2_data = minimal_template(version="2.0.0")
    v2_data["mapping_templates"]["mappings"][1]["error_handling"] = "null"
    v2 = write_template(tmp_path, v2_data)
    assert run_cli("templates", "install", "--file", str(v1), "--file", str(v2)).returncode == 0
    add_organization(db, "acme")

    custom = json.dumps({"connection": {"target": {"table": "staff"}}, "mappings": {"name": {"mapping_notes": "kept"}}})
    made = run_cli(
        "templates", "instantiate", "tiny_people", "--version", "1.0.0", "--name", "Staff", "--customizations", custom
    )
    assert made.returncode == 0, made.stderr
    assert "`Staff` from tiny_people 1.0.0" in made.stdout and "(status draft)" in made.stdout

    deployed = run_cli("templates", "deploy", "Staff")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "tests 2/2 passed; deployment_status active" in deployed.stdout

    preview = run_cli("templates", "upgrade", "Staff", "--to", "2.0.0", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "1.0.0 -> 2.0.0" in preview.stdout and "~ mapping name: error_handling" in preview.stdout
    assert "dry run: nothing changed" in preview.stdout

    upgraded = run_cli("templates", "upgrade", "Staff", "--to", "2.0.0")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert "deployment_status active" in upgraded.stdout
    row = db.execute(
        "SELECT m.error_handling::text AS e, m.mapping_notes, c.connection_config -> 'target' ->> 'table' AS t "
        "FROM integration_mappings m JOIN integration_configs c ON c.id = m.config_id WHERE m.mapping_name = 'name'"
    ).fetchone()
    assert row == {"e": "null", "mapping_notes": "kept", "t": "staff"}

    gone = run_cli("templates", "deprecate", "Staff")
    assert gone.returncode == 0 and "deprecated" in gone.stdout


def test_bad_input_exits_2_naming_file_and_field(run_cli: Any, db: Any, tmp_path: Path) -> None:
    data = minimal_template()
    data["mapping_templates"] = [1]
    bad = write_template(tmp_path, data, "bad.yaml")
    result = run_cli("templates", "install", "--file", str(bad))
    assert result.returncode == 2
    assert "In template file `bad.yaml`, field `mapping_templates`: must be a JSON object" in result.stderr
    assert db.execute("SELECT count(*) AS n FROM integration_templates").fetchone()["n"] == 0

    assert run_cli("templates", "install", "--file", str(write_template(tmp_path, minimal_template()))).returncode == 0
    add_organization(db, "acme")
    not_json = run_cli("templates", "instantiate", "tiny_people", "--name", "x", "--customizations", "{nope")
    assert not_json.returncode == 2 and "--customizations" in not_json.stderr and "not valid JSON" in not_json.stderr
    bad_custom = run_cli(
        "templates", "instantiate", "tiny_people", "--name", "x", "--customizations", '{"mappings": {"age": false}}'
    )
    assert bad_custom.returncode == 2
    assert "field `customizations.mappings.age`: template `tiny_people` 1.0.0 has no mapping `age`" in bad_custom.stderr
    unknown = run_cli("templates", "test", "nope")
    assert unknown.returncode == 2 and "no such template is installed" in unknown.stderr


def test_failing_suite_exits_1_and_decertifies(run_cli: Any, db: Any, tmp_path: Path) -> None:
    assert run_cli("templates", "install", "--file", str(write_template(tmp_path, minimal_template()))).returncode == 0
    db.execute(
        "UPDATE integration_templates SET test_suite = jsonb_set(test_suite, "
        "'{tests,0,expected_output}', '{\"person_id\": 8}')"
    )
    result = run_cli("templates", "test", "tiny_people")
    assert result.returncode == 1
    assert (
        'FAIL  person_id / id cast [unit]: output differs: expected {"person_id":8}, got {"person_id":7}'
        in result.stdout
    )
    assert "1/2 passed; not certified" in result.stdout
    row = db.execute("SELECT is_certified, certification_date FROM integration_templates").fetchone()
    assert row == {"is_certified": False, "certification_date": None}


def test_exported_file_installs_into_another_installation(
    run_cli: Any, db: Any, tmp_path: Path, empty_database_url: str
) -> None:
    data = minimal_template("shared_people")
    assert run_cli("templates", "install", "--file", str(write_template(tmp_path, data))).returncode == 0
    shared = tmp_path / "shared_people.yaml"
    assert run_cli("templates", "export", "shared_people", "--output", str(shared)).returncode == 0

    other = ("--database-url", empty_database_url)
    assert run_cli(*other, "db", "upgrade").returncode == 0
    installed = run_cli(*other, "templates", "install", "--file", str(shared))
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith("installed shared_people 1.0.0 (certified; tests 2/2)")
    listing = run_cli(*other, "templates", "list")
    assert [line.split()[:4] for line in listing.stdout.splitlines()[1:-1]] == [
        ["shared_people", "1.0.0", "custom", "yes"]
    ]
