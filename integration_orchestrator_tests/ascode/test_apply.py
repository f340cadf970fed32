"""``integration-orchestrator apply`` through the real entry point: plan, apply, idempotence,
field diffs, all-or-nothing on bad input (the error names the file, the object, the field),
row-level security of the file's organization."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator_tests.rows import add_config, add_organization, one_row

FILE = """\
organization: acme
transformations:
  - transformation_name: upper_name
    language: jmespath
    transformation_logic: {expression: "merge(@, {name: upper(name)})"}
integrations:
  - integration_name: Orders to ERP
    integration_type: file
    connection_config:
      source: {type: inline, records: [{id: "1", name: "ada"}]}
      target: {type: file, path: /tmp/never-written.ndjson}
    mappings:
      - mapping_name: id
        source_path: $.id
        target_path: id
        transformation_rules: {type: cast, to: integer}
        tests:
          - {test_name: casts id, input_data: {id: "7"}, expected_output: {id: 7}}
      - {mapping_name: name, source_path: $.name, target_path: name}
    pipelines:
      - pipeline_name: orders
        pipeline_steps: {steps: [{name: shout, order: 1, transformation_name: upper_name}]}
    schedules:
      - {schedule_name: Nightly, schedule_type: cron, cron_expression: "0 2 * * *"}
      - {schedule_name: Twice, schedule_type: fixed_time, fixed_times: ["08:00", "17:30"], timezone: Europe/Berlin}
