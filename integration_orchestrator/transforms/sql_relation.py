"""The ``records`` relation a SQL step's chunk becomes in DuckDB, typed exactly as the
per-record path (:mod:`.sql`) types it from Python values (see :mod:`.sql_columnar`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from integration_orchestrator.columnar import logical_types, records_to_batch
from integration_orchestrator.transforms.sql import ROW_COLUMN

__all__ = ["DECIMAL_TEXT", "INTS", "MAX_PRECISION", "Unsupported", "plain_type", "relation_of", "without_nan"]

DECIMAL_TEXT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
MAX_PRECISION = 38


class Unsupported(Exception):
    """This chunk has no exact Arrow form: it runs per record."""


def relation_of(chunk: pa.RecordBatch) -> tuple[pa.Table, dict[str, pa.Array]]:
    """The ``records`` table of ``chunk`` as the per-record path types it, and the decimal
    columns as sent (for restoring their text)."""
    logical = logical_types(chunk.schema)
    names, arrays, sent = [], [], {}
    for field, column in zip(chunk.schema, chunk.columns, strict=True):
        if field.name == ROW_COLUMN:
            continue
        kind = logical.get(field.name)
        if kind == "decimal":
            array = _decimal(column)
            sent[field.name] = array
        elif kind is not None:
            raise Unsupported(f"{kind} column")
        else:
            array = _as_sent(column)
        names.append(field.name)
        arrays.append(array)
    names.append(ROW_COLUMN)
    arrays.append(pa.array(np.arange(chunk.num_rows), pa.int64()))
    return pa.Table.from_arrays(arrays, names=names), sent


def _decimal(text: pa.Array) -> pa.Array:
    """Decimal text as DECIMAL(p, s) wide enough for every value of the chunk."""
    if text.null_count == len(text):
        return pa.nulls(len(text))
    if not pc.all(pc.match_substring_regex(text, DECIMAL_TEXT)).as_py():
        raise Unsupported("decimal text that is not canonical")
    negative = pc.cast(pc.starts_with(text, "-"), pa.int32())
    length = pc.utf8_length(text)
    dot = pc.find_substring(text, ".")
    whole = pc.if_else(pc.equal(dot, -1), length, dot)
    zero = pc.or_(pc.starts_with(text, "0"), pc.starts_with(text, "-0"))  # "0.x": no integer digits
    integer = pc.if_else(zero, 0, pc.subtract(whole, negative))
    scale = pc.if_else(pc.equal(dot, -1), 0, pc.subtract(pc.subtract(length, dot), 1))
    scale_max = pc.max(scale).as_py() or 0
    precision = max(pc.max(integer).as_py() or 0, 1) + scale_max
    if precision > MAX_PRECISION:
        raise Unsupported("decimals wider than DECIMAL(38)")
    return text.cast(pa.decimal128(precision, scale_max))


INTS = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())


def _as_sent(array: pa.Array) -> pa.Array:
    """A column as DuckDB types the Python values the per-record path sends."""
    if array.null_count == len(array):
        return pa.nulls(len(array))
    t = array.type
    if t in INTS:
        return array.cast(pa.int64())
    if pa.types.is_floating(t):
        return _finite(array.cast(pa.float64()))
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return array.cast(pa.string())
    if t in (pa.string(), pa.bool_(), pa.date32(), pa.timestamp("us")):
        return array
    if pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        return _nested_sent(array)
    raise Unsupported(f"column of {t}")


def _nested_sent(array: pa.Array) -> pa.Array:
    """Structs and lists typed from their values in this chunk, as the per-record path's
    DuckDB sees them (a field null throughout is of the NULL type), NaN as null."""
    values = [_clean(v) for v in array.to_pylist()]
    column = records_to_batch([{"v": v} for v in values])
    if column.num_columns != 1 or logical_types(column.schema):
        raise Unsupported("nested values without one shape")
    typed = column.column(0)
    return typed


def _clean(value: Any) -> Any:
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is dict:
        if not value:
            raise Unsupported("an empty object")
        return {k: _clean(v) for k, v in value.items()}
    if type(value) is list:
        return [_clean(v) for v in value]
    return value


def _finite(array: pa.Array) -> pa.Array:
    """NaN and infinities as null (the pipe codec's JSON writes them as null)."""
    return pc.if_else(pc.is_finite(array), array, pa.scalar(None, array.type))


# -- the result ----------------------------------------------------------------------------


def plain_type(t: pa.DataType) -> pa.DataType:
    """The type records_to_batch gives nested values of ``t`` (plain JSON types only)."""
    if t in INTS:
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if t in (pa.bool_(), pa.null()):
        return t
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, plain_type(f.type)) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(plain_type(t.value_type))
    raise Unsupported(f"a result of {t}")


def without_nan(array: pa.Array) -> pa.Array:
    """NaN and infinities as null, nested ones too."""
    t = array.type
    if pa.types.is_floating(t):
        return _finite(array)
    if pa.types.is_struct(t) or pa.types.is_list(t):
        return pa.array([_clean(v) for v in array.to_pylist()], t)
    return array
