"""What a source yields on the data plane: record batches, plus the lines it could not read.

A :class:`SourceChunk` is one ``pyarrow.RecordBatch`` (the :mod:`integration_orchestrator.columnar`
conventions) and the :class:`BadRecord` entries met while reading it. A bad line or row does
not fail the read: the caller decides what it becomes (a dead letter, a counted failure, or
today's error through :meth:`BadRecord.error`). Sources that only implement ``read()``
(third-party plugins) get batches through :func:`read_batches`, which wraps their record lists.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pyarrow as pa

from integration_orchestrator.columnar import records_to_batch
from integration_orchestrator.connectors.base import ConnectorError, Record, Source

__all__ = [
    "RAW_LIMIT",
    "BadRecord",
    "BatchSource",
    "SourceChunk",
    "item_chunks",
    "raise_first_bad",
    "read_batches",
    "record_chunks",
    "records_or_raise",
    "truncate_raw",
]

#: at most this many characters of a bad line are kept (a dead letter is not a copy of the file)
RAW_LIMIT = 4096


def truncate_raw(raw: str | bytes, limit: int = RAW_LIMIT) -> str:
    """``raw`` as text (undecodable bytes replaced), cut to ``limit`` characters with a marker."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit} more characters)"


@dataclass(frozen=True)
class BadRecord:
    """One line or row a source could not turn into a record.

    ``file``: the path, or the source's name for non-file sources. ``line``: 1-based line
    (NDJSON, CSV: the physical line the row ends on) or element number (JSON arrays).
    ``message``: what today's reader says when it fails on it (it names the line), so
    :meth:`error` reproduces today's failure exactly. ``raw``: the text, truncated.
    """

    file: str
    line: int
    message: str
    raw: str

    def error(self, source_name: str) -> ConnectorError:
        """The error today's ``read()`` raises for this line (for fail-fast handling)."""
        return ConnectorError(source_name, self.message)


@dataclass(frozen=True)
class SourceChunk:
    """One batch read from a source and the bad lines met while reading it (in line order)."""

    batch: pa.RecordBatch
    bad: list[BadRecord] = field(default_factory=list)


@runtime_checkable
class BatchSource(Protocol):
    """A source that yields batches itself (every built-in source)."""

    def read_batches(self) -> Iterator[SourceChunk]: ...


def record_chunks(batches: Iterable[list[Record]]) -> Iterator[SourceChunk]:
    """Record lists as chunks (one batch per list, empty lists skipped), streaming."""
    for records in batches:
        if records:
            yield SourceChunk(records_to_batch(records))


def item_chunks(items: Iterable[Record | BadRecord], size: int) -> Iterator[SourceChunk]:
    """Records interleaved with bad entries as chunks of at most ``size`` lines, streaming."""
    iterator = iter(items)
    while block := list(itertools.islice(iterator, size)):
        records = [item for item in block if not isinstance(item, BadRecord)]
        bad = [item for item in block if isinstance(item, BadRecord)]
        yield SourceChunk(records_to_batch(records), bad)


def records_or_raise(items: Iterable[Record | BadRecord], source_name: str) -> Iterator[Record]:
    """The records, failing on the first bad entry with today's error (``read()``)."""
    for item in items:
        if isinstance(item, BadRecord):
            raise item.error(source_name)
        yield item


def read_batches(source: Source) -> Iterator[SourceChunk]:
    """The chunks of any source: its own ``read_batches()``, else its ``read()`` wrapped."""
    if isinstance(source, BatchSource):
        return source.read_batches()
    return record_chunks(source.read())


def raise_first_bad(chunks: Iterable[SourceChunk], source_name: str) -> Iterator[pa.RecordBatch]:
    """The batches, failing on the first bad line as today's ``read()`` does (fail fast).

    The good rows read before the bad line in its chunk are not yielded, as today.
    """
    for chunk in chunks:
        if chunk.bad:
            raise chunk.bad[0].error(source_name)
        yield chunk.batch
