"""NDJSON into record batches: pyarrow's JSON reader where it is exact, orjson where it is not.

The file is read ``batch_size`` lines at a time. The first chunk (and any chunk the fast
path rejects) takes the exact path: each line through ``orjson.loads``, the records
through :func:`~integration_orchestrator.columnar.records_to_batch`; its schema becomes
(or widens) the explicit schema ``S`` the fast path parses later chunks with. A fast
chunk is accepted only when it reads as the exact path would (a batch is a table: a
column a record lacks reads as null):

- pyarrow parsed it with ``S`` and ``unexpected_field_behavior="error"``: no new field,
  no type change (a string where ``S`` has an int, a float in an int column, ...);
- one row per line, and no blank line (pyarrow reads ``{..} {..}`` as two rows, orjson
  rejects it; pyarrow skips blank lines silently);
- no ``NaN`` / ``Infinity`` / BOM bytes, and valid UTF-8 (pyarrow accepts the first ones
  and does not validate the last; orjson rejects all of them);
- no float64 value, at any depth, that is integral (``1`` in a float column: orjson
  gives the int ``1``, so the exact batch would have a JSON column);
- ``S`` itself has only types ``records_to_batch`` gives for orjson values (no JSON-text
  column: pyarrow cannot produce one).

Otherwise the chunk goes the exact path, where a line that is not JSON or not an
object becomes a :class:`~integration_orchestrator.connectors.chunks.BadRecord` (blank
lines are skipped, as ``read()`` does). After repeated rejections the fast path is tried
less often, so a file the fast path cannot read costs little more than orjson alone.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from integration_orchestrator.columnar import records_to_batch
from integration_orchestrator.connectors.base import Record
from integration_orchestrator.connectors.chunks import BadRecord, SourceChunk, truncate_raw

__all__ = ["exact_records", "fast_batch", "merge_schema", "ndjson_chunks"]

_BLANK_INSIDE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_SUSPECT = (b"NaN", b"Infinity", b"\xef\xbb\xbf")
_PLAIN_TYPES = (pa.null(), pa.bool_(), pa.int64(), pa.float64(), pa.string())
_MAX_WAIT = 64


def exact_records(
    lines: Sequence[str | bytes], first_line: int, file: str
) -> tuple[list[Record], list[BadRecord]]:
    """The records of ``lines`` as today's reader gives them, and the lines it would fail on."""
    try:
        values = list(map(orjson.loads, lines))
        if all(type(v) is dict for v in values):
            return values, []
    except orjson.JSONDecodeError:
        pass
    records: list[Record] = []
    bad: list[BadRecord] = []
    for number, line in enumerate(lines, start=first_line):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            bad.append(BadRecord(file, number, f"line {number} is not valid JSON: {exc}", truncate_raw(line)))
            continue
        if not isinstance(value, dict):
            bad.append(BadRecord(file, number, f"line {number} is not a JSON object", truncate_raw(line)))
            continue
        records.append(value)
    return records, bad


def _fast_type(t: pa.DataType) -> bool:
    if any(t == p for p in _PLAIN_TYPES):
        return True
    if pa.types.is_struct(t):
        return all(_fast_type(t.field(i).type) and not t.field(i).metadata for i in range(t.num_fields))
    return pa.types.is_list(t) and _fast_type(t.value_type)


def _fast_schema(schema: pa.Schema) -> bool:
    """Whether pyarrow can produce exactly what ``records_to_batch`` does under ``schema``."""
    return all(not f.metadata and _fast_type(f.type) for f in schema)


def _float_arrays(array: pa.Array) -> Iterator[pa.Array]:
    if pa.types.is_floating(array.type):
        yield array
    elif pa.types.is_struct(array.type):
        for i in range(array.type.num_fields):
            yield from _float_arrays(array.field(i))
    elif pa.types.is_list(array.type):
        yield from _float_arrays(array.values)


def _has_integral_float(batch: pa.RecordBatch) -> bool:
    for column in batch.columns:
        for floats in _float_arrays(column):
            if floats.null_count < len(floats) and pc.any(pc.equal(floats, pc.trunc(floats))).as_py():
                return True
    return False


