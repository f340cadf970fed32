"""Builders of integration rows for the tests, inserted as the owner.

``<table>_row(...)`` is the column dict of a valid row: the columns the table needs, with
defaults, and any other column as a keyword override. ``add_<table>(conn, ...)`` inserts that
row and returns its id as text (``add_schedule`` returns the whole row). Dict values, and list
values of JSON columns, are stored as JSONB.

``valid_row(table, ids)`` is one more valid row of any table, inside the organization and
parents named by ``ids``; ``populate_organization`` creates an organization with one valid
row in every tenant table (the history rows come from the triggers). Names are unique, so
these rows can share a database.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = [
    "PEOPLE_OUT",
    "Conn",
    "Ids",
    "add_config",
    "add_event",
    "add_execution",
    "add_file_config",
    "add_mapping",
    "add_mapping_test",
    "add_organization",
    "add_pipeline",
    "add_schedule",
    "add_transformation",
    "add_user",
    "config_row",
    "create_target_table",
    "event_row",
    "execution_row",
    "insert",
    "insert_row",
    "jmespath_step",
    "loaded_transformation",
    "mapping_row",
    "mapping_test_row",
    "one_row",
    "organization_row",
    "pipeline_row",
    "populate_organization",
    "schedule_record",
    "schedule_row",
    "transformation_row",
    "unique",
    "user_row",
    "valid_row",
]

Conn = psycopg.Connection[dict[str, Any]]
Ids = dict[str, Any]

#: The default target of ``config_row``: a table made by ``create_target_table``.
PEOPLE_OUT: dict[str, Any] = {"type": "postgres_table", "table": "people_out", "mode": "append"}
_ARRAY_COLUMNS = frozenset({"fixed_times", "notification_recipients", "prerequisites", "supported_operations"})
_NON_SLUG = re.compile(r"[^a-z0-9_]+")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _adapt(column: str, value: Any) -> Any:
    if isinstance(value, dict) or (isinstance(value, list) and column not in _ARRAY_COLUMNS):
        return Jsonb(value)
    return value


def insert(conn: psycopg.Connection[Any], table: str, values: Mapping[str, Any], returning: str = "id") -> Any:
    """INSERT one row and return the ``RETURNING`` row (a dict)."""
    columns = list(values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.SQL(returning),
    )
    row = conn.execute(query, [_adapt(c, values[c]) for c in columns]).fetchone()
    assert row is not None
    return row


def insert_row(conn: psycopg.Connection[Any], table: str, values: Mapping[str, Any]) -> Any:
    """INSERT one row and return its id as the database gives it (a UUID)."""
    row = insert(conn, table, values)
    return row["id"] if isinstance(row, dict) else row[0]


def _add(conn: psycopg.Connection[Any], table: str, values: Mapping[str, Any]) -> str:
    return str(insert_row(conn, table, values))


def _given(**columns: Any) -> dict[str, Any]:
    return {name: value for name, value in columns.items() if value is not None}


def organization_row(name: str | None = None, *, slug: str | None = None, **columns: Any) -> dict[str, Any]:
    """Without a name, a unique one; the slug defaults to the name's slug."""
    name = name or unique("org")
    return {"name": name, "slug": slug or _NON_SLUG.sub("-", name.lower()).strip("-"), **columns}


def user_row(org: Any, email: str | None = None, **columns: Any) -> dict[str, Any]:
    return {"organization_id": org, "email": email or f"{unique('user')}@example.com", **columns}


