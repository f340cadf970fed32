"""Writing one row: what the demo, the benchmarks and the tests share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

__all__ = ["insert_row"]


def insert_row(conn: psycopg.Connection[Any], table: str, values: Mapping[str, Any]) -> str:
    """INSERT one row (dict and list values become JSONB) and return its id as text."""
    columns = list(values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    params = [Jsonb(values[c]) if isinstance(values[c], (dict, list)) else values[c] for c in columns]
    row = conn.execute(query, params).fetchone()
    if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
        raise RuntimeError(f"INSERT INTO {table} returned no row")
    return str(row["id"] if isinstance(row, dict) else row[0])
