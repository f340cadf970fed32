"""Test helpers: valid rows for every table of the schema, inserted as the owner.

``populate_organization(db, tag)`` creates an organization with one valid row in every
tenant table (the history rows come from the triggers) and returns the ids by table.
``valid_row(table, ids)`` is the column dict of one more valid row of ``table`` that
refers to the rows in ``ids``; tests override single columns to make it invalid.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from integration_orchestrator.db import connect
from integration_orchestrator.db.urls import with_database

__all__ = ["Conn", "Ids", "insert_row", "one_row", "organizations", "populate_organization", "sdb", "shared_database_url", "valid_row"]

Ids = dict[str, Any]
Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture(scope="module")
def shared_database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """One migrated database shared by a module's tests.

    For tests that only add rows (with unique names) or fail to: sharing saves a
    database clone per test. Import the fixture into the test module to use it.
    """
    name = f"io_schema_{uuid.uuid4().hex[:12]}"
    with connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_database))
        )
    try:
        yield with_database(pg_admin_url, name)
    finally:
        with connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def sdb(shared_database_url: str) -> Iterator[Conn]:
    """An owner connection (autocommit) to the module's shared database."""
    with connect(shared_database_url, autocommit=True) as conn:
        yield conn


def insert_row(conn: psycopg.Connection[Any], table: str, values: dict[str, Any]) -> Any:
    """INSERT one row; dict/list values of JSON columns must be wrapped in Jsonb by the caller."""
    columns = list(values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    row = conn.execute(query, [values[c] for c in columns]).fetchone()
    assert row is not None
    return row["id"] if isinstance(row, dict) else row[0]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def valid_row(table: str, ids: Ids) -> dict[str, Any]:
    """A valid new row of ``table`` inside the organization ``ids["organizations"]``."""
    org = ids["organizations"]
    rows: dict[str, dict[str, Any]] = {
        "organizations": {"name": "Org", "slug": _unique("org")},
        "users": {"organization_id": org, "email": f"{_unique('user')}@example.com"},
        "integration_configs": {
            "organization_id": org,
            "integration_name": _unique("Orders"),
            "integration_type": "rest",
            "connection_config": Jsonb({"source": {"type": "inline", "records": []}, "target": {"type": "file"}}),
            "timezone": "Europe/Berlin",
            "created_by": ids.get("users"),
        },
        "integration_transformations": {
            "organization_id": org,
            "transformation_name": _unique("upper"),
            "transformation_logic": Jsonb({"expression": "name"}),
            "language": "jmespath",
        },
        "integration_mappings": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "mapping_name": _unique("id"),
            "source_path": "$.id",
            "target_path": "person.id",
            "transformation_rules": Jsonb({"type": "direct"}),
        },
        "integration_mapping_tests": {
            "organization_id": org,
            "mapping_id": ids.get("integration_mappings"),
            "test_name": _unique("copies id"),
            "input_data": Jsonb({"id": 1}),
            "expected_output": Jsonb({"person": {"id": 1}}),
        },
        "integration_pipeline_definitions": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "pipeline_name": _unique("pipe"),
            "pipeline_steps": Jsonb({"steps": []}),
        },
        "integration_schedules": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "schedule_name": _unique("manual"),
            "schedule_type": "manual",
        },
        "integration_executions": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "dagster_run_id": _unique("run"),
            "status": "running",
        },
        "integration_schedule_executions": {
            "organization_id": org,
            "schedule_id": ids.get("integration_schedules"),
            "execution_id": ids.get("integration_executions"),
            "scheduled_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        },
        "integration_templates": {
            "organization_id": org,
            "template_name": _unique("tpl"),
            "integration_type": "rest",
            "version": "1.0",
            "connection_template": Jsonb({"source": {"type": "http"}}),
            "mapping_templates": Jsonb({"mappings": []}),
        },
        "integration_template_instances": {
            "organization_id": org,
            "template_id": ids.get("integration_templates"),
            "config_id": ids.get("integration_configs"),
            "instance_name": _unique("inst"),
            "customizations": Jsonb({}),
        },
        "integration_events": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "event_type": "file_arrived",
            "payload": Jsonb({"path": "/tmp/x"}),
        },
        "integration_dead_letters": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "execution_id": ids.get("integration_executions"),
            "pipeline_id": ids.get("integration_pipeline_definitions"),
            "step_name": "cast",
            "record": Jsonb({"id": "x"}),
            "error_message": "not an integer",
        },
        "integration_notifications": {
            "organization_id": org,
            "schedule_id": ids.get("integration_schedules"),
            "execution_id": ids.get("integration_executions"),
            "recipient_id": ids.get("users"),
            "channel": "email",
            "payload": Jsonb({"subject": "failed"}),
        },
        "integration_credentials": {
            "organization_id": org,
            "config_id": ids.get("integration_configs"),
            "name": _unique("api_key"),
            "ciphertext": b"gAAAA-not-really-fernet",
            "key_id": "k1",
        },
    }
    return dict(rows[table])


#: Insert order: parents before children.
_ORDER = (
    "users",
    "integration_configs",
    "integration_transformations",
    "integration_mappings",
    "integration_mapping_tests",
    "integration_pipeline_definitions",
    "integration_schedules",
    "integration_executions",
    "integration_schedule_executions",
    "integration_templates",
    "integration_template_instances",
    "integration_events",
    "integration_dead_letters",
    "integration_notifications",
    "integration_credentials",
)


def populate_organization(conn: psycopg.Connection[Any], tag: str) -> Ids:
    """A new organization with one valid row in every tenant table; ids by table."""
    ids: Ids = {"organizations": None}
    ids["organizations"] = insert_row(conn, "organizations", {"name": f"Org {tag}", "slug": _unique(tag)})
    for table in _ORDER:
        ids[table] = insert_row(conn, table, valid_row(table, ids))
    return ids


@pytest.fixture(scope="module")
def organizations(sdb: Conn) -> tuple[Ids, Ids]:
    """Two populated organizations (A, B) in the module's shared database."""
    return populate_organization(sdb, "a"), populate_organization(sdb, "b")


def one_row(conn: Conn, query: str, *params: Any) -> dict[str, Any]:
    """The single row a query must return."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row
