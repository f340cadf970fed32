"""create_integration_from_template: the happy path copies every column, customizations
merge and override, every error is clear (names the template and mapping) and writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator_tests.rows import Conn, Ids, insert_row, one_row

_one = one_row


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


def test_instantiating_a_template_copies_everything(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, _ = organizations
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


def test_instantiating_without_customizations_uses_the_template_as_is(
    sdb: Conn, organizations: tuple[Ids, Ids]
) -> None:
    a, _ = organizations
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


def _mappings_with(*items: object) -> dict[str, Any]:
    return {"mapping_templates": {"mappings": list(items)}}


_OK = {"name": "ok", "source_path": "$.a", "target_path": "b"}

TEMPLATE_ERRORS: list[tuple[str, dict[str, Any], Any, dict[str, Any], str, str]] = [
    # case, template changes, customizations, call changes, SQLSTATE, message fragment
    ("customizations not an object", {}, [1], {}, "22023", "customizations: must be a JSON object, got array"),
    (
        "connection not an object",
        {},
        {"connection": "x"},
        {},
        "22023",
        "customizations.connection: must be a JSON object",
    ),
    ("mappings not an object", {}, {"mappings": []}, {}, "22023", "customizations.mappings: must be a JSON object"),
    (
        "override not an object",
        {},
        {"mappings": {"email": 5}},
        {},
        "22023",
        "customizations.mappings.email: must be an object (partial mapping) or false",
    ),
    (
        "override of unknown mapping",
        {},
        {"mappings": {"nope": False, "zzz": {}}},
        {},
        "22023",
        "customizations.mappings: no mapping named `nope`, `zzz` in the template",
    ),
    (
        "unknown customization key",
        {},
        {"mapping": {}, "conection": {}},
        {},
        "22023",
        "customizations: unknown key(s) conection, mapping (allowed: connection, mappings, description, timezone)",
    ),
    (
        "override of a column that is not overridable",
        {},
        {"mappings": {"email": {"name": "x", "id": 1}}},
        {},
        "22023",
        "customizations.mappings.email: id, name cannot be overridden (allowed: source_path",
    ),
    ("timezone not a string", {}, {"timezone": 1}, {}, "22023", "customizations.timezone: must be a string"),
    ("unknown timezone", {}, {"timezone": "Mars/Olympus"}, {}, "23514", "valid_config_timezone"),
    (
        "mapping without name",
        _mappings_with(_OK, {"source_path": "$.a", "target_path": "b"}),
        None,
        {},
        "22023",
        'mapping #2: "name" is missing',
    ),
    ("mapping not an object", _mappings_with(_OK, "x"), None, {}, "22023", "mapping #2: must be a JSON object"),
    ("duplicate names", _mappings_with(_OK, _OK), None, {}, "22023", "mapping `ok`: the name is used by more than one"),
    (
        "mapping without source path",
        _mappings_with({"name": "x", "target_path": "b"}),
        None,
        {},
        "22023",
        'mapping `x`: "source_path" is missing',
    ),
    (
        "override blanks target path",
        _mappings_with(_OK),
        {"mappings": {"ok": {"target_path": None}}},
        {},
        "22023",
        'mapping `ok`: "target_path" is missing',
    ),
    (
        "bad enum value",
        _mappings_with({**_OK, "mapping_type": "blob"}),
        None,
        {},
        "22P02",
        'mapping `ok`: invalid input value for enum mapping_type: "blob"',
    ),
    ("bad boolean", _mappings_with({**_OK, "is_required": "maybe"}), None, {}, "22P02", "mapping `ok`: invalid input"),
    (
        "rules without type",
        _mappings_with({**_OK, "transformation": {"to": "int"}}),
        None,
        {},
        "23514",
        "mapping `ok`: In mapping `ok`",
    ),
    (
        "override rules without type",
        _mappings_with(_OK),
        {"mappings": {"ok": {"transformation_rules": {"x": 1}}}},
        {},
        "23514",
        'transformation rules must include "type"',
    ),
    ("tests not a list", {"test_suite": {"tests": {}}}, None, {}, "22023", "test_suite.tests: must be a JSON array"),
    (
        "test of unknown mapping",
        {"test_suite": {"tests": [{"mapping": "nope", "name": "t", "input_data": {}, "expected_output": {}}]}},
        None,
        {},
        "22023",
        "test `t`: no mapping named `nope`",
    ),
    (
        "test without name",
        {"test_suite": {"tests": [{"mapping": "email", "input_data": {}, "expected_output": {}}]}},
        None,
        {},
        "22023",
        'test #1: "name" is missing',
    ),
    (
        "test input not an object",
        {"test_suite": {"tests": [{"mapping": "email", "name": "t", "input_data": [1], "expected_output": {}}]}},
        None,
        {},
        "23514",
        "test `t` of mapping `email`",
    ),
    ("inactive template", {"is_active": False}, None, {}, "55000", "the template is inactive"),
    ("empty instance name", {}, None, {"name": " "}, "22023", "the instance name must not be empty"),
    (
        "unknown template",
        {},
        None,
        {"template_id": uuid.UUID(int=7)},
        "P0002",
        "Template 00000000-0000-0000-0000-000000000007 not found",
    ),
    (
        "template of another organization",
        {"__org__": "b"},
        None,
        {},
        "42501",
        "the template belongs to another organization",
    ),
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
    sdb: Conn, organizations: tuple[Ids, Ids], case: str, template_changes: dict[str, Any], customizations: Any,
    call: dict[str, Any], sqlstate: str, fragment: str,
) -> None:
    a, b = organizations
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
