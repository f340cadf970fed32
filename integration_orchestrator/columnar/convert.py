"""Records ⇄ Arrow record batches, exactly.

A column's Arrow type is inferred from the Python types of its values, strictly:

| values (nulls aside) | column |
| --- | --- |
| ``str`` / ``bool`` / ``int`` (within int64) / ``float`` | string / bool / int64 / float64 |
| ``Decimal`` (top level) | string holding ``str(value)``, field metadata ``io.logical=decimal`` (the scale is kept) |
| ``date`` / naive ``datetime`` (top level) | date32 / timestamp[us] |
| aware ``datetime`` (top level) | string holding the isoformat, ``io.logical=datetime`` |
| ``dict`` / ``list`` of the plain JSON types above | struct / list, children inferred the same way |
| anything else, or a mix (``1`` and ``"1"``, ``1`` and ``1.5``) | string of exact JSON (:mod:`.exactjson`), |
| | ``io.logical=json`` |

So every value reads back equal and of the same type. A batch is a table: its columns
are the union of its records' fields, and a field a record lacks (at any depth of a
struct) reads back as null.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa

from integration_orchestrator.columnar import exactjson

__all__ = [
    "LOGICAL_KEY",
    "batch_to_records",
    "column_values",
    "logical_types",
    "records_to_batch",
    "with_logical_types",
]

LOGICAL_KEY = b"io.logical"
_INT64 = (-(2**63), 2**63 - 1)
_PLAIN: dict[type, pa.DataType] = {str: pa.string(), bool: pa.bool_(), float: pa.float64()}


def _nested_type(values: Iterable[Any]) -> pa.DataType | None:
    """The exact Arrow type of nested values, or None when there is none."""
    kinds: set[type] = set()
    present = [v for v in values if v is not None]
    for v in present:
        kinds.add(type(v))
        if len(kinds) > 1:
            return None
    if not kinds:
        return pa.null()
    kind = kinds.pop()
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind is int:
        return pa.int64() if all(_INT64[0] <= v <= _INT64[1] for v in present) else None
    if kind is dict:
        names: dict[str, None] = {}
        for d in present:
            names.update(dict.fromkeys(d))
        fields = []
        for name in names:
            if type(name) is not str:
                return None
            child = _nested_type(d.get(name) for d in present)
            if child is None:
                return None
            fields.append(pa.field(name, child))
        return pa.struct(fields)
    if kind is list:
        item = _nested_type(v for items in present for v in items)
        return None if item is None else pa.list_(item)
    return None


def _json_column(values: list[Any]) -> tuple[pa.Array, dict[bytes, bytes]]:
    text = [None if v is None else exactjson.dumps(v).decode() for v in values]
    return pa.array(text, pa.string()), {LOGICAL_KEY: b"json"}


def _column(values: list[Any]) -> tuple[pa.Array, dict[bytes, bytes] | None]:
    kinds = {type(v) for v in values if v is not None}
    if len(kinds) == 1:
        kind = next(iter(kinds))
        if kind is Decimal:
            return pa.array([None if v is None else str(v) for v in values], pa.string()), {LOGICAL_KEY: b"decimal"}
        if kind is dt.date:
            return pa.array(values, pa.date32()), None
        if kind is dt.datetime:
            if all(v is None or v.tzinfo is None for v in values):
                return pa.array(values, pa.timestamp("us")), None
            if all(v is None or v.tzinfo is not None for v in values):
                text = [None if v is None else v.isoformat() for v in values]
                return pa.array(text, pa.string()), {LOGICAL_KEY: b"datetime"}
            return _json_column(values)
    if len(kinds) <= 1:
        arrow_type = _nested_type(values)
        if arrow_type is not None:
            return pa.array(values, arrow_type), None
    return _json_column(values)


def records_to_batch(records: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """The records as one batch (columns in first-seen field order)."""
    names: dict[Any, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    arrays, fields = [], []
    for name in names:
        array, metadata = _column([r.get(name) for r in records])
        arrays.append(array)
        fields.append(pa.field(str(name), array.type, metadata=metadata))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def logical_types(schema: pa.Schema) -> dict[str, str]:
    """``{column: logical type}`` for the columns that carry one (decimal, datetime, json)."""
    return {
        f.name: f.metadata[LOGICAL_KEY].decode()
        for f in schema
        if f.metadata and LOGICAL_KEY in f.metadata
    }


def with_logical_types(data: pa.RecordBatch | pa.Table, logical: Mapping[str, str]) -> Any:
    """``data`` with the logical types of ``logical`` set on its columns (as after a Polars round trip)."""
    fields = [
        f.with_metadata({LOGICAL_KEY: logical[f.name].encode()}) if f.name in logical else f
        for f in data.schema
    ]
    schema = pa.schema(fields)
    if isinstance(data, pa.Table):
        return pa.Table.from_arrays(data.columns, schema=schema)
    return pa.RecordBatch.from_arrays(data.columns, schema=schema)


_FROM_TEXT: dict[str, Callable[[str], Any]] = {
    "decimal": Decimal,
    "datetime": dt.datetime.fromisoformat,
    "json": exactjson.loads,
}


def column_values(column: pa.Array | pa.ChunkedArray, logical: str | None) -> list[Any]:
    """The Python values of one column, with its logical type applied."""
    values: list[Any] = column.to_pylist()
    convert = _FROM_TEXT.get(logical or "")
    if convert is None:
        return values
    return [None if v is None else convert(v) for v in values]


def batch_to_records(data: pa.RecordBatch | pa.Table) -> list[dict[str, Any]]:
    """The rows of ``data`` as records (every column a key; nulls as None)."""
    logical = logical_types(data.schema)
    names = data.schema.names
    columns = [column_values(data.column(i), logical.get(name)) for i, name in enumerate(names)]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if columns else [
        {} for _ in range(data.num_rows)
    ]
