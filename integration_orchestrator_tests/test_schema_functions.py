"""The schema's functions and triggers: validate_field_mapping, version + history,
jsonb_deep_merge, create_integration_from_template (happy path and every error)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from integration_orchestrator.db.schema import USER_SETTING, VERSIONED_TABLES
from integration_orchestrator_tests.schema_rows import (
    insert_row,
    populate_organization,
    sdb,
    shared_database_url,
    valid_row,
)

__all__ = ["sdb", "shared_database_url"]  # shared-database fixtures, imported from schema_rows

Conn = psycopg.Connection[dict[str, Any]]
Ids = dict[str, Any]


@pytest.fixture(scope="module")
def orgs(sdb: Conn) -> tuple[Ids, Ids]:
    return populate_organization(sdb, "a"), populate_organization(sdb, "b")


def _one(conn: Conn, query: str, *params: Any) -> dict[str, Any]:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row


# ---------------------------------------------------------------------------------------
# validate_field_mapping
# ---------------------------------------------------------------------------------------


@pytest.fixture
def warnings(sdb: Conn) -> Any:
    seen: list[str] = []

    def handler(diag: psycopg.errors.Diagnostic) -> None:
        if diag.severity_nonlocalized == "WARNING":
            seen.append(diag.message_primary or "")

    sdb.add_notice_handler(handler)
    yield seen
    sdb.remove_notice_handler(handler)


MISMATCH_CASES = [
    # source type, target type, rules, warns
    ("string", "integer", None, True),
    ("string", "integer", Jsonb({"type": "cast", "to": "integer"}), False),
    ("String", "string ", None, False),
    ("string", None, None, False),
    (None, "integer", None, False),
]


@pytest.mark.parametrize(("source", "target", "rules", "warns"), MISMATCH_CASES)
def test_type_mismatch_without_rules_warns_naming_the_mapping(
    sdb: Conn, orgs: tuple[Ids, Ids], warnings: list[str], source: Any, target: Any, rules: Any, warns: bool
) -> None:
    a, _ = orgs
    row = {**valid_row("integration_mappings", a), "source_data_type": source, "target_data_type": target,
           "transformation_rules": rules}
    new_id = insert_row(sdb, "integration_mappings", row)
    if warns:
        assert len(warnings) == 1
        assert f"mapping `{row['mapping_name']}` (id {new_id})" in warnings[0]
        assert "string -> integer" in warnings[0]
    else:
        assert warnings == []


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"to": "integer"}, 'transformation rules must include "type"'),
        ({"type": ""}, "must be a non-empty string"),
        ({"type": ["cast"]}, "must be a non-empty string"),
    ],
)
def test_rules_without_a_type_are_rejected_on_insert_and_update(
    sdb: Conn, orgs: tuple[Ids, Ids], rules: dict[str, Any], message: str
) -> None:
    a, _ = orgs
    row = {**valid_row("integration_mappings", a), "transformation_rules": Jsonb(rules)}
    with pytest.raises(errors.CheckViolation) as caught:
        insert_row(sdb, "integration_mappings", row)
    assert caught.value.diag.constraint_name == "transformation_rules_type"
    assert f"In mapping `{row['mapping_name']}`" in str(caught.value)
    assert message in str(caught.value)
    assert _one(sdb, "SELECT count(*) AS n FROM integration_mappings WHERE mapping_name = %s", row["mapping_name"])["n"] == 0

    before = _one(sdb, "SELECT transformation_rules, version FROM integration_mappings WHERE id = %s",
                  a["integration_mappings"])
    with pytest.raises(errors.CheckViolation, match="field `transformation_rules"):
        sdb.execute("UPDATE integration_mappings SET transformation_rules = %s WHERE id = %s",
                    (Jsonb(rules), a["integration_mappings"]))
    after = _one(sdb, "SELECT transformation_rules, version FROM integration_mappings WHERE id = %s",
                 a["integration_mappings"])
    assert after == before


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
    sdb: Conn, orgs: tuple[Ids, Ids], table: str, assignment: str, bumps: bool
) -> None:
    a, _ = orgs
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


def test_history_records_who_changed_what_and_deletes(sdb: Conn, orgs: tuple[Ids, Ids]) -> None:
    a, _ = orgs
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


def test_history_rows_must_be_consistent(sdb: Conn, orgs: tuple[Ids, Ids]) -> None:
    a, _ = orgs
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


# ---------------------------------------------------------------------------------------
# jsonb_deep_merge
# ---------------------------------------------------------------------------------------

MERGE_CASES = [
    ({"a": 1}, None, {"a": 1}),
    (None, {"a": 1}, {"a": 1}),
    ({"a": 1}, {"b": 2}, {"a": 1, "b": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}, {"a": {"x": 1, "y": 3, "z": 4}}),
    ({"a": {"x": {"deep": 1}}}, {"a": {"x": {"deeper": 2}}}, {"a": {"x": {"deep": 1, "deeper": 2}}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": {"x": 1}}, {"a": "scalar"}, {"a": "scalar"}),
    ({"a": 1}, {"a": None}, {"a": None}),
    ({"a": 1}, [1], [1]),
]


@pytest.mark.parametrize(("left", "right", "expected"), MERGE_CASES)
def test_jsonb_deep_merge(sdb: Conn, left: Any, right: Any, expected: Any) -> None:
    to_json = lambda v: None if v is None else Jsonb(v)  # noqa: E731
    row = _one(sdb, "SELECT jsonb_deep_merge(%s::jsonb, %s::jsonb) AS m", to_json(left), to_json(right))
    assert row["m"] == expected


# ---------------------------------------------------------------------------------------
# create_integration_from_template
# ---------------------------------------------------------------------------------------

FULL_MAPPING = {
    "name": "employee_id",
    "source_path": "$.id",
    "target_path": "person.id",
    "mapping_type": "field",
    "source_data_type": "string",
    "target_data_type": "integer",
    "is_required": True,
    "default_value": "0",
    "transformation": {"type": "cast", "to": "integer"},
    "validation_rules": {"pre": {"type": "object"}},
    "mapping_direction": "bidirectional",
    "error_handling": "default",
    "mapping_notes": "HR id",
}


def _template(**changes: Any) -> dict[str, Any]:
    return {
        "template_name": f"hr-{uuid.uuid4().hex[:8]}",
        "integration_type": "workday",
        "description": "Workday employees",
        "version": "2.1",
        "connection_template": {
            "source": {"type": "http", "url": "https://hr.example.com", "auth": {"type": "basic", "user": "tpl"}},
            "target": {"type": "postgres_table", "table": "people"},
        },
        "mapping_templates": {
            "mappings": [
                FULL_MAPPING,
                {"name": "email", "source_path": "$.mail", "target_path": "person.email",
                 "transformation_rules": {"type": "direct"}},
                {"name": "phone", "source_path": "$.tel", "target_path": "person.phone"},
                {"name": "fax", "source_path": "$.fax", "target_path": "person.fax"},
            ]
        },
        "test_suite": {
            "tests": [
                {"mapping": "employee_id", "name": "casts id", "test_type": "unit",
                 "input_data": {"id": "42"}, "expected_output": {"person": {"id": 42}}},
                {"mapping": "email", "name": "copies email", "test_type": "edge_case",
                 "input_data": {"mail": "a@b.c"}, "expected_output": {"person": {"email": "a@b.c"}}},
                {"mapping": "phone", "name": "phone", "input_data": {"tel": "1"},
                 "expected_output": {"person": {"phone": "1"}}},
            ]
        },
        **changes,
    }


def _insert_template(conn: Conn, organization_id: Any, template: dict[str, Any]) -> Any:
    row = {k: Jsonb(v) if isinstance(v, (dict, list)) else v for k, v in template.items()}
    return insert_row(conn, "integration_templates", {**row, "organization_id": organization_id})


def _instantiate(conn: Conn, template_id: Any, name: str, customizations: Any, org: Any, user: Any) -> Any:
    custom = None if customizations is None else Jsonb(customizations)
    return _one(
        conn,
        "SELECT create_integration_from_template(%s, %s, %s, %s, %s) AS id",
        template_id, name, custom, org, user,
    )["id"]


def test_instantiating_a_template_copies_everything(sdb: Conn, orgs: tuple[Ids, Ids]) -> None:
    a, _ = orgs
    org, user = a["organizations"], a["users"]
    template_id = _insert_template(sdb, None, _template())
    customizations = {
        "connection": {"source": {"auth": {"user": "ann", "password": {"$secret": "hr_password"}}}},
        "mappings": {"email": {"target_path": "person.mail", "error_handling": "skip"}, "phone": False,
                     "fax": {"disabled": True}},
        "description": "Our HR feed",
        "timezone": "Europe/Berlin",
    }
    config_id = _instantiate(sdb, template_id, "HR feed", customizations, org, user)

    config = _one(sdb, "SELECT * FROM integration_configs WHERE id = %s", config_id)
    assert {k: config[k] for k in ("integration_name", "integration_type", "description", "timezone",
                                    "organization_id", "created_by", "version")} == {
        "integration_name": "HR feed", "integration_type": "workday", "description": "Our HR feed",
        "timezone": "Europe/Berlin", "organization_id": org, "created_by": user, "version": 1,
    }
    assert config["connection_config"] == {
        "source": {"type": "http", "url": "https://hr.example.com",
                   "auth": {"type": "basic", "user": "ann", "password": {"$secret": "hr_password"}}},
        "target": {"type": "postgres_table", "table": "people"},
    }
    instance = _one(sdb, "SELECT * FROM integration_template_instances WHERE config_id = %s", config_id)
    assert (instance["template_id"], instance["instance_name"], instance["customizations"],
            instance["deployment_status"], instance["deployed_by"], instance["organization_id"]) == (
        template_id, "HR feed", customizations, "draft", user, org)

    mappings = {
        m["mapping_name"]: m
        for m in sdb.execute("SELECT * FROM integration_mappings WHERE config_id = %s", (config_id,)).fetchall()
    }
    assert sorted(mappings) == ["email", "employee_id"]
    full = mappings["employee_id"]
    assert {
        "name": full["mapping_name"], "source_path": full["source_path"], "target_path": full["target_path"],
        "mapping_type": full["mapping_type"], "source_data_type": full["source_data_type"],
        "target_data_type": full["target_data_type"], "is_required": full["is_required"],
        "default_value": full["default_value"], "transformation": full["transformation_rules"],
        "validation_rules": full["validation_rules"], "mapping_direction": full["mapping_direction"],
        "error_handling": full["error_handling"], "mapping_notes": full["mapping_notes"],
    } == FULL_MAPPING
    assert (full["organization_id"], full["created_by"], full["is_active"]) == (org, user, True)
    email = mappings["email"]
    assert (email["target_path"], email["error_handling"], email["transformation_rules"], email["mapping_type"],
            email["mapping_direction"], email["is_required"]) == (
        "person.mail", "skip", {"type": "direct"}, "field", "inbound", False)

    tests = sdb.execute(
        "SELECT m.mapping_name, t.test_name, t.test_type, t.input_data, t.expected_output, t.test_status, "
        "t.organization_id FROM integration_mapping_tests t JOIN integration_mappings m ON m.id = t.mapping_id "
        "WHERE m.config_id = %s ORDER BY t.test_name",
        (config_id,),
    ).fetchall()
    assert tests == [
        {"mapping_name": "employee_id", "test_name": "casts id", "test_type": "unit", "input_data": {"id": "42"},
         "expected_output": {"person": {"id": 42}}, "test_status": "pending", "organization_id": org},
        {"mapping_name": "email", "test_name": "copies email", "test_type": "edge_case",
         "input_data": {"mail": "a@b.c"}, "expected_output": {"person": {"email": "a@b.c"}},
         "test_status": "pending", "organization_id": org},
    ]


def test_instantiating_without_customizations_uses_the_template_as_is(sdb: Conn, orgs: tuple[Ids, Ids]) -> None:
    a, _ = orgs
    template = _template()
    template_id = _insert_template(sdb, a["organizations"], template)
    config_id = _instantiate(sdb, template_id, "plain", None, a["organizations"], None)
    config = _one(sdb, "SELECT connection_config, timezone, description FROM integration_configs WHERE id = %s",
                  config_id)
    assert config == {"connection_config": template["connection_template"], "timezone": "UTC",
                      "description": "Workday employees"}
    names = sdb.execute("SELECT mapping_name FROM integration_mappings WHERE config_id = %s ORDER BY 1",
                        (config_id,)).fetchall()
    assert [n["mapping_name"] for n in names] == ["email", "employee_id", "fax", "phone"]
    instance = _one(sdb, "SELECT customizations FROM integration_template_instances WHERE config_id = %s", config_id)
    assert instance["customizations"] == {}


def _mappings_with(*items: dict[str, Any]) -> dict[str, Any]:
    return {"mapping_templates": {"mappings": list(items)}}


_OK = {"name": "ok", "source_path": "$.a", "target_path": "b"}

TEMPLATE_ERRORS: list[tuple[str, dict[str, Any], Any, dict[str, Any], str, str]] = [
    # case, template changes, customizations, call changes, SQLSTATE, message fragment
    ("customizations not an object", {}, [1], {}, "22023", "customizations: must be a JSON object, got array"),
    ("connection not an object", {}, {"connection": "x"}, {}, "22023", "customizations.connection: must be a JSON object"),
    ("mappings not an object", {}, {"mappings": []}, {}, "22023", "customizations.mappings: must be a JSON object"),
    ("override not an object", {}, {"mappings": {"email": 5}}, {}, "22023",
     "customizations.mappings.email: must be an object (partial mapping) or false"),
    ("override of unknown mapping", {}, {"mappings": {"nope": False, "zzz": {}}}, {}, "22023",
     "customizations.mappings: no mapping named `nope`, `zzz` in the template"),
    ("timezone not a string", {}, {"timezone": 1}, {}, "22023", "customizations.timezone: must be a string"),
    ("unknown timezone", {}, {"timezone": "Mars/Olympus"}, {}, "23514", "valid_config_timezone"),
    ("mapping without name", _mappings_with(_OK, {"source_path": "$.a", "target_path": "b"}), None, {}, "22023",
     'mapping #2: "name" is missing'),
    ("mapping not an object", _mappings_with(_OK, "x"), None, {}, "22023", "mapping #2: must be a JSON object"),
    ("duplicate names", _mappings_with(_OK, _OK), None, {}, "22023", "mapping `ok`: the name is used by more than one"),
    ("mapping without source path", _mappings_with({"name": "x", "target_path": "b"}), None, {}, "22023",
     'mapping `x`: "source_path" is missing'),
    ("override blanks target path", _mappings_with(_OK), {"mappings": {"ok": {"target_path": None}}}, {}, "22023",
     'mapping `ok`: "target_path" is missing'),
    ("bad enum value", _mappings_with({**_OK, "mapping_type": "blob"}), None, {}, "22P02",
     'mapping `ok`: invalid input value for enum mapping_type: "blob"'),
    ("bad boolean", _mappings_with({**_OK, "is_required": "maybe"}), None, {}, "22P02", "mapping `ok`: invalid input"),
    ("rules without type", _mappings_with({**_OK, "transformation": {"to": "int"}}), None, {}, "23514",
     'mapping `ok`: In mapping `ok`'),
    ("override rules without type", _mappings_with(_OK), {"mappings": {"ok": {"transformation_rules": {"x": 1}}}},
     {}, "23514", 'transformation rules must include "type"'),
    ("tests not a list", {"test_suite": {"tests": {}}}, None, {}, "22023", "test_suite.tests: must be a JSON array"),
    ("test of unknown mapping", {"test_suite": {"tests": [{"mapping": "nope", "name": "t", "input_data": {},
                                                          "expected_output": {}}]}},
     None, {}, "22023", "test `t`: no mapping named `nope`"),
    ("test without name", {"test_suite": {"tests": [{"mapping": "email", "input_data": {}, "expected_output": {}}]}},
     None, {}, "22023", 'test #1: "name" is missing'),
    ("test input not an object", {"test_suite": {"tests": [{"mapping": "email", "name": "t", "input_data": [1],
                                                            "expected_output": {}}]}},
     None, {}, "23514", "test `t` of mapping `email`"),
    ("inactive template", {"is_active": False}, None, {}, "55000", "the template is inactive"),
    ("empty instance name", {}, None, {"name": " "}, "22023", "the instance name must not be empty"),
    ("unknown template", {}, None, {"template_id": uuid.UUID(int=7)}, "P0002",
     "Template 00000000-0000-0000-0000-000000000007 not found"),
    ("template of another organization", {"__org__": "b"}, None, {}, "42501",
     "the template belongs to another organization"),
    ("no organization", {}, None, {"org": None}, "22004", "p_organization_id must not be NULL"),
]

_TEMPLATE_TABLES = ("integration_configs", "integration_template_instances", "integration_mappings",
                    "integration_mapping_tests")


@pytest.mark.parametrize(
    ("case", "template_changes", "customizations", "call", "sqlstate", "fragment"),
    TEMPLATE_ERRORS,
    ids=[c[0] for c in TEMPLATE_ERRORS],
)
def test_template_errors_are_clear_and_write_nothing(
    sdb: Conn, orgs: tuple[Ids, Ids], case: str, template_changes: dict[str, Any], customizations: Any,
    call: dict[str, Any], sqlstate: str, fragment: str,
) -> None:
    a, b = orgs
    changes = dict(template_changes)
    owner = b["organizations"] if changes.pop("__org__", None) == "b" else None
    template = _template(**changes)
    template_id = _insert_template(sdb, owner, template)
    counts = {t: _one(sdb, f"SELECT count(*) AS n FROM {t}")["n"] for t in _TEMPLATE_TABLES}
    with pytest.raises(psycopg.Error) as caught:
        _instantiate(sdb, call.get("template_id", template_id), call.get("name", "inst"), customizations,
                     call.get("org", a["organizations"]), a["users"])
    message = str(caught.value)
    assert caught.value.sqlstate == sqlstate, message
    assert fragment in message or fragment == caught.value.diag.constraint_name, message
    if "template_id" not in call:
        assert f"template `{template['template_name']}` version 2.1 (id {template_id})" in message
    assert {t: _one(sdb, f"SELECT count(*) AS n FROM {t}")["n"] for t in _TEMPLATE_TABLES} == counts
