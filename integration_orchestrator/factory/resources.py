"""The platform database as a Dagster resource (resolved at run time, never at load)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.db import connect, resolve_database_url

__all__ = ["DATABASE_RESOURCE_KEY", "IntegrationDatabase"]

DATABASE_RESOURCE_KEY = "integration_database"


class IntegrationDatabase(dg.ConfigurableResource):  # type: ignore[type-arg]  # Dagster subclasses it unparameterised
    """Where run results are written. ``database_url`` unset: the environment, else embedded."""

    database_url: str | None = None

    def url(self) -> str:
        return resolve_database_url(self.database_url)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        with connect(self.url(), autocommit=True) as conn:
            yield conn
