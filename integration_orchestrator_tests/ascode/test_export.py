"""``export ID`` → ``apply`` on a fresh database reproduces the integration (row by row,
references by name), a second ``apply`` plans no change, and the exported file validates
against the shipped JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from integration_orchestrator.ascode.columns import TABLES
from integration_orchestrator.ascode.document import schema
from integration_orchestrator.db import connect
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_mapping_test,
    add_organization,
    add_pipeline,
    add_schedule,
    add_transformation,
)


def _integration(db: Any) -> str:
    org = add_organization(db, "Acme", slug="acme")
    upper = add_transformation(db, org, "upper_name", {"expression": "merge(@, {name: upper(name)})"},
                               description="upper-cases the name", performance_tier="lightweight")
    wrap = add_transformation(db, org, "wrap", {"expression": "{value: value}"}, transformation_type="map")
    add_transformation(db, org, "unused", {"expression": "@"})
    config = add_config(db, org, "Orders → ERP", [{"id": "1", "name": "ada", "total": "19.99"}],
                        description="orders", timezone="Europe/Berlin")
    mapping = add_mapping(db, org, config, "id", "$.id", "person.id",
                          transformation_rules={"type": "cast", "to": "integer"}, is_required=True)
    add_mapping_test(db, org, mapping, "casts id", {"id": "7"}, {"person": {"id": 7}}, test_type="edge_case")
    add_mapping_test(db, org, mapping, "fails on text", {"id": "x"}, {"error": "integer"})
    add_mapping(db, org, config, "total", "$.total", "total", target_data_type="number", error_handling="skip",
                transformation_rules={"type": "chain", "steps": [
                    {"type": "transformation", "transformation_id": wrap}, {"type": "direct"}]})
    add_pipeline(db, org, config, "orders", [{"name": "shout", "order": 1, "transformation_id": upper},
                                             {"name": "keep", "order": 2, "when": "name != null",
                                              "transformation": {"transformation_type": "filter",
                                                                 "language": "jmespath",
                                                                 "transformation_logic": {"expression": "`true`"}}}],
                 strategy="dead_letter", performance={"batch_size": 500}, monitoring_config={"mask_fields": ["name"]})
    add_schedule(db, org, config, schedule_name="Twice", schedule_type="fixed_time", fixed_times=["08:00", "17:30"],
                 start_date="2026-01-01", retry_policy={"max_retries": 2}, execution_parameters={"event_types": ["a"]})
    add_schedule(db, org, config, schedule_name="On demand", schedule_type="manual", is_active=False)
    return config


def _rows(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every managed column of every row, transformation ids replaced by names, sorted."""
    with connect(url) as conn:
        names = {str(r["id"]): r["transformation_name"]
                 for r in conn.execute("SELECT id, transformation_name FROM integration_transformations")}
        out = {}
        for table in TABLES.values():
            columns = ", ".join(f"{c}::text" if c in ("fixed_times", "start_date") else c for c in table.columns)
            rows = [dict(r) for r in conn.execute(f"SELECT {columns} FROM {table.table}")]
            text = json.dumps(rows, sort_keys=True, default=str)
            for id_, name in names.items():
                text = text.replace(id_, f"name:{name}")
            out[table.table] = sorted(json.loads(text), key=lambda r: json.dumps(r, sort_keys=True))
    return out


def test_export_then_apply_on_a_fresh_database_reproduces_the_integration(
    db: Any, database_url: str, shared_database_url: str, run_cli: Any, tmp_path: Path
) -> None:
    config = _integration(db)
    printed = run_cli("export", config)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("# yaml-language-server: $schema=file://")
    document = yaml.safe_load(printed.stdout)
    jsonschema.Draft202012Validator(schema()).validate(document)
    assert [t["transformation_name"] for t in document["transformations"]] == ["upper_name", "wrap"]
    steps = document["integrations"][0]["pipelines"][0]["pipeline_steps"]["steps"]
    assert steps[0] == {"name": "shout", "order": 1, "transformation_name": "upper_name"}
    assert "organization_id" not in printed.stdout and config not in printed.stdout

    written = run_cli("export", config, "-o", "orders.json")
    assert written.returncode == 0 and written.stdout == "wrote orders.json\n", written.stderr
    as_json = json.loads((tmp_path / "orders.json").read_text())
    assert as_json.pop("$schema").startswith("file://") and as_json == document
    jsonschema.Draft202012Validator(schema()).validate(json.loads((tmp_path / "orders.json").read_text()))

    with connect(shared_database_url, autocommit=True) as fresh:
        add_organization(fresh, "Acme Corp", slug="acme")
    elsewhere = {"INTEGRATION_ORCHESTRATOR_DATABASE_URL": shared_database_url}
    applied = run_cli("apply", "-f", "orders.json", env=elsewhere)
    assert applied.returncode == 0, applied.stderr
    assert "Plan: 10 to create, 0 to update, 0 unchanged." in applied.stdout
    assert _rows(shared_database_url) == {
        table: [r for r in rows if r.get("transformation_name") != "unused"]
        for table, rows in _rows(database_url).items()
    }

    again = run_cli("apply", "-f", "orders.json", env=elsewhere)
    assert again.returncode == 0 and "Plan: 0 to create, 0 to update, 10 unchanged." in again.stdout, again.stdout
    back_home = run_cli("apply", "-f", "orders.json")
    assert back_home.returncode == 0 and "0 to create, 0 to update" in back_home.stdout, back_home.stdout


def test_the_schema_is_valid_and_lists_exactly_the_managed_columns() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())
    definitions = schema()["$defs"]
    children = {"integrations": {"mappings", "pipelines", "schedules"}, "mappings": {"tests"}}
    named = {"transformations": "transformation", "integrations": "integration", "mappings": "mapping",
             "tests": "mapping_test", "pipelines": "pipeline", "schedules": "schedule"}
    for key, table in TABLES.items():
        properties = set(definitions[named[key]]["properties"])
        assert properties == set(table.columns) | children.get(key, set()), key
        assert set(definitions[named[key]]["required"]) == set(table.required), key


def test_the_defaults_are_the_databases(db: Any) -> None:
    for table in TABLES.values():
        for column, default in table.columns.items():
            row = db.execute(
                "SELECT column_default, is_nullable FROM information_schema.columns "
                "WHERE table_name = %s AND column_name = %s", (table.table, column)).fetchone()
            assert row is not None, (table.table, column)
            sql_default = row["column_default"]
            if default is None:
                assert (sql_default is None and row["is_nullable"] == "YES") or column in table.required, (
                    table.table, column, sql_default)
                continue
            shown = json.dumps(default) if isinstance(default, (dict, bool)) else str(default)
            assert sql_default is not None and sql_default.split("::")[0].strip("'") == shown.strip('"'), (
                table.table, column, sql_default, default)
