"""The platform database as a Dagster resource (resolved at run time, never at load)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.db import connect, existing_database_url
from integration_orchestrator.db.retry import connect_retrying

__all__ = ["DATABASE_RESOURCE_KEY", "IntegrationDatabase"]

DATABASE_RESOURCE_KEY = "integration_database"


class IntegrationDatabase(dg.ConfigurableResource):  # type: ignore[type-arg]  # Dagster subclasses it unparameterised
    """Where run results are written. ``database_url`` unset: the environment, else the
    existing embedded database (never created here)."""

    database_url: str | None = None

    def url(self) -> str:
        return existing_database_url(self.database_url)

    @contextmanager
    def connection(self, *, retry: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """An autocommit connection. With ``retry`` (the write-back's default) opening it
        waits out a database blip, and the write-back functions given it replace it when it
        breaks (``db/retry.py``); without, one attempt (a caller that has its own loop)."""
        url = self.url()
        opened = connect_retrying(url, autocommit=True) if retry else connect(url, autocommit=True)
        with opened as conn:
            yield conn
