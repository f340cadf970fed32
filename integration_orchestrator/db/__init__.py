"""The platform database: where it is, its schema, connections to it."""

from integration_orchestrator.db.connection import (
    APP_ROLE,
    connect,
    dagster_storage_url,
    ensure_database,
    existing_database_url,
    resolve_database_url,
    tenant_transaction,
)
from integration_orchestrator.db.migrations import Migration, applied_migrations, load_migrations, upgrade

__all__ = [
    "APP_ROLE",
    "Migration",
    "applied_migrations",
    "connect",
    "dagster_storage_url",
    "ensure_database",
    "existing_database_url",
    "load_migrations",
    "resolve_database_url",
    "tenant_transaction",
    "upgrade",
]
