"""SQL engine (DuckDB, in a sandbox worker): ``{"query"}``, one SELECT over a table ``records``.

``records`` has one column per top-level key of the records (nested objects become
STRUCTs and arrays LISTs when their shape is uniform, JSON text otherwise) plus ``_row``,
the record's 0-based position in the chunk (a record key named ``_row`` is replaced).

- map: each result row is the output record; rows align with the input by ``_row``
  when it is selected, otherwise by position (one row per record is then required).
- filter: keeps the records whose ``_row`` is in the result (``SELECT * FROM records WHERE ...``).
- enrich: result rows with ``_row``: their other columns are merged into that record.
- validate: result rows with ``_row`` and ``error``: each row is an error of that record.
- aggregate/custom: the result rows are the output records.

Every connection is fresh (one per call), in memory, with file, URL and extension access
disabled, replacement scans of Python variables off, a memory limit and one thread, and
the configuration locked before the tenant query runs. The platform database is never
reachable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from integration_orchestrator.transforms.base import Engine, LogicError, Program

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

__all__ = ["ROW_COLUMN", "SQLEngine", "sql_connection"]

ROW_COLUMN = "_row"
MEMORY_LIMIT = "256MB"


def _query(logic: Mapping[str, Any]) -> str:
    query = logic.get("query")
    if not isinstance(query, str) or not query.strip():
        raise LogicError("query", "must be a non-empty SQL SELECT string")
    return query


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
    conn.execute("SET lock_configuration = true")
    return conn


_KINDS: dict[type, str] = {str: "string", list: "list", dict: "object"}


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return _KINDS.get(type(value), "other")


def _uniform(values: list[Any]) -> bool:
    """Whether nested values share one shape (so DuckDB can type them as STRUCT/LIST)."""
    present = [v for v in values if v is not None]
    kinds = {_kind(v) for v in present}
    if len(kinds) > 1 or "other" in kinds:
        return False
    if kinds == {"list"}:
        return _uniform([item for v in present for item in v])
    if kinds == {"object"}:
        keys = {k for v in present for k in v}
        return all(_uniform([v.get(k) for v in present]) for k in keys)
    return True


def _column(values: list[Any]) -> list[Any]:
    """Nested values of one shape stay STRUCT/LIST; mixed shapes become JSON text."""
    if not any(isinstance(v, (dict, list)) for v in values) or _uniform(values):
        return values
    return [None if v is None else orjson.dumps(v).decode() for v in values]


def _frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    import pandas as pd

    keys = [k for k in dict.fromkeys(k for r in records for k in r) if k != ROW_COLUMN]
    columns = {k: pd.Series(_column([r.get(k) for r in records]), dtype=object) for k in keys}
    columns[ROW_COLUMN] = pd.Series(range(len(records)), dtype="int64")
    return pd.DataFrame(columns)


def _rows(query: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    conn = sql_connection()
    try:
        conn.register("records", _frame(records))
        cursor = conn.execute(query)
        columns = [d[0] for d in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()


def _by_row(rows: list[dict[str, Any]], what: str) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if ROW_COLUMN not in row:
            raise ValueError(
                f"the {what} query must return the {ROW_COLUMN} column "  # noqa: S608 - a message, not a query
                "(e.g. SELECT * FROM records WHERE ...)"
            )
        index = row.pop(ROW_COLUMN)
        grouped.setdefault(int(index), []).append(row)
    return grouped


def _map(rows: list[dict[str, Any]], count: int) -> list[Any]:
    if rows and ROW_COLUMN in rows[0]:
        grouped = _by_row(rows, "map")
        return [grouped[i][0] if i in grouped else None for i in range(count)]
    if len(rows) != count:
        raise ValueError(
            f"the map query returned {len(rows)} rows for {count} records; select {ROW_COLUMN} to align them"
        )
    return rows


def _program(query: str, transformation_type: str) -> Program:
    def run(records: list[dict[str, Any]]) -> list[Any]:
        rows = _rows(query, records)
        count = len(records)
        if transformation_type == "map":
            return _map(rows, count)
        if transformation_type in ("aggregate", "custom"):
            return [{k: v for k, v in row.items() if k != ROW_COLUMN} for row in rows]
        grouped = _by_row(rows, transformation_type)
        if transformation_type == "filter":
            return [i in grouped for i in range(count)]
        if transformation_type == "enrich":
            return [grouped[i][0] if i in grouped else None for i in range(count)]
        return [[str(r.get("error")) for r in grouped[i]] if i in grouped else None for i in range(count)]

    return run


class SQLEngine(Engine):
    language = "sql"
    sandboxed = True
    worker_profile = "sql"
    chunk_scale = 10

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        """Parse only: exactly one SELECT statement."""
        import duckdb

        query = _query(logic)
        try:
            statements = duckdb.extract_statements(query)
        except duckdb.Error as exc:
            raise LogicError("query", f"SQL syntax error: {str(exc).strip().splitlines()[0]}") from None
        if len(statements) != 1:
            raise LogicError("query", f"must be exactly one SELECT statement, found {len(statements)} statements")
        if statements[0].type != duckdb.StatementType.SELECT:
            kind = statements[0].type.name
            raise LogicError("query", f"must be a SELECT statement, not {kind}")

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        self.check(logic, transformation_type)
        return _program(_query(logic), transformation_type)
