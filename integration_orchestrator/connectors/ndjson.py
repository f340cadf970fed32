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
import mmap
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from integration_orchestrator.columnar import records_to_batch
from integration_orchestrator.connectors.base import Record
from integration_orchestrator.connectors.chunks import BadRecord, SourceChunk, truncate_raw

__all__ = ["exact_records", "fast_batch", "merge_schema", "ndjson_chunks", "parse_line"]

_BLANK_INSIDE = re.compile(rb"\n[ \t\r\x0b\x0c]*\n")
_SUSPECT = (b"NaN", b"Infinity", b"\xef\xbb\xbf")
_PLAIN_TYPES = (pa.null(), pa.bool_(), pa.int64(), pa.float64(), pa.string())
_MAX_WAIT = 64
#: pyarrow parses blocks of this size on its thread pool (a line longer than a block still parses)
_BLOCK_SIZE = 1 << 20
#: the first chunk's schema comes from this many of its lines (parsed exactly, one by one)
_SAMPLE_LINES = 1000


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
        item = parse_line(line, number, file)
        if isinstance(item, BadRecord):
            bad.append(item)
        elif item is not None:
            records.append(item)
    return records, bad


def parse_line(line: str | bytes, number: int, file: str) -> Record | BadRecord | None:
    """Line ``number`` as a record, a bad record saying why not, or None for a blank line."""
    if not line.strip():
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return BadRecord(file, number, f"line {number} is not valid JSON: {exc}", truncate_raw(line))
    if not isinstance(value, dict):
        return BadRecord(file, number, f"line {number} is not a JSON object", truncate_raw(line))
    return value


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


def _has_float(data_type: pa.DataType) -> bool:
    if pa.types.is_floating(data_type):
        return True
    if pa.types.is_struct(data_type):
        return any(_has_float(data_type.field(i).type) for i in range(data_type.num_fields))
    if pa.types.is_list(data_type):
        return _has_float(data_type.value_type)
    return False


def _clean_bytes(chunk: bytes, schema: pa.Schema) -> bool:
    """No BOM, valid UTF-8, and no ``NaN``/``Infinity`` where a float column could take them."""
    suspects = _SUSPECT if any(_has_float(f.type) for f in schema) else _SUSPECT[2:]
    if any(s in chunk for s in suspects):
        return False
    if chunk.isascii():
        return True
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_blank_line(chunk: bytes) -> bool:
    newline = chunk.find(b"\n")
    first, last = (chunk if newline < 0 else chunk[:newline]), chunk[chunk.rfind(b"\n") + 1 :]
    return not first.strip() or not last.strip() or _BLANK_INSIDE.search(chunk) is not None


def fast_batch(lines: Sequence[bytes] | LineChunk, schema: pa.Schema) -> pa.RecordBatch | None:
    """``lines`` parsed by pyarrow under ``schema``, or None unless certainly exact (see module doc)."""
    if not len(lines) or not _fast_schema(schema):
        return None
    chunk = lines.data if isinstance(lines, LineChunk) else b"\n".join(
        line[:-1] if line.endswith(b"\n") else line for line in lines
    )
    if not _clean_bytes(chunk, schema) or _has_blank_line(chunk):
        return None
    try:
        table = pj.read_json(
            io.BytesIO(chunk),
            read_options=pj.ReadOptions(use_threads=True, block_size=_BLOCK_SIZE),
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

    def chunk(self, lines: LineChunk | list[Any], first_line: int, binary: bool) -> SourceChunk | None:
        if binary and self.schema is None and len(lines) > _SAMPLE_LINES:
            self._sample(list(lines[:_SAMPLE_LINES]), first_line)
        if binary and self.schema is not None and self._try_fast():
            batch = fast_batch(lines, self.schema)
            if batch is not None:
                self.misses = 0
                return SourceChunk(batch)
            self.misses += 1
            self.wait = 0 if self.misses < 2 else min(2 ** (self.misses - 1), _MAX_WAIT)
        records, bad = exact_records(lines.lines if isinstance(lines, LineChunk) else lines, first_line, self.file)
        if not records and not bad:
            return None
        batch = records_to_batch(records)
        if records:
            self.schema = merge_schema(self.schema, batch.schema)
        return SourceChunk(batch, bad)

    def _sample(self, lines: list[Any], first_line: int) -> None:
        """The schema of a clean sample of the first chunk (a bad line: no schema, the chunk goes exact)."""
        records, bad = exact_records(lines, first_line, self.file)
        if records and not bad:
            self.schema = merge_schema(None, records_to_batch(records).schema)

    def _try_fast(self) -> bool:
        if self.wait > 0:
            self.wait -= 1
            return False
        return True


_READ_SIZE = 1 << 24


class LineChunk:
    """``count`` lines of a binary stream joined by ``\\n`` (no final newline); split only on demand."""

    def __init__(self, data: bytes, count: int) -> None:
        self.data = data
        self.count = count
        self._lines: list[bytes] | None = None

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = self.data.split(b"\n")
        return self._lines

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: Any) -> Any:
        return self.lines[index]