def _clean_bytes(chunk: bytes) -> bool:
    if any(s in chunk for s in _SUSPECT):
        return False
    if chunk.isascii():
        return True
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_blank_line(lines: Sequence[bytes], chunk: bytes) -> bool:
    return not lines[0].strip() or not lines[-1].strip() or _BLANK_INSIDE.search(chunk) is not None


def fast_batch(lines: Sequence[bytes], schema: pa.Schema) -> pa.RecordBatch | None:
    """``lines`` parsed by pyarrow under ``schema``, or None unless certainly exact (see module doc)."""
    if not lines or not _fast_schema(schema):
        return None
    chunk = b"".join(lines)
    if not _clean_bytes(chunk) or _has_blank_line(lines, chunk):
        return None
    try:
        table = pj.read_json(
            io.BytesIO(chunk),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(chunk) + 1),
            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if table.num_rows != len(lines):
        return None
    batch = table.combine_chunks().to_batches()[0]
    if batch.schema != schema or _has_integral_float(batch):
        return None
    return batch


def _merge_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    if a == b:
        return a
    if a == pa.null():
        return b
    if b == pa.null():
        return a
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        fields = _merge_fields([a.field(i) for i in range(a.num_fields)], [b.field(i) for i in range(b.num_fields)])
        return None if fields is None else pa.struct(fields)
    if pa.types.is_list(a) and pa.types.is_list(b):
        item = _merge_type(a.value_type, b.value_type)
        return None if item is None else pa.list_(item)
    return None


def _merge_fields(old: Iterable[pa.Field], new: Iterable[pa.Field]) -> list[pa.Field] | None:
    merged = {f.name: f.type for f in old}
    for f in new:
        t = _merge_type(merged[f.name], f.type) if f.name in merged else f.type
        if t is None:
            return None
        merged[f.name] = t
    return [pa.field(name, t) for name, t in merged.items()]


def merge_schema(schema: pa.Schema | None, seen: pa.Schema) -> pa.Schema | None:
    """The fast-path schema after an exact chunk of schema ``seen``.

    The union of both when their types agree (null widens to anything, struct fields
    add up); ``seen`` when they conflict (the file changed type: later chunks are
    likelier to look like the latest); ``schema`` unchanged when ``seen`` has a column
    the fast path cannot produce (JSON text).
    """
    if not _fast_schema(seen):
        return schema
    if schema is None:
        return seen
    fields = _merge_fields(schema, seen)
    return seen if fields is None else pa.schema(fields)


class _Chunker:
    """The fast/exact decision and the schema, across the chunks of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.schema: pa.Schema | None = None
        self.misses = 0
        self.wait = 0

    def chunk(self, lines: list[Any], first_line: int, binary: bool) -> SourceChunk | None:
        if binary and self.schema is not None and self._try_fast():
            batch = fast_batch(lines, self.schema)
            if batch is not None:
                self.misses = 0
                return SourceChunk(batch)
            self.misses += 1
            self.wait = 0 if self.misses < 2 else min(2 ** (self.misses - 1), _MAX_WAIT)
        records, bad = exact_records(lines, first_line, self.file)
        if not records and not bad:
            return None
        batch = records_to_batch(records)
        if records:
            self.schema = merge_schema(self.schema, batch.schema)
        return SourceChunk(batch, bad)

    def _try_fast(self) -> bool:
        if self.wait > 0:
            self.wait -= 1
            return False
        return True


def ndjson_chunks(stream: IO[Any], batch_size: int, file: str) -> Iterator[SourceChunk]:
    """The chunks of an NDJSON stream (binary: UTF-8 with the fast path; text: exact path only).

    Lazy: one chunk of ``batch_size`` lines is read, parsed and yielded at a time.
    """
    chunker = _Chunker(file)
    binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase))
    first_line = 1
    while lines := list(itertools.islice(stream, batch_size)):
        chunk = chunker.chunk(lines, first_line, binary)
        first_line += len(lines)
        if chunk is not None:
            yield chunk
