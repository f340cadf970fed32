"""Work as the application role, one organization at a time.

Commands that act on every organization (``mappings test``, ``dead-letters list``, the
factory's load) read the organization ids as the owner — nothing else — and do the rest
inside :func:`~integration_orchestrator.db.tenant_transaction` per organization, so
PostgreSQL row-level security applies to every tenant row they touch.

An operator command keeps to one organization when one is given, by ``--organization-id``
or :data:`ORGANIZATION_ENV` (:func:`organization_scope`): a malformed id is a one-line
error naming the option or the variable, an unknown one an error, and the ids the command
is given must be visible to that organization (:func:`require_visible`), else it refuses
them with the message ``history`` uses (:func:`not_in_organization`). Only the
platform-wide commands (``db``, ``secrets rotate``, the executions reconciler) act as the
owner whatever is set (ARCHITECTURE.md §4, §7).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.errors import RowError, UsageError

__all__ = [
    "ORGANIZATION_ENV",
    "ORGANIZATION_OPTION",
    "given_organization",
    "not_in_organization",
    "organization_ids",
    "organization_scope",
    "per_organization",
    "require_organization",
    "require_visible",
]

ORGANIZATION_ENV = "INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID"
ORGANIZATION_OPTION = "--organization-id"


def organization_ids(conn: psycopg.Connection[Any]) -> list[str]:
    """Every organization id (the owner's only read of its own)."""
    return [str(r["id"]) for r in conn.execute("SELECT id FROM organizations ORDER BY created_at, id").fetchall()]


def per_organization(conn: psycopg.Connection[Any], organization_id: str | None = None) -> Iterator[str]:
    """Yield each organization id (or just ``organization_id``) inside its tenant transaction."""
    for organization in [organization_id] if organization_id else organization_ids(conn):
        with tenant_transaction(conn, organization):
            yield organization


def given_organization(option_value: str | None, *, option: str = ORGANIZATION_OPTION) -> tuple[str, str] | None:
    """``(organization id, where it came from)`` from the option, else :data:`ORGANIZATION_ENV`.

    ``None`` when neither is set; a value that is not a UUID is a :class:`UsageError`
    naming the option or the variable (read when called, never at import).
    """
    if option_value:
        value, source = option_value, option
    else:
        value, source = os.environ.get(ORGANIZATION_ENV, "").strip(), ORGANIZATION_ENV
        if not value:
            return None
    try:
        return str(uuid.UUID(value.strip())), source
    except ValueError:
        raise UsageError(f"{value!r} is not an organization id (a UUID)", argument=source) from None


def require_organization(conn: psycopg.Connection[Any], organization_id: str, source: str) -> None:
    """Raise :class:`UsageError` naming ``source`` when ``organization_id`` is not a UUID or no
    organization has it (read as the owner)."""
    try:
        uuid.UUID(str(organization_id))
    except ValueError:
        raise UsageError(f"{organization_id!r} is not an organization id (a UUID)", argument=source) from None
    if not conn.execute("SELECT 1 FROM organizations WHERE id = %s", (organization_id,)).fetchone():
        raise UsageError(f"no organization has the id {organization_id}", argument=source)


def organization_scope(
    conn: psycopg.Connection[Any], option_value: str | None, *, option: str = ORGANIZATION_OPTION
) -> str | None:
    """The organization a command keeps to (checked to exist), or ``None``: every organization."""
    given = given_organization(option_value, option=option)
    if given is None:
        return None
    organization_id, source = given
    require_organization(conn, organization_id, source)
    return organization_id


def not_in_organization(kind: str, key: Any) -> RowError:
    """The refusal of an id the organization cannot see (the form ``history`` uses)."""
    return RowError(kind, str(key), "not found in this organization", row_id=key)


def require_visible(
    conn: psycopg.Connection[Any], organization_id: str | None, table: str, ids: Sequence[Any], kind: str
) -> None:
    """Refuse the first of ``ids`` that ``organization_id`` cannot see in ``table``.

    With ``organization_id`` ``None`` (every organization) nothing is checked here. Ids
    that are not UUIDs are refused naming the kind.
    """
    if organization_id is None or not ids:
        return
    wanted: list[str] = []
    for key in ids:
        try:
            wanted.append(str(uuid.UUID(str(key))))
        except ValueError:
            raise RowError(kind, str(key), "is not a UUID") from None
    query = sql.SQL("SELECT id::text AS id FROM {} WHERE id = ANY(%s::uuid[])").format(sql.Identifier(table))
    with tenant_transaction(conn, organization_id):
        seen = {row["id"] for row in conn.execute(query, (wanted,)).fetchall()}
    for key in wanted:
        if key not in seen:
            raise not_in_organization(kind, key)
