"""Dagster's own storage for the shipped ``dagster.yaml``: dagster-postgres, URL found at start.

``dagster.yaml`` names :class:`IntegrationDagsterStorage` (``storage: custom:``), so every
Dagster process — the ``dagster`` CLI, ``dagster dev``, the daemon, code servers, run
workers — finds the storage itself, with no variable to export. The URL is, in order:

1. ``postgres_url`` in the storage's config (a string or ``{env: NAME}``);
2. ``$INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL`` (``dev`` and ``demo`` set it);
3. the sibling database of the platform database (``<name>_dagster`` on the same server,
   created on first use): the platform database is ``$INTEGRATION_ORCHESTRATOR_DATABASE_URL``
   or the *existing* embedded database (``./.integration_orchestrator`` of the working
   directory, or ``$INTEGRATION_ORCHESTRATOR_HOME``).

Where there is no platform database the instance fails with
:class:`~integration_orchestrator.db.embedded.NoEmbeddedDatabaseError`, which says where it
looked; nothing is created. The URL is resolved when Dagster builds the instance, never at
import.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage

from integration_orchestrator.db import dagster_storage_url, existing_database_url

__all__ = ["STORAGE_URL_ENV", "IntegrationDagsterStorage", "resolve_storage_url"]

STORAGE_URL_ENV = "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL"


def resolve_storage_url(configured: str | None = None) -> str:
    """Dagster's storage URL: ``configured``, else the environment, else the platform's sibling."""
    return configured or os.environ.get(STORAGE_URL_ENV) or dagster_storage_url(existing_database_url())


class IntegrationDagsterStorage(DagsterPostgresStorage):
    """``DagsterPostgresStorage`` whose URL is resolved by :func:`resolve_storage_url`."""

    @classmethod
    def config_type(cls) -> dict[str, dg.Field]:
        return {
            "postgres_url": dg.Field(dg.StringSource, is_required=False),
            "should_autocreate_tables": dg.Field(bool, is_required=False, default_value=True),
        }

    @classmethod
    def from_config_value(  # type: ignore[override]  # Dagster's own signature uses a TypedDict
        cls, inst_data: ConfigurableClassData | None, config_value: dict[str, Any]
    ) -> IntegrationDagsterStorage:
        return cls(
            postgres_url=resolve_storage_url(config_value.get("postgres_url")),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )
