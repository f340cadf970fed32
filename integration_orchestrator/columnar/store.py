"""Batches on storage: Arrow IPC files under a ``UPath`` (local disk today, object stores later).

An op writes its output batches with a :class:`BatchWriter` into one IPC file, and hands
the next op a :class:`BatchFile` (path and batch range: small, cheap to pickle), whose
batches are read back one at a time. So an op holds one
batch at a time, whatever the record count, and a re-execution from failure reads the
batches its parent run persisted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from upath import UPath

__all__ = ["BatchFile", "BatchWriter", "read_batches", "remove_tree"]


@dataclass(frozen=True)
class BatchFile:
    """Batches ``start``..``stop`` (exclusive; None: to the end) of the IPC file at ``path``."""

    path: str
    rows: int
    batches: int
    start: int = 0
    stop: int | None = None

    def slice(self, start: int, stop: int, rows: int) -> BatchFile:
        return BatchFile(self.path, rows, stop - start, self.start + start, self.start + stop)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return read_batches(self)


def _open(path: str) -> Any:
    """A plain read handle: each batch is read into memory of its own and freed with it. (A
    memory map would leave every page of the file the op has read counted in the process's
    resident memory until the file is closed, so that memory would grow with the record count.)"""
    upath = UPath(path)
    if upath.protocol in ("", "file", "local"):
        return pa.OSFile(upath.path, "rb")
    return upath.open("rb")


def read_batches(part: BatchFile) -> Iterator[pa.RecordBatch]:
    """The batches of ``part``, read lazily in order."""
    if part.batches == 0:
        return
    with _open(part.path) as source:
        reader = pa.ipc.open_file(source)
        stop = reader.num_record_batches if part.stop is None else part.stop
        for i in range(part.start, stop):
            yield reader.get_batch(i)


class BatchWriter:
    """Appends batches to one IPC file; the schema is the first batch's, later batches are cast to it
    when they differ only in nullability or column order, else the file is split into a new part."""

    def __init__(self, directory: UPath | os.PathLike[str] | str, name: str) -> None:
        self.directory = UPath(directory)
        self.name = name
        self.parts: list[BatchFile] = []
        self._sink: Any = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None
        self._rows = 0
        self._batches = 0

    def _path(self) -> UPath:
        return self.directory / f"{self.name}-{len(self.parts):04d}.arrow"

    def _start(self, schema: pa.Schema) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path()
        self._current = str(path)
        self._sink = path.open("wb")
        self._writer = pa.ipc.new_file(self._sink, schema)
        self._schema, self._rows, self._batches = schema, 0, 0

    def _finish_part(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        self.parts.append(BatchFile(self._current, self._rows, self._batches))
        self._writer = self._sink = self._schema = None

    def write(self, batch: pa.RecordBatch) -> None:
        if self._schema is not None and not batch.schema.equals(self._schema, check_metadata=True):
            self._finish_part()
        if self._writer is None:
            self._start(batch.schema)
        self._writer.write_batch(batch)
        self._rows += batch.num_rows
        self._batches += 1

    def close(self) -> tuple[BatchFile, ...]:
        """The parts written (none when nothing was)."""
        self._finish_part()
        return tuple(self.parts)

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish_part()


def remove_tree(path: UPath | os.PathLike[str] | str) -> None:
    """Delete ``path`` and everything under it (nothing when it does not exist)."""
    upath = UPath(path)
    if upath.exists():
        upath.fs.rm(upath.path, recursive=True)
