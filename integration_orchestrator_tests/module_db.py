"""A migrated database shared by all tests of one module (import the fixture to use it).

For tests of pure SQL functions, or tests that each insert their own rows: cloning a
database per test costs seconds on a busy machine.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from integration_orchestrator.db import connect
from integration_orchestrator.db.urls import with_database

__all__ = ["module_db"]


@pytest.fixture(scope="module")
def module_db(pg_admin_url: str, template_database: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit owner connection to one fresh migrated database for the module."""
    name = f"io_m_{uuid.uuid4().hex[:12]}"
    with connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template_database))
        )
    try:
        with connect(with_database(pg_admin_url, name), autocommit=True) as conn:
            yield conn
    finally:
        with connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
