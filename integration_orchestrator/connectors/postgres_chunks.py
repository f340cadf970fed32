"""The two shapes a load arrives in, as chunks the table loader COPies.

A load is a stream of chunks: lists of records (the record path) or Arrow record batches
(the batch path). The loader's algorithm (:mod:`.postgres_load`: append, upsert through
staging or straight into an empty table, replace) is written once over chunks; a chunk
only says which fields it has, what its key values are, and how it is COPied.

A batch is COPied from CSV made column by column (:mod:`.copy_csv`) without making Python
records. When that is impossible or the COPY fails, the batch is written by the record
path (``batch_to_records`` then ``COPY`` row by row) under the same savepoint rules, so a
bad batch fails with exactly the record path's message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import orjson
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.adapt import Transformer

from integration_orchestrator.columnar.convert import batch_to_records
from integration_orchestrator.connectors.base import Record, iter_batches
from integration_orchestrator.connectors.copy_csv import csv_for_copy

__all__ = ["BatchChunk", "Chunk", "Copier", "KeyTracker", "RecordChunk", "batch_chunks", "record_chunks"]


class Copier:
    """COPies records or batches into a table through ``conn`` (inside the caller's transaction)."""

    def __init__(self, conn: psycopg.Connection[Any], json_columns: Collection[str]) -> None:
        self.conn = conn
        self.json_columns = frozenset(json_columns)
        self.tx = Transformer.from_context(conn)
        self.utf8 = conn.info.encoding == "utf-8"  # the CSV is UTF-8; other client encodings take the record path

    def records(self, table: sql.Identifier, records: list[Record], names: list[str]) -> None:
        """COPY ``records`` (text format, psycopg's dumpers; JSON columns as orjson text)."""
        json_positions = [i for i, n in enumerate(names) if n in self.json_columns]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(table, sql.SQL(", ").join(map(sql.Identifier, names)))
        getter = _row_getter(names)
        dumps = orjson.dumps
        with self.conn.cursor().copy(statement) as copy:
            write_row = copy.write_row
            if not json_positions:
                for record in records:
                    try:
                        write_row(getter(record))
                    except KeyError:  # a record without some of the batch's columns: NULL there
                        write_row([record.get(n) for n in names])
                return
            for record in records:
                try:
                    values = list(getter(record))
                except KeyError:
                    values = [record.get(n) for n in names]
                for position in json_positions:
                    value = values[position]
                    if value is not None:
                        values[position] = dumps(value, default=str).decode()
                write_row(values)

    def batch(self, table: sql.Identifier, batch: pa.RecordBatch, names: list[str]) -> None:
        """COPY ``batch`` from CSV under a savepoint; on any failure, by the record path.

        The CSV is made and sent in slices of ``_SLICE_ROWS``, so the server parses one
        slice while the next is encoded."""
        slices = [batch.slice(start, _SLICE_ROWS) for start in range(0, batch.num_rows, _SLICE_ROWS)] or [batch]
        data = self._csv(slices[0], names)
        if data is not None:
            columns = sql.SQL(", ").join(map(sql.Identifier, names))
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, columns)
            try:
                with self.conn.transaction(), self.conn.cursor().copy(statement) as copy:
                    copy.write(memoryview(data))
                    for part in slices[1:]:
                        more = self._csv(part, names)
                        if more is None:
                            raise _NotEncodable
                        copy.write(memoryview(more))
                return
            except (psycopg.Error, _NotEncodable):
                pass  # the savepoint is rolled back: the record path writes the batch, or explains the error
        self.records(table, batch_to_records(batch), names)

    def _csv(self, batch: pa.RecordBatch, names: list[str]) -> pa.Buffer | None:
        if not self.utf8:
            return None
        try:
            return csv_for_copy(batch, names, self.json_columns, self.tx)
        except Exception:  # noqa: BLE001 - whatever fails here, the record path fails the same way or succeeds
            return None


class _NotEncodable(Exception):
    """A slice of the batch has no CSV form: the whole batch takes the record path."""


#: rows per CSV slice sent inside one COPY
_SLICE_ROWS = 16_384


class RecordChunk:
    """A list of records (the record path)."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records
        self.rows = len(records)

    def fields(self) -> set[str]:
        return set().union(*self.records)

    def keys(self, key: Sequence[str]) -> list[Any] | None:
        """Each record's key value (a tuple for several columns); None when a record lacks one."""
        getter = itemgetter(*key) if key else (lambda record: None)
        try:
            return list(map(getter, self.records))
        except KeyError:
            return None

    def copy(self, copier: Copier, table: sql.Identifier, names: list[str]) -> None:
        copier.records(table, self.records, names)


class BatchChunk:
    """An Arrow record batch (a batch is a table: every column a field of every row)."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch
        self.rows = batch.num_rows

    def fields(self) -> set[str]:
        return set(self.batch.schema.names)

    def keys(self, key: Sequence[str]) -> list[Any] | None:
        """The key values as the record path sees them where it matters: None for null, and
        equal for equal text or numbers (the loader only uses them to notice repeated keys,
        which PostgreSQL then confirms)."""
        names = self.batch.schema.names
        if not key or any(names.count(k) != 1 for k in key):
            return None
        columns = [self.batch.column(k).to_pylist() for k in key]
        return columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))

    def copy(self, copier: Copier, table: sql.Identifier, names: list[str]) -> None:
        copier.batch(table, self.batch, names)


Chunk = RecordChunk | BatchChunk


def record_chunks(records: Iterable[Record] | Iterable[list[Record]], size: int) -> Iterator[RecordChunk]:
    return (RecordChunk(batch) for batch in iter_batches(records, size))


#: rows per COPY at least: each COPY (and its savepoint) costs round trips; slicing never changes the result
MIN_BATCH_ROWS = 65_536


def batch_chunks(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[BatchChunk]:
    """Each batch in slices of at most ``max(size, MIN_BATCH_ROWS)`` rows; empty batches are
    skipped (as empty record lists are)."""
    size = max(size, MIN_BATCH_ROWS)
    for batch in batches:
        for start in range(0, batch.num_rows, size):
            yield BatchChunk(batch.slice(start, size))


class KeyTracker:
    """Notices, chunk by chunk, whether any key value occurs twice in the load."""

    #: beyond this many keys stop tracking and dedupe in SQL, so the memory this takes is
    #: bounded (about 20 MB) whatever the size of the load
    LIMIT = 200_000

    def __init__(self) -> None:
        self.seen: set[Any] = set()
        self.duplicates = False

    def add(self, keys: list[Any] | None) -> None:
        """``keys``: the chunk's key values, or None when unknown (then assume repeats)."""
        if self.duplicates:
            return
        if keys is None:
            self._give_up()
            return
        before = len(self.seen)
        try:
            self.seen.update(keys)
        except TypeError:  # an unhashable key value: let SQL decide
            self._give_up()
            return
        if len(self.seen) - before != len(keys) or len(self.seen) > self.LIMIT:
            self._give_up()

    def _give_up(self) -> None:
        self.duplicates = True
        self.seen = set()


def _row_getter(names: list[str]) -> Callable[[Record], Sequence[Any]]:
    """``record -> values in column order`` (KeyError if a column is missing)."""
    if len(names) == 1:
        name = names[0]
        return lambda record: (record[name],)
    return itemgetter(*names)