def _line_groups(stream: IO[bytes], size: int) -> Iterator[LineChunk]:
    """Groups of ``size`` lines of a binary stream, cut at the newlines numpy finds, so no
    Python work is done per line: a regular file is memory-mapped (each group copied out
    once), anything else read in large blocks."""
    mapped = _mapped(stream)
    if mapped is not None:
        try:
            yield from _mapped_groups(mapped, size)
        finally:
            mapped.close()
        return
    yield from _read_groups(stream, size)


def _mapped(stream: IO[bytes]) -> mmap.mmap | None:
    try:
        descriptor = stream.fileno()
        info = os.fstat(descriptor)
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0 or stream.tell() != 0:
        return None
    return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)


def _mapped_groups(mapped: mmap.mmap, size: int) -> Iterator[LineChunk]:
    """The groups of a mapped file; the pages before the current group are handed back as it
    goes (a mapped page the process has read stays in its resident memory until then, so
    memory would otherwise grow with the file)."""
    total = len(mapped)
    start = have = position = released = 0  # the group starts at ``start``, ``have`` lines before ``position``
    while position < total:
        done = start - start % mmap.PAGESIZE
        if done > released and hasattr(mmap, "MADV_DONTNEED"):
            mapped.madvise(mmap.MADV_DONTNEED, released, done - released)
            released = done
        end = min(position + _READ_SIZE, total)
        view = np.frombuffer(mapped, dtype=np.uint8, count=end - position, offset=position)
        newlines = np.flatnonzero(view == 10)
        del view  # no buffer export may outlive the map
        used = 0
        while len(newlines) - used >= size - have:
            cut = position + int(newlines[used + size - have - 1])
            yield LineChunk(mapped[start:cut], size)
            used += size - have
            have, start = 0, cut + 1
        have += len(newlines) - used
        position = end
    if start < total:
        data = mapped[start:total]
        data = data[:-1] if data.endswith(b"\n") else data
        yield LineChunk(data, data.count(b"\n") + 1)


def _read_groups(stream: IO[bytes], size: int) -> Iterator[LineChunk]:
    buffer = b""
    while block := stream.read(_READ_SIZE):
        buffer += block
        newlines = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8) == 10)
        start = 0
        for k in range(size - 1, len(newlines), size):
            end = int(newlines[k])
            yield LineChunk(buffer[start:end], size)
            start = end + 1
        buffer = buffer[start:]
    if buffer:  # the last lines (a final newline ends the last line, it does not start another)
        data = buffer[:-1] if buffer.endswith(b"\n") else buffer
        yield LineChunk(data, data.count(b"\n") + 1)


def _text_groups(stream: IO[Any], size: int) -> Iterator[list[Any]]:
    while lines := list(itertools.islice(stream, size)):
        yield lines


def ndjson_chunks(stream: IO[Any], batch_size: int, file: str) -> Iterator[SourceChunk]:
    """The chunks of an NDJSON stream (binary: UTF-8 with the fast path; text: exact path only).

    Lazy: one chunk of ``batch_size`` lines is read, parsed and yielded at a time.
    """
    chunker = _Chunker(file)
    binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase))
    first_line = 1
    groups = _line_groups(stream, batch_size) if binary else _text_groups(stream, batch_size)
    for lines in groups:
        chunk = chunker.chunk(lines, first_line, binary)
        first_line += len(lines)
        if chunk is not None:
            yield chunk
