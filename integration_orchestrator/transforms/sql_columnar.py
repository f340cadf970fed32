"""SQL steps over record batches: the batch goes to the sandboxed DuckDB as Arrow IPC.

The ``records`` relation is typed exactly as the per-record path (:mod:`.sql`) types it
from Python values, chunk by chunk (same chunks, so ``_row`` and positions agree):
decimal text becomes DECIMAL(p, s) wide enough for the chunk, a column (or a struct
field, or list items) null throughout the chunk becomes DuckDB's NULL type, NaN and
infinities become null (the pipe codec writes them as JSON null), ``_row`` is appended.
The result table comes back as Arrow IPC with its DuckDB types and is converted to what
the per-record path's records would make: HUGEINT to int64, DECIMAL to exact text with
``io.logical=decimal``, and a decimal returned unchanged under its input column's name
gets the input's text back (its scale), as :class:`~.exact.Originals` does.

Anything the conversion does not cover exactly (JSON or aware-datetime input columns,
non-canonical decimal text, result types such as TIMESTAMPTZ, INTERVAL, MAP, decimals
inside structs) and every failure (SQL errors, a map that drops rows, a timeout aside)
sends that chunk through the per-record path, so outputs, failures and messages are the
per-record engine's by construction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from integration_orchestrator.columnar import LOGICAL_KEY, batch_to_records, records_to_batch
from integration_orchestrator.transforms.columnar_assemble import Part, assemble
from integration_orchestrator.transforms.columnar_base import Fallback, StepBatch, moved_failures, per_record
from integration_orchestrator.transforms.compiled import CompiledTransformation
from integration_orchestrator.transforms.sandbox.pool import SandboxTimeout, get_pool
from integration_orchestrator.transforms.sql import ROW_COLUMN
from integration_orchestrator.transforms.sql_arrow import from_ipc, to_ipc
from integration_orchestrator.transforms.sql_relation import (
    MAX_PRECISION,
    Unsupported,
    plain_type,
    relation_of,
    without_nan,
)

__all__ = ["SQL_TYPES", "SqlColumnarStep"]

SQL_TYPES = frozenset({"map", "filter", "enrich", "aggregate", "custom"})
_DECIMAL_META = {LOGICAL_KEY: b"decimal"}


class SqlColumnarStep:
    """A SQL map, filter, enrich, aggregate or custom step over record batches."""

    def __init__(self, transformation: CompiledTransformation) -> None:
        self.transformation = transformation
        self.kind = transformation.row.transformation_type

    def __repr__(self) -> str:
        return f"<SqlColumnarStep {self.kind} {self.transformation.name!r}>"

    def apply(self, batch: pa.RecordBatch, fallback: Fallback) -> StepBatch:
        """The step's output for ``batch``; chunks without an exact Arrow form run through ``fallback``."""
        if batch.num_rows == 0:
            return per_record(batch, fallback)
        deadline = time.monotonic() + float(self.transformation.row.timeout_seconds)
        if self.kind in ("aggregate", "custom"):
            out = self._chunk(batch, deadline)
            return per_record(batch, fallback) if out is None else StepBatch(out)
        size = self.transformation.chunk_size
        starts = list(range(0, batch.num_rows, size))
        chunks = [batch.slice(start, size) for start in starts]
        if len(chunks) == 1 or self.transformation.parallelism == 1:
            results = [self._chunk(chunk, deadline) for chunk in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.transformation.parallelism) as executor:
                results = list(executor.map(lambda c: self._chunk(c, deadline), chunks))
        parts: list[Part] = []
        failures = []
        for start, chunk, out in zip(starts, chunks, results, strict=True):
            rows = np.arange(start, start + chunk.num_rows)
            if out is not None:  # in row order: a filter's kept rows stay within its chunk's range
                parts.append(Part(rows[: out.num_rows], out))
                continue
            records = batch_to_records(chunk)
            outcome = fallback(records)
            failures.extend(moved_failures(outcome.errors, rows))
            if self.kind == "filter":
                returned = {id(r) for r in outcome.records}
                kept = [i for i, r in enumerate(records) if id(r) in returned]
                parts.append(Part(rows[kept], chunk.take(pa.array(kept, pa.int64()))))
                continue
            failed = {f.index for f in outcome.errors}
            ok = [i for i in range(len(records)) if i not in failed]
            parts.append(Part(rows[ok], records_to_batch(outcome.records), outcome.records))
        if not parts:
            return StepBatch(batch.slice(0, 0), failures)
        return StepBatch(assemble(parts), failures)

    def _chunk(self, chunk: pa.RecordBatch, deadline: float) -> pa.RecordBatch | None:
        """The chunk's output through DuckDB over Arrow, or None: run it per record."""
        try:
            relation, sent = relation_of(chunk)
        except Unsupported:
            return None
        response = self._call(relation, deadline)
        if response is None:
            return None
        try:
            table = from_ipc(response["attachment"])
            result = pa.RecordBatch.from_arrays([c.combine_chunks() for c in table.columns], schema=table.schema)
            return _CONTRACTS[self.kind](chunk, sent, result, list(response["types"]))
        except (Unsupported, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None

    def _call(self, relation: pa.Table, deadline: float) -> dict[str, Any] | None:
        t = self.transformation
        request = {
            "key": t.key, "language": t.row.language, "type": t.row.transformation_type,
            "logic": t.row.transformation_logic, "timeout": float(t.row.timeout_seconds), "per_record": t.per_record,
        }
        try:
            response = get_pool().call(
                request, deadline, needs_seccomp=t.engine.needs_seccomp, profile=t.engine.worker_profile,
                attachment=to_ipc(relation),
            )
        except SandboxTimeout:
            raise t._timeout() from None
        except Exception:  # noqa: BLE001 - a crash or refusal: the per-record path reports it
            return None
        return response if response.get("ok") else None


# -- the records relation ------------------------------------------------------------------


def _column(array: pa.Array, duck: str) -> tuple[pa.Array, bool]:
    """A result column as the per-record path's records carry it; True for decimal text."""
    if duck in ("HUGEINT", "UHUGEINT", "UBIGINT"):
        return array.cast(pa.int64()), False  # ArrowInvalid past int64: per record
    if duck.startswith("DECIMAL") and pa.types.is_decimal(array.type):
        return array.cast(pa.string()), True
    if duck == "TIMESTAMP" and array.type == pa.timestamp("us"):
        return array, False
    if duck == "DATE" and array.type == pa.date32():
        return array, False
    if duck.startswith("TIMESTAMP") or duck in ("DATE", "TIME", "INTERVAL", "BLOB", "UUID", "BIT"):
        raise Unsupported(duck)
    if pa.types.is_string(array.type) and duck != "VARCHAR":
        raise Unsupported(duck)
    target = plain_type(array.type)
    return without_nan(array.cast(target) if target != array.type else array), False


def _converted(result: pa.RecordBatch, types: list[str]) -> dict[str, tuple[pa.Array, bool]]:
    names = result.schema.names
    if len(set(names)) != len(names):
        raise Unsupported("duplicate result column names")
    return {n: _column(result.column(i), types[i]) for i, n in enumerate(names) if n != ROW_COLUMN}


def _field(name: str, array: pa.Array, decimal: bool) -> pa.Field:
    return pa.field(name, array.type, metadata=_DECIMAL_META if decimal else None)


def _restored(name: str, text: pa.Array, value: pa.Array, sent: dict[str, pa.Array], chunk: pa.RecordBatch,
              rows: pa.Array | None) -> pa.Array:
    """Decimal ``text`` with the input's text where the value equals the input's at that row."""
    if name not in sent:
        return text
    original = chunk.column(chunk.schema.get_field_index(name))
    sent_values = sent[name]
    if rows is not None:
        original, sent_values = original.take(rows), sent_values.take(rows)
    if pa.types.is_null(sent_values.type):
        return text
    same = pc.fill_null(pc.equal(value, sent_values), False)
    return pc.if_else(same, original, text)


def _row_positions(result: pa.RecordBatch, count: int) -> np.ndarray | None:
    """Per input row, the first result row with its ``_row`` (-1: none); None without ``_row``."""
    if ROW_COLUMN not in result.schema.names:
        return None
    column = result.column(result.schema.get_field_index(ROW_COLUMN))
    if not pa.types.is_integer(column.type) or column.null_count:
        raise Unsupported("_row is not an integer")
    values = column.to_numpy(zero_copy_only=False).astype(np.int64)
    inside = np.flatnonzero((values >= 0) & (values < count))
    unique, first = np.unique(values[inside], return_index=True)
    positions = np.full(count, -1, dtype=np.int64)
    positions[unique] = inside[first]
    return positions


def _map(chunk: pa.RecordBatch, sent: dict[str, pa.Array], result: pa.RecordBatch, types: list[str]) -> pa.RecordBatch:
    positions = _row_positions(result, chunk.num_rows)
    if positions is None and result.num_rows != chunk.num_rows:
        raise Unsupported("a map returning another number of rows (an error per record)")
    if positions is not None and (positions < 0).any():
        raise Unsupported("a map without a row for some record (a failure per record)")
    columns = _converted(result, types)
    take = None if positions is None else pa.array(positions)
    arrays, fields = [], []
    for i, name in enumerate(result.schema.names):
        if name == ROW_COLUMN and positions is not None:
            continue
        array, decimal = columns[name] if name in columns else (result.column(i), False)
        value = result.column(i)
        if take is not None:
            array, value = array.take(take), value.take(take)
        if decimal:
            array = _restored(name, array, value, sent, chunk, None)
        arrays.append(array)
        fields.append(_field(name, array, decimal))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _filter(
    chunk: pa.RecordBatch, sent: dict[str, pa.Array], result: pa.RecordBatch, types: list[str]
) -> pa.RecordBatch:
    if result.num_rows == 0:
        return chunk.slice(0, 0)
    positions = _row_positions(result, chunk.num_rows)
    if positions is None:
        raise Unsupported("a filter without _row (an error)")
    return chunk.filter(pa.array(positions >= 0))


def _enrich(
    chunk: pa.RecordBatch, sent: dict[str, pa.Array], result: pa.RecordBatch, types: list[str]
) -> pa.RecordBatch:
    if result.num_rows == 0:
        return chunk
    positions = _row_positions(result, chunk.num_rows)
    if positions is None:
        raise Unsupported("an enrich without _row (an error)")
    columns = _converted(result, types)
    enriched = positions >= 0
    take = pa.array(positions, mask=~enriched)
    mask = pa.array(enriched)
    out = {name: (chunk.column(i), chunk.schema.field(i)) for i, name in enumerate(chunk.schema.names)}
    for i, name in enumerate(result.schema.names):
        if name == ROW_COLUMN:
            continue
        array, decimal = columns[name]
        array = array.take(take)
        if decimal:
            array = _restored(name, array, result.column(i).take(take), sent, chunk, None)
        field = _field(name, array, decimal)
        if name in out and not enriched.all():
            array, field = _merge(out[name], (array, field), mask)
        out[name] = (array, field)
    return pa.RecordBatch.from_arrays([a for a, _ in out.values()], schema=pa.schema([f for _, f in out.values()]))


def _merge(old: tuple[pa.Array, pa.Field], new: tuple[pa.Array, pa.Field], mask: pa.Array) -> tuple[pa.Array, pa.Field]:
    """An input column with the enriched rows' values (one type only, else per record)."""
    (a, fa), (b, fb) = old, new
    if pa.types.is_null(fb.type) or pa.types.is_null(fa.type):
        kept = fa if pa.types.is_null(fb.type) else fb
        a, b = a.cast(kept.type), b.cast(kept.type)
        return pc.if_else(mask, b, a), kept
    if fa.type != fb.type or (fa.metadata or {}).get(LOGICAL_KEY) != (fb.metadata or {}).get(LOGICAL_KEY):
        raise Unsupported("an enriched column changing type")
    return pc.if_else(mask, b, a), fb


def _whole(
    chunk: pa.RecordBatch, sent: dict[str, pa.Array], result: pa.RecordBatch, types: list[str]
) -> pa.RecordBatch:
    """aggregate/custom: the result rows; a decimal equal to an input's value at its column
    gets the first such input's text (the batch's originals)."""
    columns = _converted(result, types)
    arrays, fields = [], []
    for i, name in enumerate(result.schema.names):
        if name == ROW_COLUMN:
            continue
        array, decimal = columns[name]
        if decimal and name in sent and not pa.types.is_null(sent[name].type):
            original = chunk.column(chunk.schema.get_field_index(name))
            array = _first_original(array, result.column(i), sent[name], original)
        arrays.append(array)
        fields.append(_field(name, array, decimal))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _first_original(text: pa.Array, value: pa.Array, sent: pa.Array, original: pa.Array) -> pa.Array:
    a, b = value.type, sent.type
    scale = max(a.scale, b.scale)
    precision = max(a.precision - a.scale, b.precision - b.scale) + scale
    if precision > MAX_PRECISION:
        raise Unsupported("decimals too wide to compare")
    common = pa.decimal128(precision, scale)
    found = pc.index_in(value.cast(common), value_set=sent.cast(common), skip_nulls=True)
    return pc.if_else(pc.is_valid(found), original.take(found), text)


_CONTRACTS: dict[str, Callable[..., pa.RecordBatch]] = {
    "map": _map, "filter": _filter, "enrich": _enrich, "aggregate": _whole, "custom": _whole,
}
