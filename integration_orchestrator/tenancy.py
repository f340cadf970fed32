"""Work as the application role, one organization at a time.

Commands that act on every organization (``mappings test``, ``dead-letters list``, the
factory's load) read the organization ids as the owner — nothing else — and do the rest
inside :func:`~integration_orchestrator.db.tenant_transaction` per organization, so
PostgreSQL row-level security applies to every tenant row they touch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from integration_orchestrator.db import tenant_transaction

__all__ = ["organization_ids", "per_organization"]


def organization_ids(conn: psycopg.Connection[Any]) -> list[str]:
    """Every organization id (the owner's only read of its own)."""
    return [str(r["id"]) for r in conn.execute("SELECT id FROM organizations ORDER BY created_at, id").fetchall()]


def per_organization(conn: psycopg.Connection[Any], organization_id: str | None = None) -> Iterator[str]:
    """Yield each organization id (or just ``organization_id``) inside its tenant transaction."""
    for organization in [organization_id] if organization_id else organization_ids(conn):
        with tenant_transaction(conn, organization):
            yield organization
