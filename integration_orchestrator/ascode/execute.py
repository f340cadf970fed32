"""Carry out a :class:`~integration_orchestrator.ascode.plan.Plan` in the caller's transaction.

Creates insert every managed column (``organization_id`` given explicitly), updates set
only the columns that differ; the configuration triggers bump ``version`` and record
history as for any other write. A database error (a CHECK, a foreign key) is reported
naming the file and the object. Nothing here commits: the caller's transaction is the
unit, so a file applies whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from integration_orchestrator.ascode.columns import TRANSFORMATIONS, Table
from integration_orchestrator.ascode.plan import CREATE, UPDATE, Change, Plan, transformation_names
from integration_orchestrator.ascode.portable import rename_references

__all__ = ["execute_plan"]

_CASTS = {"fixed_times": "time[]", "start_date": "date", "end_date": "date"}


def execute_plan(conn: psycopg.Connection[Any], plan: Plan) -> dict[str, list[str]]:
    """Apply every create and update; returns the ids written, by table."""
    written: dict[str, list[str]] = {}
    for change in plan.changes:
        if change.table is TRANSFORMATIONS and change.action in (CREATE, UPDATE):
            _write(conn, plan, change)
            written.setdefault(change.table.table, []).append(str(change.row_id))
    ids = {name: id_ for id_, name in transformation_names(conn).items()}
    for change in plan.changes:
        if change.table is not TRANSFORMATIONS and change.action in (CREATE, UPDATE):
            _write(conn, plan, change, ids)
            written.setdefault(change.table.table, []).append(str(change.row_id))
    return written


def _db_values(change: Change, names: Mapping[str, str]) -> dict[str, Any]:
    def rename(item: dict[str, Any]) -> dict[str, Any]:
        name = item.get("transformation_name")
        if isinstance(name, str) and (item.get("type") == "transformation" or "name" in item):
            item = {("transformation_id" if k == "transformation_name" else k): v for k, v in item.items()}
            item["transformation_id"] = names[name]
        return item

    values = dict(change.values)
    for column in ("pipeline_steps", "transformation_rules"):
        if values.get(column) is not None:
            values[column] = rename_references(values[column], rename)
    return values


def _adapt(table: Table, column: str, value: Any) -> Any:
    return Jsonb(value) if column in table.json_columns and value is not None else value


def _placeholder(column: str) -> sql.Composable:
    cast = _CASTS.get(column)
    return sql.SQL("%s::" + cast) if cast else sql.SQL("%s")


def _write(conn: psycopg.Connection[Any], plan: Plan, change: Change, names: Mapping[str, str] | None = None) -> None:
    table = change.table
    values = _db_values(change, names or {})
    try:
        with conn.transaction():
            if change.action == CREATE:
                columns = {**values, "organization_id": plan.organization_id}
                if table.parent is not None:
                    assert change.parent is not None and change.parent.row_id is not None
                    columns[table.parent] = change.parent.row_id
                query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
                    sql.Identifier(table.table),
                    sql.SQL(", ").join(map(sql.Identifier, columns)),
                    sql.SQL(", ").join(_placeholder(c) for c in columns),
                )
                row = conn.execute(query, [_adapt(table, c, v) for c, v in columns.items()]).fetchone()
                assert row is not None
                change.row_id = str(row["id"] if isinstance(row, Mapping) else row[0])
            else:
                changed = [c for c, _, _ in change.diffs]
                query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
                    sql.Identifier(table.table),
                    sql.SQL(", ").join(sql.SQL("{} = ").format(sql.Identifier(c)) + _placeholder(c) for c in changed),
                )
                conn.execute(query, [*(_adapt(table, c, values[c]) for c in changed), change.row_id])
    except psycopg.Error as exc:
        assert change.document is not None
        diag = getattr(exc, "diag", None)
        reason = diag.message_primary if diag is not None and diag.message_primary else str(exc).splitlines()[0]
        column = getattr(diag, "column_name", None) if diag is not None else None
        constraint = getattr(diag, "constraint_name", None) if diag is not None else None
        detail = f" (constraint {constraint})" if constraint else ""
        raise change.document.error(f"the database refused it: {reason}{detail}", change.path, field=column) from exc
