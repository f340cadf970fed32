"""Inserting organizations, configs, mappings and mapping tests for mapping tests."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

__all__ = ["insert_config", "insert_mapping", "insert_test"]


def insert_config(db: Any, name: str = "orders", timezone: str = "UTC") -> tuple[Any, Any]:
    org = db.execute("INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"org {name}",)).fetchone()["id"]
    config = db.execute(
        "INSERT INTO integration_configs (integration_name, integration_type, timezone, organization_id)"
        " VALUES (%s, 'rest', %s, %s) RETURNING id",
        (name, timezone, org),
    ).fetchone()["id"]
    return org, config


def insert_mapping(db: Any, org: Any, config: Any, **columns: Any) -> Any:
    columns = {"organization_id": org, "config_id": config, **columns}
    for key in ("transformation_rules", "validation_rules"):
        if columns.get(key) is not None:
            columns[key] = Jsonb(columns[key])
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    query = f"INSERT INTO integration_mappings ({names}) VALUES ({marks}) RETURNING id"  # noqa: S608 - test helper
    return db.execute(query, list(columns.values())).fetchone()["id"]


def insert_test(db: Any, org: Any, mapping: Any, name: str, input_data: Any, expected: Any, test_type: str = "unit") -> Any:
    return db.execute(
        "INSERT INTO integration_mapping_tests (mapping_id, organization_id, test_name, test_type, input_data, expected_output)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (mapping, org, name, test_type, Jsonb(input_data), Jsonb(expected)),
    ).fetchone()["id"]
