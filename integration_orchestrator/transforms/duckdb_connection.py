"""The locked-down DuckDB connection every SQL step runs on (record path and Arrow path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

__all__ = ["MEMORY_LIMIT", "sql_connection"]

MEMORY_LIMIT = "256MB"


def sql_connection() -> duckdb.DuckDBPyConnection:
    """A locked-down in-memory DuckDB connection."""
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "enable_external_access": False,
        "python_enable_replacements": False,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "memory_limit": MEMORY_LIMIT,
        "threads": 1,
    }
    conn = duckdb.connect(":memory:", config=config)
    conn.execute("SET TimeZone = 'UTC'")  # TIMESTAMPTZ results in UTC: the worker loads that zone before seccomp
    conn.execute("SET lock_configuration = true")
    return conn
