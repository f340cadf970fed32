"""SQL over an Arrow batch, in the sandbox worker: IPC bytes in, IPC bytes out.

The parent (:mod:`.sql_columnar`) sends the ``records`` relation already typed the way the
per-record path types it (decimals as DECIMAL, ``_row`` appended); the worker registers
it on the same locked-down connection (:func:`~.duckdb_connection.sql_connection`: no file, URL or
extension access, memory limit, one thread, configuration locked) and returns the
result table with the DuckDB type of each column, which Arrow alone does not tell
(HUGEINT and DECIMAL(38,0) are the same Arrow type).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

__all__ = ["from_ipc", "run_arrow", "to_ipc", "warm_up"]


def to_ipc(table: pa.Table | pa.RecordBatch) -> bytes:
    """``table`` as Arrow IPC stream bytes."""
    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write(table)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    """The table :func:`to_ipc` wrote (zero copy over ``data``)."""
    with ipc.open_stream(pa.py_buffer(data)) as reader:
        return reader.read_all()


def run_arrow(query: str, data: bytes) -> tuple[bytes, list[str]]:
    """``query`` over the ``records`` table in ``data``: the result as IPC and its DuckDB types."""
    from integration_orchestrator.transforms.duckdb_connection import sql_connection

    records = from_ipc(data)
    conn = sql_connection()
    try:
        conn.register("records", records)
        relation = conn.sql(query)
        types = [str(t) for t in relation.types]
        result: Any = relation.to_arrow_table()
        return to_ipc(result), types
    finally:
        conn.close()


def warm_up() -> None:
    """Load what the Arrow path imports lazily (the worker may not open files later)."""
    import datetime as dt

    table = pa.table({
        "a": pa.array([1, None], pa.int64()),
        "d": pa.array(["1.50", None]).cast(pa.decimal128(4, 2)),
        "s": pa.array([{"x": "é", "y": [1.5]}, None]),
        "t": pa.array([dt.date(2026, 1, 1), None]),
        "_row": pa.array([0, 1], pa.int64()),
    })
    data, _ = run_arrow(
        "SELECT *, d * 2 AS e, now() AS n, sum(a) OVER () AS h, [a] AS l FROM records", to_ipc(table)
    )
    from_ipc(data).column("e").cast(pa.string())
