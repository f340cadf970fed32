"""SQL engine (DuckDB, in a sandbox worker): ``{"query"}``, one SELECT over a table ``records``.

``records`` has one column per top-level key of the records (nested objects become
STRUCTs and arrays LISTs when their shape is uniform, JSON text otherwise) plus ``_row``,
the record's 0-based position in the chunk (a record key named ``_row`` is replaced).
Exact values keep their types (:func:`_column`): ``Decimal`` columns are DECIMAL wide
enough for every value, dates DATE, timestamps TIMESTAMP or TIMESTAMPTZ. A value the
query returns unchanged under its column's name comes back as the original (its scale,
its UTC offset, its JSON rather than the JSON text), see :mod:`.exact`.

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

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from integration_orchestrator.transforms.base import Engine, LogicError, Program
from integration_orchestrator.transforms.duckdb_connection import sql_connection
from integration_orchestrator.transforms.exact import Originals, Path

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ROW_COLUMN", "SQLEngine", "sql_connection"]

ROW_COLUMN = "_row"


def _query(logic: Mapping[str, Any]) -> str:
    query = logic.get("query")
    if not isinstance(query, str) or not query.strip():
        raise LogicError("query", "must be a non-empty SQL SELECT string")
    return query


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp" if value.tzinfo is None else "timestamptz"
    if isinstance(value, dt.date):
        return "date"
    return _KINDS.get(type(value), "other")


_KINDS: dict[type, str] = {str: "string", list: "list", dict: "object"}


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


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value)) if value.is_finite() else str(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_text(value: Any) -> str:
    """JSON text with every ``Decimal`` written as its exact number."""
    return orjson.dumps(value, default=_json_default).decode()


def _decimal_type(values: list[Decimal]) -> tuple[int, int] | None:
    """``(precision, scale)`` of a DECIMAL holding every value exactly, None past DECIMAL(38)."""
    scale = integer = 0
    for value in values:
        if not value.is_finite():
            return None
        exponent = int(value.as_tuple().exponent)
        scale = max(scale, -exponent)
        integer = max(integer, value.adjusted() + 1)
    precision = max(integer, 1) + scale
    return (precision, scale) if precision <= _MAX_PRECISION else None


def _as_decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value if type(value) is int else repr(value))


def _note_leaves(value: Any, path: Path, originals: Originals) -> None:
    """Note the exact values inside a STRUCT/LIST value: DuckDB gives them back equal."""
    kind = type(value)
    if kind is dict:
        for key, item in value.items():
            _note_leaves(item, (*path, key), originals)
    elif kind is list:
        for item in value:
            _note_leaves(item, path, originals)
    elif isinstance(value, (Decimal, dt.date)):
        originals.add(path, value, value)


def _sent(values: list[Any], name: str, originals: list[Originals], fn: Callable[[Any], Any]) -> list[Any]:
    """``fn(value)`` for each value; what each non-text original was sent as is noted."""
    out: list[Any] = []
    for value, seen in zip(values, originals, strict=True):
        if value is None:
            out.append(None)
            continue
        sent = fn(value)
        if type(value) is not str:
            seen.add((name,), sent, value)
        out.append(sent)
    return out


def _column(values: list[Any], name: str, originals: list[Originals]) -> pd.Series[Any]:
    """One column of ``records``, each value's exact type kept or noted for :class:`Originals`.

    - decimals (with any plain numbers beside them): DECIMAL wide enough for all, else text;
    - dates, naive or aware timestamps: DATE / TIMESTAMP / TIMESTAMPTZ when the column has
      one of them only, else their ISO text;
    - nested values of one shape: STRUCT/LIST; of mixed shapes: exact JSON text.
    """
    import pandas as pd

    kinds = {_kind(v) for v in values} - {None}
    if kinds & {"list", "object"}:
        if _uniform(values):
            for value, seen in zip(values, originals, strict=True):
                _note_leaves(value, (name,), seen)
            return pd.Series(values, dtype=object)
        return pd.Series(_sent(values, name, originals, _json_text), dtype=object)
    if "decimal" in kinds and kinds <= {"decimal", "number"}:
        shape = _decimal_type([_as_decimal(v) for v in values if v is not None])
        if shape is not None:
            import pyarrow as pa

            sent = _sent(values, name, originals, _as_decimal)
            return pd.Series(sent, dtype=pd.ArrowDtype(pa.decimal128(*shape)))
    exact = kinds & _EXACT
    if len(exact) == 1 and len(kinds) == 1:
        _sent(values, name, originals, _same)
    elif exact:
        return pd.Series(_sent(values, name, originals, _exact_text), dtype=object)
    return pd.Series(values, dtype=object)


_EXACT = frozenset({"decimal", "date", "timestamp", "timestamptz"})
_MAX_PRECISION = 38


def _same(value: Any) -> Any:
    """DuckDB returns a DATE/TIMESTAMP(TZ) value equal to what it was given."""
    return value


def _exact_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _frame(records: list[dict[str, Any]], originals: list[Originals]) -> pd.DataFrame:
    import pandas as pd

    keys = [k for k in dict.fromkeys(k for r in records for k in r) if k != ROW_COLUMN]
    columns = {k: _column([r.get(k) for r in records], k, originals) for k in keys}
    columns[ROW_COLUMN] = pd.Series(range(len(records)), dtype="int64")
    return pd.DataFrame(columns)


def _rows(query: str, records: list[dict[str, Any]], originals: list[Originals]) -> list[dict[str, Any]]:
    conn = sql_connection()
    try:
        conn.register("records", _frame(records, originals))
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
        count = len(records)
        if transformation_type in ("aggregate", "custom"):
            batch = Originals()  # output rows belong to no one record: the batch's originals
            rows = _rows(query, records, [batch] * count)
            return [batch.restore({k: v for k, v in row.items() if k != ROW_COLUMN}) for row in rows]
        originals = [Originals() for _ in records]
        rows = _rows(query, records, originals)
        if transformation_type == "map":
            return [row if row is None else originals[i].restore(row) for i, row in enumerate(_map(rows, count))]
        grouped = _by_row(rows, transformation_type)
        if transformation_type == "filter":
            return [i in grouped for i in range(count)]
        if transformation_type == "enrich":
            return [originals[i].restore(grouped[i][0]) if i in grouped else None for i in range(count)]
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

    def run_arrow(self, logic: Mapping[str, Any], data: bytes) -> tuple[bytes, list[str]]:
        """The query over an Arrow IPC ``records`` table (see :mod:`.sql_arrow`)."""
        from integration_orchestrator.transforms.sql_arrow import run_arrow

        return run_arrow(_query(logic), data)
