"""A record batch as ``COPY ... FROM STDIN (FORMAT csv)`` input, byte-exact with the record path.

The record path (:mod:`.postgres_load`) writes each value as the text psycopg's dumper
gives it (JSON/JSONB columns: ``orjson.dumps(value, default=str)``). This module gives the
same text per column without making Python records where that text can be computed on the
whole column, and asks psycopg's own dumpers for the rest, so the table receives the same
values by construction:

| batch column | text | exact when |
| --- | --- | --- |
| string (no logical type) | the string | always |
| integer | decimal digits | always |
| bool | ``t`` / ``f`` | always |
| date32 | ``YYYY-MM-DD`` | the cast has a 4-digit year (as ``str(date)``) |
| timestamp[us], naive | ``str(datetime)`` (no ``.000000``) | as for dates |
| ``io.logical=decimal`` | the text itself (the scale is kept) | it is canonical ``str(Decimal)`` |
| ``io.logical=datetime`` | the ISO text with a space for ``T`` | it is canonical ``isoformat()`` |
| anything else, or a column not exact on every row | psycopg's dumper of the record value | — |
| any column of a JSON/JSONB target column | ``orjson.dumps(value, default=str)`` | — |

Every non-null value is quoted and NULL is the unquoted empty field, so an empty string
can never read as NULL, and a lone ``\\.`` is data, not the end-of-data marker.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from psycopg.abc import Transformer
from psycopg.adapt import PyFormat

from integration_orchestrator.columnar.convert import column_values, logical_types

__all__ = ["csv_for_copy"]

# str(Decimal(s)) == s exactly for these (plain notation, no leading zeros, adjusted exponent >= -6)
_CANONICAL_DECIMAL = r"^-?(?:[1-9][0-9]*(?:\.[0-9]+)?|0(?:\.(?:0{0,5}[1-9][0-9]*|0{1,6}))?)$"
# str(datetime.fromisoformat(s)) == s with " " for "T" for these, unless _NOT_CANONICAL_AWARE matches
_CANONICAL_AWARE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{6})?[+-][0-9]{2}:[0-9]{2}$"
)
_NOT_CANONICAL_AWARE = r"^0000-|\.000000|-00:00$"  # year 0, an all-zero fraction, a negative zero offset
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}$"
_OPTIONS = pcsv.WriteOptions(include_header=False, quoting_style="needed")  # strings quoted, nulls bare


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(pc.fill_null(mask, True)).as_py())


def _matching(column: pa.Array, pattern: str) -> pa.Array | None:
    """``column`` if every non-null value matches ``pattern``; else None."""
    return column if _all(pc.match_substring_regex(column, pattern)) else None


def _decimal(column: pa.Array) -> pa.Array | None:
    return _matching(column, _CANONICAL_DECIMAL)


def _aware(column: pa.Array) -> pa.Array | None:
    if _matching(column, _CANONICAL_AWARE) is None:
        return None
    if pc.any(pc.match_substring_regex(column, _NOT_CANONICAL_AWARE)).as_py():
        return None
    return pc.replace_substring(column, "T", " ", max_replacements=1)


def _date(column: pa.Array) -> pa.Array | None:
    return _matching(pc.cast(column, pa.string()), _DATE)


def _timestamp(column: pa.Array) -> pa.Array | None:
    text = _matching(pc.cast(column, pa.string()), _TIMESTAMP)
    if text is None:
        return None
    whole = pc.ends_with(text, ".000000")  # str(datetime) omits a zero fraction
    return pc.if_else(whole, pc.utf8_slice_codeunits(text, 0, 19), text)


def _bool(column: pa.Array) -> pa.Array:
    return pc.if_else(column, "t", "f")


_LOGICAL: dict[str, Callable[[pa.Array], pa.Array | None]] = {"decimal": _decimal, "datetime": _aware}


def _vectorized(column: pa.Array, logical: str | None) -> pa.Array | None:
    """The psycopg text of every value of ``column``, or None when it cannot be computed exactly here."""
    kind = column.type
    is_text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    if logical is not None:
        encode = _LOGICAL.get(logical)
        return encode(pc.cast(column, pa.string())) if encode is not None and is_text else None
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    if is_text or pa.types.is_integer(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_boolean(kind):
        return _bool(column)
    if pa.types.is_date32(kind):
        return _date(column)
    if pa.types.is_timestamp(kind) and kind.unit == "us" and kind.tz is None:
        return _timestamp(column)
    return None


def _dumped(column: pa.Array, logical: str | None, tx: Transformer) -> pa.Array:
    """The text psycopg's own dumpers give each value (as ``copy.write_row`` does)."""
    values = column_values(column, logical)
    dumped = tx.dump_sequence(values, [PyFormat.TEXT] * len(values))
    return pa.array([None if b is None else bytes(b) for b in dumped], pa.binary()).cast(pa.string())


def _json(column: pa.Array, logical: str | None) -> pa.Array:
    """The JSON text the record path writes into a JSON/JSONB column."""
    dumps = orjson.dumps
    values = column_values(column, logical)
    return pa.array([None if v is None else dumps(v, default=str).decode() for v in values], pa.string())


def _text(column: pa.Array | None, rows: int, logical: str | None, is_json: bool, tx: Transformer) -> pa.Array:
    if column is None:  # a column of the load the batch lacks: NULL, as record.get() gives
        return pa.nulls(rows, pa.string())
    if is_json:
        return _json(column, logical)
    fast = _vectorized(column, logical)
    return fast if fast is not None else _dumped(column, logical, tx)


def csv_for_copy(
    batch: pa.RecordBatch, names: Sequence[str], json_columns: Collection[str], tx: Transformer
) -> pa.Buffer | None:
    """``batch``'s columns ``names`` (in that order) as CSV for ``COPY (names) FROM STDIN (FORMAT csv)``.

    None when the batch is not one this module encodes (repeated column names): the caller
    takes the record path.
    """
    fields = batch.schema.names
    if len(set(fields)) != len(fields):
        return None
    logical = logical_types(batch.schema)
    present = set(fields)
    columns = [
        _text(batch.column(n) if n in present else None, batch.num_rows, logical.get(n), n in json_columns, tx)
        for n in names
    ]
    table = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    pcsv.write_csv(table, sink, _OPTIONS)
    buffer: pa.Buffer = sink.getvalue()
    return buffer

