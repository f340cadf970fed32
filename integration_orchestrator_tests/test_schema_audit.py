"""Audit triggers: updated_at on every table, version + configuration history on the
versioned tables, organization deletion."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg import errors, sql

from integration_orchestrator.db.schema import USER_SETTING, VERSIONED_TABLES
from integration_orchestrator_tests.rows import Conn, Ids, insert_row, one_row, populate_organization, valid_row

_one = one_row


# ---------------------------------------------------------------------------------------
# Audit triggers
# ---------------------------------------------------------------------------------------


def test_every_table_with_updated_at_has_the_trigger(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid "
        "AND t.tgname = 'set_updated_at') AS has "
        "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'updated_at' "
        "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace"
    ).fetchall()
    assert rows and [r["relname"] for r in rows if not r["has"]] == []


UPDATES: list[tuple[str, str]] = [
    ("organizations", "name = 'Renamed'"),
    ("users", "display_name = 'Ann'"),
    ("integration_configs", "description = 'x'"),
    ("integration_transformations", "description = 'x'"),
    ("integration_mappings", "mapping_notes = 'x'"),
    ("integration_mapping_tests", "test_status = 'passed'"),
    ("integration_pipeline_definitions", "description = 'x'"),
    ("integration_schedules", "is_active = false"),
    ("integration_executions", "status = 'succeeded'"),
    ("integration_templates", "description = 'x'"),
    ("integration_template_instances", "deployment_status = 'active'"),
    ("integration_events", "status = 'consumed'"),
    ("integration_dead_letters", "status = 'replayed'"),
    ("integration_notifications", "status = 'sent'"),
    ("integration_credentials", "key_id = 'k2'"),
]


@pytest.mark.parametrize(("table", "assignment"), UPDATES, ids=[t for t, _ in UPDATES])
def test_updated_at_is_maintained(sdb: Conn, organizations: tuple[Ids, Ids], table: str, assignment: str) -> None:
    a, _ = organizations
    ident = sql.Identifier(table)
    old = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    # an explicit (stale) value is overwritten too
    sdb.execute(sql.SQL("UPDATE {} SET updated_at = %s WHERE id = %s").format(ident), (old, a[table]))
    sdb.execute(sql.SQL("UPDATE {} SET " + assignment + " WHERE id = %s").format(ident), (a[table],))
    row = sdb.execute(
        sql.SQL("SELECT updated_at, now() AS now FROM {} WHERE id = %s").format(ident), (a[table],)
    ).fetchone()
    assert row["updated_at"] > old
    assert row["updated_at"] <= row["now"]


# ---------------------------------------------------------------------------------------
# version + configuration history
# ---------------------------------------------------------------------------------------


def test_versioned_tables_have_the_version_and_history_triggers(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT c.relname, array_agg(t.tgname::text ORDER BY t.tgname) AS triggers FROM pg_trigger t "
        "JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname IN ('bump_version', 'record_history') "
        "GROUP BY c.relname"
    ).fetchall()
    assert {r["relname"]: r["triggers"] for r in rows} == {
        t: ["bump_version", "record_history"] for t in VERSIONED_TABLES
    }


VERSION_CASES = [
    # table, assignment, whether it is a new version
    ("integration_configs", "description = 'new'", True),
    ("integration_configs", "is_active = is_active", False),
    ("integration_configs", "version = 99", False),
    ("integration_mappings", "target_path = 'person.key'", True),
    ("integration_mappings", "test_coverage = 75", False),
    ("integration_transformations", "timeout_seconds = 5", True),
    ("integration_pipeline_definitions", "pipeline_type = 'parallel'", True),
    ("integration_schedules", "execution_timeout_seconds = 60", True),
    ("integration_schedules", "last_run_time = now()", False),
]


@pytest.mark.parametrize(("table", "assignment", "bumps"), VERSION_CASES, ids=[f"{t}:{s}" for t, s, _ in VERSION_CASES])
def test_version_and_history_follow_configuration_changes(
    sdb: Conn, organizations: tuple[Ids, Ids], table: str, assignment: str, bumps: bool
) -> None:
    a, _ = organizations
    row_id = insert_row(sdb, table, valid_row(table, a))
    ident = sql.Identifier(table)
    sdb.execute(sql.SQL("UPDATE {} SET " + assignment + " WHERE id = %s").format(ident), (row_id,))
    version = _one(sdb, sql.SQL("SELECT version FROM {} WHERE id = %s").format(ident).as_string(sdb), row_id)
    history = sdb.execute(
        "SELECT operation::text, version, old_row ->> 'version' AS old_version FROM integration_config_history "
        "WHERE row_id = %s ORDER BY version",
        (row_id,),
    ).fetchall()
    if bumps:
        assert version["version"] == 2
        assert history == [
            {"operation": "insert", "version": 1, "old_version": None},
            {"operation": "update", "version": 2, "old_version": "1"},
        ]
    else:
        assert version["version"] == 1
        assert history == [{"operation": "insert", "version": 1, "old_version": None}]


def test_history_records_who_changed_what_and_deletes(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, _ = organizations
    row = valid_row("integration_mappings", a)
    row["created_by"] = a["users"]
    mapping_id = insert_row(sdb, "integration_mappings", row)
    editor = insert_row(sdb, "users", valid_row("users", a))
    with sdb.transaction():
        sdb.execute("SELECT set_config(%s, %s, true)", (USER_SETTING, str(editor)))
        sdb.execute("UPDATE integration_mappings SET source_path = '$.key' WHERE id = %s", (mapping_id,))
    sdb.execute("DELETE FROM integration_mappings WHERE id = %s", (mapping_id,))
    rows = sdb.execute(
        "SELECT table_name, operation::text, version, changed_by, organization_id, "
        "old_row ->> 'source_path' AS old_path, new_row ->> 'source_path' AS new_path "
        "FROM integration_config_history WHERE row_id = %s ORDER BY version",
        (mapping_id,),
    ).fetchall()
    common = {"table_name": "integration_mappings", "organization_id": a["organizations"]}
    assert rows == [
        {**common, "operation": "insert", "version": 1, "changed_by": a["users"], "old_path": None, "new_path": "$.id"},
        {**common, "operation": "update", "version": 2, "changed_by": editor, "old_path": "$.id", "new_path": "$.key"},
        {**common, "operation": "delete", "version": 3, "changed_by": None, "old_path": "$.key", "new_path": None},
    ]


def test_history_rows_must_be_consistent(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, _ = organizations
    with pytest.raises(errors.CheckViolation) as caught:
        sdb.execute(
            "INSERT INTO integration_config_history (table_name, row_id, version, operation, old_row, new_row, "
            "organization_id) VALUES ('integration_configs', gen_random_uuid(), 1, 'insert', '{}', NULL, %s)",
            (a["organizations"],),
        )
    assert caught.value.diag.constraint_name == "valid_history_rows"


def test_deleting_an_organization_removes_everything_it_owns(sdb: Conn) -> None:
    doomed = populate_organization(sdb, "gone")
    other = populate_organization(sdb, "stays")
    sdb.execute("DELETE FROM organizations WHERE id = %s", (doomed["organizations"],))
    tables = sdb.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'organization_id'"
    ).fetchall()
    for t in tables:
        ident = sql.Identifier(t["table_name"])
        left = sdb.execute(sql.SQL("SELECT count(*) AS n FROM {} WHERE organization_id = %s").format(ident),
                           (doomed["organizations"],)).fetchone()
        kept = sdb.execute(sql.SQL("SELECT count(*) AS n FROM {} WHERE organization_id = %s").format(ident),
                           (other["organizations"],)).fetchone()
        assert left["n"] == 0, t["table_name"]
        assert kept["n"] > 0, t["table_name"]
