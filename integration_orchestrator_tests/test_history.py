"""Configuration history through the real CLI: ``history ROW_ID``, ``history diff`` and ``diff``."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator.history import FieldChange, diff_states
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    insert_row,
    jmespath_step,
    organization_row,
    user_row,
    valid_row,
)

Conn = psycopg.Connection[dict[str, Any]]


def _org(db: Conn, slug: str) -> dict[str, Any]:
    org = insert_row(db, "organizations", organization_row(slug.upper(), slug=slug))
    return {"organizations": org, "users": insert_row(db, "users", user_row(org, f"ada@{slug}.example"))}


@pytest.fixture
def config(db: Conn) -> dict[str, Any]:
    """A config changed twice by a known user, then another org with its own config."""
    ids = _org(db, "acme")
    row = valid_row("integration_configs", ids) | {"integration_name": "Orders"}
    row["connection_config"] = Jsonb({"source": {"type": "inline", "records": [{"a": 1}]}, "target": {"type": "file"}})
    config_id = insert_row(db, "integration_configs", row)
    with db.transaction():
        db.execute("SELECT set_config('integration.user_id', %s, true)", (str(ids["users"]),))
        db.execute(
            "UPDATE integration_configs SET connection_config = %s, description = 'v2' WHERE id = %s",
            (Jsonb({"source": {"type": "inline", "records": [{"a": 2}, {"b": 3}]}, "target": {"type": "file"},
                    "headers": {"X-Api-Key": {"$secret": "k"}, "api_token": "clear-text-token"}}), config_id),
        )
    db.execute("UPDATE integration_configs SET timezone = 'UTC' WHERE id = %s", (config_id,))
    db.execute(
        "UPDATE integration_configs SET timezone = 'UTC' WHERE id = %s", (config_id,)
    )  # unchanged: no new version
    return ids | {"config": str(config_id)}


def test_history_lists_every_version_with_who_and_changed_fields(run_cli: Any, config: dict[str, Any]) -> None:
    result = run_cli("history", config["config"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"integration_configs `Orders` (id {config['config']})"
    versions = [line.split() for line in lines[2:]]
    assert [v[0] for v in versions] == ["1", "2", "3"]
    assert [v[1] for v in versions] == ["insert", "update", "update"]
    assert versions[1][3] == "ada@acme.example"
    assert lines[3].endswith("connection_config, description")
    assert lines[4].endswith("timezone")
    as_json = json.loads(run_cli("history", config["config"], "--json").stdout)
    assert [v["changed_fields"] for v in as_json["versions"]] == [
        [],
        ["connection_config", "description"],
        ["timezone"],
    ]


@pytest.mark.parametrize("command", [("history", "diff"), ("diff",)])
def test_diff_is_field_level_with_json_paths(run_cli: Any, config: dict[str, Any], command: tuple[str, ...]) -> None:
    result = run_cli(*command, config["config"], "1", "3", "--json")
    assert result.returncode == 0, result.stderr
    changes = {c["path"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["connection_config.source.records[0].a"] == {
        "path": "connection_config.source.records[0].a", "kind": "changed", "old": 1, "new": 2}
    assert changes["connection_config.source.records[1]"]["kind"] == "added"
    # sensitive-looking keys are masked in the output
    assert changes["connection_config.headers"]["new"] == {"X-Api-Key": "***", "api_token": "***"}
    assert changes["timezone"] == {"path": "timezone", "kind": "changed", "old": "Europe/Berlin", "new": "UTC"}
    assert "version" not in changes and "updated_at" not in changes
    text = run_cli(*command, config["config"], "2", "3")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1:] == ['~ timezone: "Europe/Berlin" -> "UTC"']
    assert "clear-text-token" not in run_cli(*command, config["config"], "1", "2").stdout


def test_delete_is_a_version(run_cli: Any, db: Conn, config: dict[str, Any]) -> None:
    db.execute("DELETE FROM integration_configs WHERE id = %s", (config["config"],))
    result = run_cli("history", config["config"])
    assert result.stdout.splitlines()[-1].split()[1:2] == ["delete"]
    diff = json.loads(run_cli("diff", config["config"], "3", "4", "--json").stdout)
    assert {c["kind"] for c in diff["changes"]} == {"removed"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("history", "not-a-uuid"), "is not a UUID"),
        (("history", "00000000-0000-0000-0000-000000000000"), "has no history in this organization"),
        (("diff", "{config}", "1", "9"), "has no version 9 (versions: 1, 2, 3)"),
        (("history", "diff", "{config}", "1"), "usage: history diff ROW_ID V1 V2"),
        (("history", "diff", "{config}", "1", "x"), "versions must be integers"),
    ],
)
def test_bad_input_exits_2_with_a_clear_error(
    run_cli: Any, config: dict[str, Any], args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*(a.format(**config) for a in args))
    assert result.returncode == 2
    assert message in result.stderr


def test_another_organizations_history_is_not_found(run_cli: Any, db: Conn, config: dict[str, Any]) -> None:
    other = _org(db, "globex")
    assert run_cli("history", config["config"], "--organization", "acme").returncode == 0
    result = run_cli("history", config["config"], "--organization", "globex")
    assert result.returncode == 2 and "has no history in this organization" in result.stderr
    ambiguous = run_cli("history", config["config"])
    assert ambiguous.returncode == 2 and "pass --organization" in ambiguous.stderr
    assert other["organizations"]


def test_diff_states_has_no_recursion_limit() -> None:
    deep_a: Any = 1
    deep_b: Any = 2
    for _ in range(100_000):
        deep_a, deep_b = {"x": deep_a}, {"x": deep_b}
    changes = diff_states({"c": deep_a}, {"c": deep_b})
    assert len(changes) == 1 and changes[0].kind == "changed" and changes[0].path.count(".x") == 100_000


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"a": [1, 2]}, {"a": [1]}, [FieldChange("a[1]", "removed", old=2)]),
        ({"a": {"b c": 1}}, {"a": {"b c": "1"}}, [FieldChange("a['b c']", "changed", old=1, new="1")]),
        ({"a": {"k": 1}}, {"a": [1]}, [FieldChange("a", "changed", old={"k": 1}, new=[1])]),
        ({"a": 1, "version": 1}, {"a": 1, "version": 2}, []),
        ({"a": True}, {"a": 1}, [FieldChange("a", "changed", old=True, new=1)]),
    ],
)
def test_diff_states_matrix(old: Any, new: Any, expected: list[FieldChange]) -> None:
    assert diff_states(old, new) == expected


def test_each_run_records_the_configuration_versions_it_used(db: Conn, database_url: str) -> None:
    import dagster as dg

    from integration_orchestrator.assembly import build_definitions

    org = add_organization(db)
    config = add_config(db, org, "People", [{"p": {"id": 1, "name": "a"}}])
    mapping = add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    pipeline = add_pipeline(db, org, config, "people", [jmespath_step("tag", 1, "enrich", "{tier: 'x'}")])
    create_target_table(db)

    def run() -> dict[str, Any]:
        with dg.instance_for_test() as instance:
            result = build_definitions(database_url).get_job_def("people").execute_in_process(instance=instance)
        assert result.success
        row = db.execute("SELECT config_versions FROM integration_executions WHERE dagster_run_id = %s",
                         (result.run_id,)).fetchone()
        assert row is not None
        return row["config_versions"]

    assert run() == {"config": 1, "pipeline": 1, "mappings": {mapping: 1}, "transformations": {}}
    db.execute("UPDATE integration_mappings SET mapping_notes = 'v2' WHERE id = %s", (mapping,))
    db.execute("UPDATE integration_pipeline_definitions SET description = 'v2' WHERE id = %s", (pipeline,))
    assert run() == {"config": 1, "pipeline": 2, "mappings": {mapping: 2}, "transformations": {}}
