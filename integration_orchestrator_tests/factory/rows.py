"""Helpers that insert integration rows (owner connection) for the factory tests."""

from __future__ import annotations

from typing import Any

import psycopg
from integration_orchestrator.db.rows import insert_row

__all__ = [
    "add_config",
    "add_mapping",
    "add_mapping_test",
    "add_organization",
    "add_pipeline",
    "add_transformation",
    "create_target_table",
    "jmespath_step",
]


_insert = insert_row


def add_organization(conn: psycopg.Connection[Any], name: str = "Acme") -> str:
    return _insert(conn, "organizations", {"name": name, "slug": name.lower().replace(" ", "-")})


def add_config(
    conn: psycopg.Connection[Any], org: str, name: str, records: list[dict[str, Any]] | None = None,
    target: dict[str, Any] | None = None, **extra: Any,
) -> str:
    connection = {
        "source": {"type": "inline", "records": records if records is not None else []},
        "target": target or {"type": "postgres_table", "table": "people_out", "mode": "append"},
    }
    return _insert(conn, "integration_configs", {
        "integration_name": name, "integration_type": "test", "connection_config": connection,
        "organization_id": org, **extra,
    })


def add_mapping(
    conn: psycopg.Connection[Any], org: str, config: str, name: str, source: str, target: str, **extra: Any
) -> str:
    return _insert(conn, "integration_mappings", {
        "config_id": config, "organization_id": org, "mapping_name": name, "source_path": source,
        "target_path": target, "transformation_rules": {"type": "direct"}, **extra,
    })


def add_mapping_test(
    conn: psycopg.Connection[Any], org: str, mapping: str, name: str, input_data: dict[str, Any],
    expected: dict[str, Any],
) -> str:
    return _insert(conn, "integration_mapping_tests", {
        "mapping_id": mapping, "organization_id": org, "test_name": name, "input_data": input_data,
        "expected_output": expected,
    })


def add_transformation(
    conn: psycopg.Connection[Any], org: str, name: str, kind: str, expression: str, language: str = "jmespath",
) -> str:
    return _insert(conn, "integration_transformations", {
        "transformation_name": name, "transformation_type": kind, "language": language,
        "transformation_logic": {"expression": expression}, "organization_id": org,
    })


def jmespath_step(name: str, order: int, kind: str, expression: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name, "order": order,
        "transformation": {"transformation_type": kind, "language": "jmespath",
                           "transformation_logic": {"expression": expression}},
        **extra,
    }


def add_pipeline(
    conn: psycopg.Connection[Any], org: str, config: str, name: str, steps: list[dict[str, Any]],
    pipeline_type: str = "linear", strategy: str = "fail_fast", performance: dict[str, Any] | None = None,
) -> str:
    return _insert(conn, "integration_pipeline_definitions", {
        "config_id": config, "organization_id": org, "pipeline_name": name, "pipeline_type": pipeline_type,
        "pipeline_steps": {"steps": steps}, "error_handling_strategy": strategy,
        "performance_config": performance or {},
    })


def create_target_table(conn: psycopg.Connection[Any], table: str = "people_out") -> None:
    conn.execute(f"CREATE TABLE {table} (id integer, name text, tier text, batch text)")
