"""Rows → snapshot: one query per integration table, at code-location load only.

The rows are always read inside :func:`tenant_transaction` (the application role,
row-level security): ``organization_id`` given, that organization only; otherwise each
organization in turn (the owner only lists the organization ids), merged in the
same order as one query would give.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import psycopg

from integration_orchestrator.db import connect, tenant_transaction
from integration_orchestrator.factory.snapshot import (
    TABLE_RECORDS,
    normalize_rows,
    snapshot_from_rows,
)
from integration_orchestrator.model.rows import Snapshot
from integration_orchestrator.tenancy import ORGANIZATION_ENV, require_organization

__all__ = ["TABLE_QUERIES", "load_snapshot", "load_snapshot_from_url"]

#: snapshot attribute → query (deterministic order: oldest first, then id)
TABLE_QUERIES: dict[str, str] = {
    "configs": "SELECT * FROM integration_configs WHERE is_active ORDER BY created_at, id",
    "pipelines": "SELECT * FROM integration_pipeline_definitions WHERE is_active ORDER BY created_at, id",
    "mappings": "SELECT * FROM integration_mappings WHERE is_active ORDER BY created_at, id",
    "mapping_tests": "SELECT * FROM integration_mapping_tests WHERE is_active ORDER BY created_at, id",
    "transformations": "SELECT * FROM integration_transformations ORDER BY created_at, id",
    "schedules": "SELECT * FROM integration_schedules ORDER BY created_at, id",
}
assert set(TABLE_QUERIES) == set(TABLE_RECORDS)


def load_snapshot(conn: psycopg.Connection[Any], organization_id: str | None = None) -> Snapshot:
    """Read the active integration rows (one consistent, read-only transaction).

    An ``organization_id`` no organization has is an error (UsageError naming
    ``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID``), not an empty snapshot.
    """
    tables: dict[str, list[dict[str, Any]]] = {attribute: [] for attribute in TABLE_QUERIES}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if organization_id:
            require_organization(conn, organization_id, ORGANIZATION_ENV)
        organizations = [organization_id] if organization_id else [
            str(r["id"]) for r in conn.execute("SELECT id FROM organizations ORDER BY id").fetchall()]
        for organization in organizations:
            with tenant_transaction(conn, organization):
                for attribute, query in TABLE_QUERIES.items():
                    tables[attribute].extend(conn.execute(query).fetchall())
    tables = {attribute: normalize_rows(sorted(rows, key=_order)) for attribute, rows in tables.items()}
    loaded_at = _dt.datetime.now(_dt.UTC).isoformat()
    return snapshot_from_rows(tables, loaded_at=loaded_at, organization_id=organization_id)


def _order(row: Mapping[str, Any]) -> tuple[Any, str]:
    return (row.get("created_at"), str(row.get("id")))


def load_snapshot_from_url(url: str, organization_id: str | None = None) -> Snapshot:
    """Connect to ``url`` and :func:`load_snapshot` (a down server → DatabaseUnavailableError)."""
    with connect(url) as conn:
        return load_snapshot(conn, organization_id)
