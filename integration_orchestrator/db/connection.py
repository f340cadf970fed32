"""Where the platform database is, and connections to it.

``resolve_database_url`` is the single place that decides: the URL in
``INTEGRATION_ORCHESTRATOR_DATABASE_URL`` when set, otherwise the embedded server
(started on demand). Nothing here runs at import time.

Tenancy: the application works through :func:`tenant_transaction`, which switches to
the non-owner role ``integration_app`` and sets ``integration.organization_id`` for
that transaction only, so PostgreSQL row-level security does the isolation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from integration_orchestrator.db.embedded import EmbeddedServer, NoEmbeddedDatabaseError, start_embedded_server
from integration_orchestrator.db.urls import database_name, env_database_url, mask_url, psycopg2_url, with_database
from integration_orchestrator.errors import DatabaseUnavailableError

__all__ = [
    "APP_DATABASE",
    "APP_ROLE",
    "DAGSTER_DATABASE",
    "ORG_SETTING",
    "connect",
    "dagster_storage_url",
    "ensure_database",
    "existing_database_url",
    "resolve_database_url",
    "tenant_transaction",
]

APP_DATABASE = "integration_orchestrator"
DAGSTER_DATABASE = "integration_orchestrator_dagster"
APP_ROLE = "integration_app"
ORG_SETTING = "integration.organization_id"

_embedded: EmbeddedServer | None = None


def _embedded_server(*, create: bool = True) -> EmbeddedServer:
    global _embedded
    if _embedded is None:
        _embedded = start_embedded_server(create=create)
    return _embedded


def resolve_database_url(explicit: str | None = None, *, create: bool = True) -> str:
    """The platform database URL: ``explicit``, else the environment, else embedded."""
    url = explicit or env_database_url()
    if url:
        return url
    server = _embedded_server()
    url = server.url(APP_DATABASE)
    if create:
        ensure_database(server.url("postgres"), APP_DATABASE)
    return url


def existing_database_url(explicit: str | None = None) -> str:
    """The platform database URL, creating nothing: what Dagster's processes use.

    Like :func:`resolve_database_url`, but the embedded default must already exist (its
    data directory and the ``integration_orchestrator`` database): otherwise a
    :class:`~integration_orchestrator.db.embedded.NoEmbeddedDatabaseError` says where it
    looked, instead of a new, empty database appearing in the working directory.
    """
    url = explicit or env_database_url()
    if url:
        return url
    server = _embedded_server(create=False)
    with connect(server.url("postgres")) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DATABASE,)).fetchone()
    if not found:
        raise NoEmbeddedDatabaseError(
            f"the embedded server under {server.pgdata.parent} has no `{APP_DATABASE}` database"
        )
    return server.url(APP_DATABASE)


def dagster_storage_url(app_url: str) -> str:
    """Dagster's own storage: a sibling database on the same server (created if absent).

    The URL names the psycopg2 driver explicitly: SQLAlchemy 2.1 maps a bare
    ``postgresql://`` to psycopg 3, whose server-side parameter binding breaks
    dagster-postgres's ``NOTIFY run_events, %(notify_id)s`` on every event write.
    """
    name = database_name(app_url) + "_dagster" if database_name(app_url) != APP_DATABASE else DAGSTER_DATABASE
    ensure_database(with_database(app_url, "postgres"), name)
    return psycopg2_url(with_database(app_url, name))


def connect(url: str, **kwargs: Any) -> psycopg.Connection[dict[str, Any]]:
    """A psycopg connection with dict rows; a clear error when the server is down."""
    try:
        return psycopg.connect(url, row_factory=dict_row, **kwargs)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailableError(mask_url(url), reason) from exc


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server of ``admin_url`` unless it exists."""
    with connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            with suppress(psycopg.errors.DuplicateDatabase):  # another process won the race
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@contextmanager
def tenant_transaction(
    conn: psycopg.Connection[Any], organization_id: UUID | str
) -> Iterator[psycopg.Connection[Any]]:
    """One transaction as the application role, seeing only ``organization_id``'s rows."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
        conn.execute("SELECT set_config(%s, %s, true)", (ORG_SETTING, str(organization_id)))
        yield conn
