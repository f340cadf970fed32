"""Assembling a mapped batch from the rows mapped in Polars and those mapped per record.

The columnar rows give typed columns; the per-record outputs are converted with
:func:`~integration_orchestrator.columnar.records_to_batch`. A column whose two halves have
the same Arrow and logical type is concatenated; otherwise its values are merged as
Python values and the column inferred again, exactly as the table shape of the
per-record outputs would be.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from integration_orchestrator.columnar import LOGICAL_KEY, logical_types, records_to_batch
from integration_orchestrator.columnar.convert import column_values

__all__ = ["assemble"]


def plain_type(arrow_type: pa.DataType) -> pa.DataType:
    """``arrow_type`` with Polars' large/view strings and lists as the plain ones."""
    if arrow_type in (pa.large_string(), pa.string_view()):
        return pa.string()
    if pa.types.is_struct(arrow_type):
        return pa.struct([f.with_type(plain_type(f.type)) for f in arrow_type])
    if pa.types.is_large_list(arrow_type) or pa.types.is_list_view(arrow_type) or pa.types.is_list(arrow_type):
        return pa.list_(plain_type(arrow_type.value_type))
    return arrow_type


def _field(name: str, array: pa.Array, logical: str | None) -> pa.Field:
    return pa.field(name, array.type, metadata={LOGICAL_KEY: logical.encode()} if logical else None)


def _from_values(name: str, values: list[Any]) -> tuple[pa.Array, str | None]:
    column = records_to_batch([{name: v} for v in values]) if values else None
    if column is None:
        return pa.nulls(0), None
    return column.column(0), logical_types(column.schema).get(name)


def assemble(
    columns: list[str], fast: tuple[pl.DataFrame, Any] | None, slow_outputs: list[tuple[int, dict[str, Any]]]
) -> pa.RecordBatch:
    """One column per target field: the fast rows and the clean per-record outputs, in row order."""
    slow = records_to_batch([output for _, output in slow_outputs])
    slow_logical = logical_types(slow.schema)
    if fast is None or fast[0].height == 0:
        n = len(slow_outputs)  # (outputs without fields make a batch of no columns and no rows)
        arrays = [slow.column(name) if name in slow.schema.names else pa.nulls(n) for name in columns]
        fields = [_field(n, a, slow_logical.get(n)) for n, a in zip(columns, arrays, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
    frame, compiled = fast
    table = frame.select(columns).to_arrow()
    fast_arrays = [table.column(n).combine_chunks().cast(plain_type(table.column(n).type)) for n in columns]
    fast_logical = compiled.logical
    if not slow_outputs:
        fields = [_field(n, a, fast_logical.get(n)) for n, a in zip(columns, fast_arrays, strict=True)]
        return pa.RecordBatch.from_arrays(fast_arrays, schema=pa.schema(fields))
    rows = np.concatenate([frame.get_column("__row").to_numpy(), np.array([i for i, _ in slow_outputs])])
    order = pa.array(np.argsort(rows, kind="stable"))
    arrays, fields = [], []
    for name, fast_array in zip(columns, fast_arrays, strict=True):
        other = slow.column(name) if name in slow.schema.names else pa.nulls(len(slow_outputs))
        array, logical = _merged(name, fast_array, fast_logical.get(name), other, slow_logical.get(name), order)
        arrays.append(array)
        fields.append(_field(name, array, logical))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _merged(
    name: str, fast: pa.Array, fast_logical: str | None, other: pa.Array, slow_logical: str | None,
    order: pa.Array,
) -> tuple[pa.Array, str | None]:
    if pa.types.is_null(other.type):
        other, slow_logical = pa.nulls(len(other), fast.type), fast_logical
    elif pa.types.is_null(fast.type):
        fast, fast_logical = pa.nulls(len(fast), other.type), slow_logical
    if fast.type == other.type and fast_logical == slow_logical:
        return pa.concat_arrays([fast, other]).take(order), fast_logical
    values = column_values(fast, fast_logical) + column_values(other, slow_logical)
    return _from_values(name, [values[i] for i in order.to_pylist()])
