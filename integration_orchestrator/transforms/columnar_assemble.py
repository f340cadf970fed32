"""Put a step's output batch back together from parts computed apart.

A vectorized step computes most rows columnar and a few per record (the guard design,
:mod:`.columnar`); a ``when`` condition passes rows through untouched. Each part is a
batch plus the output positions of its rows. The result must equal what
``records_to_batch`` makes of all output records in order, so:

- columns come in first-seen order over the rows (a part shows its columns at its first row);
- when every column has one Arrow type (and logical type) across the parts, null columns
  aside, the parts are concatenated and reordered as Arrow data;
- otherwise (a column holding strings in one part and numbers in another becomes exact
  JSON per record) the parts go through records once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from integration_orchestrator.columnar import LOGICAL_KEY, batch_to_records, records_to_batch

__all__ = ["Part", "assemble", "canonical"]


@dataclass(frozen=True)
class Part:
    """Rows of the output: ``positions[i]`` is where row ``i`` of ``batch`` goes.

    ``records`` (when the part came from records) keeps their own key sets and values.
    """

    positions: np.ndarray
    batch: pa.RecordBatch
    records: Sequence[dict[str, Any]] | None = None


def _canonical_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list_view(t) or pa.types.is_list(t):
        return pa.list_(_canonical_type(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _canonical_type(f.type)) for f in t])
    return t


def canonical(table: pa.Table | pa.RecordBatch, logical: dict[str, str]) -> pa.RecordBatch:
    """One record batch with the conventions' types (string, list) and the logical types set."""
    fields, arrays = [], []
    for name, original in zip(table.schema.names, table.columns, strict=True):
        target = _canonical_type(original.type)
        column = original
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        if target != column.type:
            column = column.cast(target)
        meta = {LOGICAL_KEY: logical[name].encode()} if name in logical else None
        fields.append(pa.field(name, target, metadata=meta))
        arrays.append(column)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _logical(field: pa.Field) -> bytes | None:
    return (field.metadata or {}).get(LOGICAL_KEY)


def _column_order(parts: Sequence[Part]) -> list[str]:
    events: list[tuple[int, int, list[str]]] = []
    for n, part in enumerate(parts):
        if part.records is not None:
            events.extend((int(p), n, list(r)) for p, r in zip(part.positions, part.records, strict=True))
        elif len(part.positions):
            events.append((int(part.positions.min()), n, part.batch.schema.names))
    events.sort(key=lambda e: (e[0], e[1]))
    names: dict[str, None] = {}
    for _, _, keys in events:
        names.update(dict.fromkeys(keys))
    return list(names)


def _common_fields(parts: Sequence[Part], names: list[str]) -> dict[str, pa.Field] | None:
    common: dict[str, pa.Field] = {}
    for part in parts:
        for field in part.batch.schema:
            if pa.types.is_null(field.type):
                continue
            seen = common.get(field.name)
            if seen is None:
                common[field.name] = field
            elif seen.type != field.type or _logical(seen) != _logical(field):
                return None
    for name in names:
        common.setdefault(name, pa.field(name, pa.null()))
    return common


def assemble(parts: Sequence[Part]) -> pa.RecordBatch:
    """The output batch: every part's rows at their positions."""
    parts = [p for p in parts if len(p.positions)]
    if len(parts) == 1 and parts[0].records is None and _in_order(parts[0].positions):
        return parts[0].batch
    names = _column_order(parts)
    common = _common_fields(parts, names)
    if common is None:
        return _through_records(parts)
    schema = pa.schema([common[name] for name in names])
    tables = []
    for part in parts:
        columns = []
        for field in schema:
            i = part.batch.schema.get_field_index(field.name)
            column = part.batch.column(i) if i >= 0 else pa.nulls(part.batch.num_rows, field.type)
            columns.append(column.cast(field.type) if column.type != field.type else column)
        tables.append(pa.Table.from_arrays(columns, schema=schema))
    if not tables:
        return pa.RecordBatch.from_pylist([])
    table = pa.concat_tables(tables)
    order = np.argsort(np.concatenate([p.positions for p in parts]), kind="stable")
    return table.take(pa.array(order)).combine_chunks().to_batches()[0] if table.num_rows else (
        pa.RecordBatch.from_arrays([pa.array([], f.type) for f in schema], schema=schema)
    )


def _in_order(positions: np.ndarray) -> bool:
    return bool(np.all(np.diff(positions) > 0))


def _through_records(parts: Sequence[Part]) -> pa.RecordBatch:
    placed: list[tuple[int, dict[str, Any]]] = []
    for part in parts:
        records = part.records if part.records is not None else batch_to_records(part.batch)
        placed.extend(zip((int(p) for p in part.positions), records, strict=True))
    placed.sort(key=lambda pair: pair[0])
    return records_to_batch([record for _, record in placed])