def config_row(
    org: Any, name: str = "Orders", records: list[Any] | None = None, target: dict[str, Any] | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """An integration reading ``records`` inline and writing ``target`` (default ``PEOPLE_OUT``)."""
    connection = {"source": {"type": "inline", "records": records if records is not None else []},
                  "target": target or PEOPLE_OUT}
    return {"organization_id": org, "integration_name": name, "integration_type": "test",
            "connection_config": connection, **columns}


def add_file_config(conn: psycopg.Connection[Any], org: Any, name: str, path: Any, **columns: Any) -> str:
    """An integration reading the NDJSON file ``path`` and writing ``PEOPLE_OUT``."""
    row = config_row(org, name, [], **columns)
    row["connection_config"] = {**row["connection_config"],
                                "source": {"type": "file", "path": str(path), "format": "ndjson"}}
    return _add(conn, "integration_configs", row)


def transformation_row(org: Any, name: str = "upper", logic: dict[str, Any] | None = None,
                       language: str = "jmespath", **columns: Any) -> dict[str, Any]:
    return {"organization_id": org, "transformation_name": name, "language": language,
            "transformation_logic": logic if logic is not None else {"expression": "@"}, **columns}


def loaded_transformation(language: str, kind: str, logic: dict[str, Any], **columns: Any) -> dict[str, Any]:
    """A transformation row as the loader gives it, for compiling without a database."""
    return {
        "id": columns.pop("id", "00000000-0000-0000-0000-00000000000a"),
        "transformation_name": columns.pop("transformation_name", f"{language}_{kind}"),
        "language": language,
        "transformation_type": kind,
        "transformation_logic": logic,
        "timeout_seconds": columns.pop("timeout_seconds", 5),
        **columns,
    }


def mapping_row(org: Any, config: Any, name: str = "id", source: str = "$.id", target: str = "id",
                **columns: Any) -> dict[str, Any]:
    """A ``direct`` mapping from ``source`` to ``target`` unless told otherwise."""
    return {"organization_id": org, "config_id": config, "mapping_name": name, "source_path": source,
            "target_path": target, "transformation_rules": {"type": "direct"}, **columns}


def mapping_test_row(org: Any, mapping: Any, name: str = "copies id", input_data: Any = None, expected: Any = None,
                     **columns: Any) -> dict[str, Any]:
    return {"organization_id": org, "mapping_id": mapping, "test_name": name,
            "input_data": input_data if input_data is not None else {"id": 1},
            "expected_output": expected if expected is not None else {"id": 1}, **columns}


def jmespath_step(name: str, order: int, kind: str, expression: str, **extra: Any) -> dict[str, Any]:
    """One pipeline step running an inline JMESPath transformation."""
    return {
        "name": name, "order": order,
        "transformation": {"transformation_type": kind, "language": "jmespath",
                           "transformation_logic": {"expression": expression}},
        **extra,
    }


def pipeline_row(
    org: Any, config: Any, name: str = "pipe", steps: Iterable[dict[str, Any]] = (), pipeline_type: str | None = None,
    strategy: str | None = None, performance: dict[str, Any] | None = None, **columns: Any,
) -> dict[str, Any]:
    return {
        "organization_id": org,
        "config_id": config,
        "pipeline_name": name,
        "pipeline_steps": {"steps": list(steps)},
        **_given(pipeline_type=pipeline_type, error_handling_strategy=strategy, performance_config=performance),
        **columns,
    }


def schedule_row(org: Any, config: Any, **columns: Any) -> dict[str, Any]:
    """A nightly cron schedule unless told otherwise."""
    cron = {"cron_expression": "0 2 * * *"} if columns.get("schedule_type", "cron") == "cron" else {}
    return {"organization_id": org, "config_id": config, "schedule_name": "Nightly", "schedule_type": "cron",
            **cron, **columns}


def execution_row(org: Any, config: Any, status: str = "running", **columns: Any) -> dict[str, Any]:
    return {"organization_id": org, "config_id": config, "status": status, **columns}


def event_row(org: Any, config: Any, event_type: str = "order.created", payload: dict[str, Any] | None = None,
              **columns: Any) -> dict[str, Any]:
    return {"organization_id": org, "config_id": config, "event_type": event_type, "payload": payload or {}, **columns}


def add_organization(conn: psycopg.Connection[Any], name: str | None = None, *, slug: str | None = None,
                     **columns: Any) -> str:
    return _add(conn, "organizations", organization_row(name, slug=slug, **columns))


def add_user(conn: psycopg.Connection[Any], org: Any, email: str | None = None, **columns: Any) -> str:
    return _add(conn, "users", user_row(org, email, **columns))


def add_config(conn: psycopg.Connection[Any], org: Any, name: str = "Orders", records: list[Any] | None = None,
               target: dict[str, Any] | None = None, **columns: Any) -> str:
    return _add(conn, "integration_configs", config_row(org, name, records, target, **columns))


def add_transformation(
    conn: psycopg.Connection[Any],
    org: Any,
    name: str = "upper",
    logic: dict[str, Any] | None = None,
    language: str = "jmespath",
    **columns: Any,
) -> str:
    return _add(conn, "integration_transformations", transformation_row(org, name, logic, language, **columns))


def add_mapping(conn: psycopg.Connection[Any], org: Any, config: Any, name: str = "id", source: str = "$.id",
                target: str = "id", **columns: Any) -> str:
    return _add(conn, "integration_mappings", mapping_row(org, config, name, source, target, **columns))


def add_mapping_test(conn: psycopg.Connection[Any], org: Any, mapping: Any, name: str = "copies id",
                     input_data: Any = None, expected: Any = None, **columns: Any) -> str:
    return _add(
        conn, "integration_mapping_tests", mapping_test_row(org, mapping, name, input_data, expected, **columns)
    )


def add_pipeline(
    conn: psycopg.Connection[Any], org: Any, config: Any, name: str = "pipe", steps: Iterable[dict[str, Any]] = (),
    pipeline_type: str | None = None, strategy: str | None = None, performance: dict[str, Any] | None = None,
    **columns: Any,
) -> str:
    row = pipeline_row(org, config, name, steps, pipeline_type, strategy, performance, **columns)
    return _add(conn, "integration_pipeline_definitions", row)


def add_schedule(conn: psycopg.Connection[Any], org: Any, config: Any, **columns: Any) -> dict[str, Any]:
    """The inserted schedule row (with the columns its triggers compute)."""
    return dict(insert(conn, "integration_schedules", schedule_row(org, config, **columns), returning="*"))


def schedule_record(conn: psycopg.Connection[Any], org: Any, config: Any, **columns: Any) -> ScheduleRecord:
    return ScheduleRecord.from_row(add_schedule(conn, org, config, **columns))


def add_execution(conn: psycopg.Connection[Any], org: Any, config: Any, status: str = "running",
                  **columns: Any) -> str:
    return _add(conn, "integration_executions", execution_row(org, config, status, **columns))


def add_event(conn: psycopg.Connection[Any], org: Any, config: Any, event_type: str = "order.created",
              payload: dict[str, Any] | None = None, **columns: Any) -> str:
    return _add(conn, "integration_events", event_row(org, config, event_type, payload, **columns))


def create_target_table(conn: psycopg.Connection[Any], table: str = "people_out") -> None:
    """The table ``PEOPLE_OUT`` writes to."""
    conn.execute(f"CREATE TABLE {table} (id integer, name text, tier text, batch text)")


def valid_row(table: str, ids: Ids) -> dict[str, Any]:
    """A valid new row of ``table`` inside the organization ``ids["organizations"]`` (JSON values as JSONB)."""
    row = _VALID[table](ids["organizations"], ids)
    return {column: _adapt(column, value) for column, value in row.items()}


def _config(org: Any, ids: Ids) -> dict[str, Any]:
    return config_row(org, unique("Orders"), target={"type": "file"}, integration_type="rest",
                      timezone="Europe/Berlin", created_by=ids.get("users"))


def _mapping_test(org: Any, ids: Ids) -> dict[str, Any]:
    return mapping_test_row(org, ids.get("integration_mappings"), unique("copies id"), {"id": 1}, {"person": {"id": 1}})


def _template(org: Any, ids: Ids) -> dict[str, Any]:
    return {"organization_id": org, "template_name": unique("tpl"), "integration_type": "rest", "version": "1.0",
            "connection_template": {"source": {"type": "http"}}, "mapping_templates": {"mappings": []}}


def _template_instance(org: Any, ids: Ids) -> dict[str, Any]:
    return {"organization_id": org, "template_id": ids.get("integration_templates"),
            "config_id": ids.get("integration_configs"), "instance_name": unique("inst"), "customizations": {}}


def _schedule_execution(org: Any, ids: Ids) -> dict[str, Any]:
    return {"organization_id": org, "schedule_id": ids.get("integration_schedules"),
            "execution_id": ids.get("integration_executions"), "scheduled_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


def _dead_letter(org: Any, ids: Ids) -> dict[str, Any]:
    return {
        "organization_id": org,
        "config_id": ids.get("integration_configs"),
        "execution_id": ids.get("integration_executions"),
        "pipeline_id": ids.get("integration_pipeline_definitions"),
        "step_name": "cast",
        "record": {"id": "x"},
        "error_message": "not an integer",
    }


def _notification(org: Any, ids: Ids) -> dict[str, Any]:
    return {"organization_id": org, "schedule_id": ids.get("integration_schedules"),
            "execution_id": ids.get("integration_executions"), "recipient_id": ids.get("users"), "channel": "email",
            "payload": {"subject": "failed"}}


def _credential(org: Any, ids: Ids) -> dict[str, Any]:
    return {"organization_id": org, "config_id": ids.get("integration_configs"), "name": unique("api_key"),
            "ciphertext": b"gAAAA-not-really-fernet", "key_id": "k1"}


_VALID: dict[str, Any] = {
    "organizations": lambda org, ids: organization_row("Org", slug=unique("org")),
    "users": lambda org, ids: user_row(org),
    "integration_configs": _config,
    "integration_transformations": lambda org, ids: transformation_row(org, unique("upper"), {"expression": "name"}),
    "integration_mappings": lambda org, ids: mapping_row(
        org, ids.get("integration_configs"), unique("id"), "$.id", "person.id"),
    "integration_mapping_tests": _mapping_test,
    "integration_pipeline_definitions": lambda org, ids: pipeline_row(
        org, ids.get("integration_configs"), unique("pipe")),
    "integration_schedules": lambda org, ids: schedule_row(
        org, ids.get("integration_configs"), schedule_name=unique("manual"), schedule_type="manual",
    ),
    "integration_executions": lambda org, ids: execution_row(
        org, ids.get("integration_configs"), dagster_run_id=unique("run")),
    "integration_schedule_executions": _schedule_execution,
    "integration_templates": _template,
    "integration_template_instances": _template_instance,
    "integration_events": lambda org, ids: event_row(
        org, ids.get("integration_configs"), "file_arrived", {"path": "/tmp/x"}),
    "integration_dead_letters": _dead_letter,
    "integration_notifications": _notification,
    "integration_credentials": _credential,
    "integration_http_batches": lambda org, ids: {
        "organization_id": org, "origin_run_id": unique("run"), "batch_number": 1, "run_id": "r",
        "idempotency_key": "r-1", "records": 1, "config_id": ids.get("integration_configs")},
    "integration_http_loads": lambda org, ids: {
        "organization_id": org, "run_id": unique("run"), "origin_run_id": "r", "target": "http://example.test/",
        "rows_written": 1, "batches": 1, "config_id": ids.get("integration_configs")},
}


def populate_organization(conn: psycopg.Connection[Any], tag: str) -> Ids:
    """A new organization with one valid row in every tenant table; ids by table."""
    ids: Ids = {"organizations": insert_row(conn, "organizations", organization_row(f"Org {tag}", slug=unique(tag)))}
    for table in _VALID:
        if table != "organizations":
            ids[table] = insert_row(conn, table, valid_row(table, ids))
    return ids


def one_row(conn: Conn, query: str, *params: Any) -> dict[str, Any]:
    """The single row a query must return."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row