"""

TABLES = ("integration_configs", "integration_mappings", "integration_mapping_tests", "integration_transformations",
          "integration_pipeline_definitions", "integration_schedules")


def _counts(db: Any) -> dict[str, int]:
    return {t: one_row(db, f"SELECT count(*) AS n FROM {t}")["n"] for t in TABLES}


@pytest.fixture
def acme(db: Any) -> str:
    return add_organization(db, "Acme", slug="acme")


def _write(tmp_path: Path, text: str, name: str = "orders.yaml") -> str:
    """Write the file; its name as given on the command line (the CLI runs in ``tmp_path``)."""
    (tmp_path / name).write_text(text)
    return name


def test_plan_changes_nothing_apply_creates_and_a_second_apply_plans_no_change(
    db: Any, acme: str, run_cli: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, FILE)
    planned = run_cli("apply", "-f", path, "--plan")
    assert planned.returncode == 0, planned.stderr
    assert "+ integration `Orders to ERP` > mapping `id` ($.id → id) > mapping test `casts id`" in planned.stdout
    assert "Plan: 8 to create, 0 to update, 0 unchanged." in planned.stdout
    assert "Nothing changed (--plan)." in planned.stdout
    assert set(_counts(db).values()) == {0}

    applied = run_cli("apply", "-f", path)
    assert applied.returncode == 0, applied.stderr
    assert "Applied." in applied.stdout
    assert _counts(db) == dict.fromkeys(TABLES, 1) | {"integration_mappings": 2, "integration_schedules": 2}
    config = one_row(db, "SELECT * FROM integration_configs")
    assert str(config["organization_id"]) == acme and config["timezone"] == "UTC" and config["is_active"]
    step = one_row(db, "SELECT pipeline_steps -> 'steps' -> 0 AS s FROM integration_pipeline_definitions")["s"]
    transformation = one_row(db, "SELECT id FROM integration_transformations")["id"]
    assert step == {"name": "shout", "order": 1, "transformation_id": str(transformation)}
    twice = one_row(
        db, "SELECT fixed_times::text[] AS t, timezone FROM integration_schedules WHERE schedule_name = 'Twice'")
    assert twice == {"t": ["08:00:00", "17:30:00"], "timezone": "Europe/Berlin"}
    versions = db.execute("SELECT id, version FROM integration_mappings ORDER BY id").fetchall()

    again = run_cli("apply", "-f", path)
    assert again.returncode == 0, again.stderr
    assert "Plan: 0 to create, 0 to update, 8 unchanged." in again.stdout and "No changes." in again.stdout
    assert db.execute("SELECT id, version FROM integration_mappings ORDER BY id").fetchall() == versions


def test_an_update_shows_its_field_diffs_and_bumps_the_version(
    db: Any, acme: str, run_cli: Any, tmp_path: Path
) -> None:
    assert run_cli("apply", "-f", (_write(tmp_path, FILE))).returncode == 0
    changed = FILE.replace('cron_expression: "0 2 * * *"', 'cron_expression: "30 3 * * *"').replace(
        "{mapping_name: name, source_path: $.name, target_path: name}",
        "{mapping_name: name, source_path: $.name, target_path: name, error_handling: skip}")
    planned = run_cli("apply", "-f", (_write(tmp_path, changed)), "--plan")
    assert planned.returncode == 0, planned.stderr
    assert "~ integration `Orders to ERP` > schedule `Nightly`" in planned.stdout
    assert '      cron_expression: "0 2 * * *" → "30 3 * * *"' in planned.stdout
    assert '      error_handling: "fail" → "skip"' in planned.stdout
    assert "Plan: 0 to create, 2 to update, 6 unchanged." in planned.stdout
    assert one_row(db, "SELECT version FROM integration_schedules WHERE schedule_name = 'Nightly'")["version"] == 1

    assert run_cli("apply", "-f", (_write(tmp_path, changed))).returncode == 0
    nightly = one_row(db, "SELECT cron_expression, version FROM integration_schedules WHERE schedule_name = 'Nightly'")
    assert nightly == {"cron_expression": "30 3 * * *", "version": 2}
    # a column the file leaves out goes back to its default
    assert run_cli("apply", "-f", (_write(tmp_path, FILE))).returncode == 0
    assert one_row(db, "SELECT error_handling::text AS e FROM integration_mappings WHERE mapping_name = 'name'") == {
        "e": "fail"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace("    mappings:", "    mapings:"),
         "In file `orders.yaml`, integration `Orders to ERP`: unknown field `mapings`"),
        (lambda t: t.replace("source_path: $.name, ", ""),
         "In file `orders.yaml`, integration `Orders to ERP` > mapping `name`: missing required field `source_path`"),
        (lambda t: t.replace("order: 1, transformation_name: upper_name", "order: 1, transformation_name: lower"),
         "In file `orders.yaml`, integration `Orders to ERP` > pipeline `orders`, "
         "field `pipeline_steps.steps[0].transformation_name`: no transformation named `lower`"),
        (lambda t: t.replace('"08:00"', "08:00:30"),
         "In file `orders.yaml`, integration `Orders to ERP` > schedule `Twice`, field `fixed_times[0]`: "),
        (lambda t: t.replace('"0 2 * * *"', '"61 2 * * *"'),
         "In file `orders.yaml`, integration `Orders to ERP` > schedule `Nightly`, field `cron_expression`: "
         "the database refused it: invalid cron expression"),
        (lambda t: t.replace("{type: cast, to: integer}", "{type: cast, to: integr}"),
         "In file `orders.yaml`, integration `Orders to ERP` > mapping `id`: the rows would not load: "
         "In mapping `id`"),
        (lambda t: t.replace("mapping_name: name, source_path: $.name, target_path: name",
                             "mapping_name: name2, source_path: $.id, target_path: id"),
         "In file `orders.yaml`, integration `Orders to ERP` > mapping `name2`: a second mapping with the key "
         "source_path='$.id', target_path='id' (the first is in this file)"),
        (lambda t: t.replace("integration_type: file", "integration_type: [file]"),
         "In file `orders.yaml`, integration `Orders to ERP`, field `integration_type`: must be of type string, "
         "not array"),
        (lambda t: t.replace("organization: acme", "organization: umbrella"),
         "In file `orders.yaml`, field `organization`: no such organization"),
        (lambda t: t + "  - [\n", "In file `orders.yaml`: "),
        (lambda t: t.replace("    integration_type: file\n", "    integration_type: file\n    integration_type: x\n"),
         "In file `orders.yaml`: the key `integration_type` is given twice in one mapping at line 9, column 5"),
    ],
    ids=["unknown-field", "missing-field", "unknown-transformation", "schema-pattern", "database-check",
         "mapping-would-not-load", "duplicate-key", "wrong-type", "unknown-organization", "syntax",
         "yaml-key-twice"],
)
def test_bad_input_names_file_object_and_field_and_writes_nothing(
    db: Any, acme: str, run_cli: Any, tmp_path: Path, edit: Any, message: str
) -> None:
    first = FILE.replace("Orders to ERP", "Already fine").replace("upper_name", "upper_first")
    good = _write(tmp_path, first, "first.yaml")
    result = run_cli("apply", "-f", good, "-f", (_write(tmp_path, edit(FILE))))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert set(_counts(db).values()) == {0}  # the valid file before it was rolled back too


def test_rows_are_written_as_the_files_organization_only(db: Any, acme: str, run_cli: Any, tmp_path: Path) -> None:
    other = add_organization(db, "Umbrella", slug="umbrella")
    theirs = add_config(db, other, "Orders to ERP")
    result = run_cli("apply", "-f", (_write(tmp_path, FILE)))
    assert result.returncode == 0, result.stderr
    assert "+ integration `Orders to ERP`\n" in result.stdout  # the other organization's row is not seen
    rows = db.execute("SELECT id, organization_id FROM integration_configs ORDER BY created_at").fetchall()
    assert [str(r["organization_id"]) for r in rows] == [other, acme] and str(rows[0]["id"]) == theirs
    for table in TABLES[1:]:
        orgs = {str(r["o"]) for r in db.execute(f"SELECT DISTINCT organization_id AS o FROM {table}")}
        assert orgs == {acme}, table


def test_without_an_organization_in_the_file_the_only_one_or_the_option(
    db: Any, acme: str, run_cli: Any, tmp_path: Path
) -> None:
    path = _write(tmp_path, FILE.replace("organization: acme\n", ""))
    assert run_cli("apply", "-f", path).returncode == 0
    add_organization(db, "Umbrella", slug="umbrella")
    ambiguous = run_cli("apply", "-f", path)
    assert ambiguous.returncode == 2 and "there are several organizations; pass --organization" in ambiguous.stderr
    chosen = run_cli("apply", "-f", path, "--organization", "umbrella")
    assert chosen.returncode == 0 and "Plan: 8 to create" in chosen.stdout


def test_concurrent_applies_of_one_organization_wait_for_each_other(
    db: Any, acme: str, database_url: str, tmp_path: Path
) -> None:
    """A second apply waits on the organization's lock, then sees the first one's rows."""
    import os
    import subprocess
    import sys
    import time

    from integration_orchestrator.ascode.apply import LOCK_PREFIX
    from integration_orchestrator.db import connect

    _write(tmp_path, FILE)
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url}
    with connect(database_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + acme,))
        waiting = subprocess.Popen([sys.executable, "-m", "integration_orchestrator", "apply", "-f", "orders.yaml"],
                                   cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while not db.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory' "
                             "AND datname = current_database()").fetchone():
            assert waiting.poll() is None and time.monotonic() < deadline, waiting.communicate()
            time.sleep(0.5)
        # the holder creates the integration meanwhile, as a concurrent apply would
        holder.execute("INSERT INTO integration_configs (organization_id, integration_name, integration_type, "
                       "connection_config) VALUES (%s, 'Orders to ERP', 'file', '{}')", (acme,))
        holder.commit()
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err
    assert "~ integration `Orders to ERP`\n" in out  # an update of the row committed first, not a second one
    assert one_row(db, "SELECT count(*) AS n FROM integration_configs")["n"] == 1


def test_a_transformation_name_two_rows_share_is_refused(db: Any, acme: str, run_cli: Any, tmp_path: Path) -> None:
    from integration_orchestrator_tests.rows import add_transformation

    add_transformation(db, acme, "shared")
    add_transformation(db, acme, "shared")
    text = FILE.replace("order: 1, transformation_name: upper_name", "order: 1, transformation_name: shared")
    result = run_cli("apply", "-f", _write(tmp_path, text))
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: In file `orders.yaml`, integration `Orders to ERP` > pipeline `orders`, field "
        "`pipeline_steps.steps[0].transformation_name`: no transformation named `shared` in the file or the "
        "organization (or several: give each its own name)"), result.stderr
