"""``file`` source and target: CSV, JSON (an array of records) and NDJSON.

The source streams: CSV and NDJSON line by line, JSON arrays element by element, as record
lists (``read()``) or as record batches (``read_batches()``, where a bad line or row is
reported with its file and line instead of failing the read). The
target writes batches as they come into a temporary file beside the destination
(``append`` first copies the current file into it, streamed) and renames it over the
destination at the end, so a failed or killed write leaves the old file intact. With a
``LoadContext`` the load is kept in the file's ledger (:mod:`.file_ledger`).
"""

from __future__ import annotations

import copy
import csv
import glob
import hashlib
import io
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson
import pyarrow as pa

from integration_orchestrator.columnar.convert import batch_to_records
from integration_orchestrator.connectors.base import (
    DEFAULT_BATCH_SIZE,
    ConnectorContext,
    ConnectorError,
    ConnectorSpec,
    Record,
    Target,
    WriteResult,
    chunked,
    iter_batches,
    register_source,
    register_target,
)
from integration_orchestrator.connectors.chunks import (
    BadRecord,
    SourceChunk,
    item_chunks,
    records_or_raise,
    truncate_raw,
)
from integration_orchestrator.connectors.csvread import csv_items, decoded_lines
from integration_orchestrator.connectors.file_ledger import (
    FileLedger,
    file_checksum,
    fsync_directory,
    latest_state,
    loaded_letters,
)
from integration_orchestrator.connectors.incremental import incremental_of, incremental_schema
from integration_orchestrator.connectors.jsonstream import iter_json_array
from integration_orchestrator.connectors.ndjson import ndjson_chunks, parse_line
from integration_orchestrator.connectors.postgres_ledger import LoadContext

__all__ = ["FILE_SOURCE", "FILE_TARGET", "FileSource", "FileTarget", "file_format"]

FORMATS = ("csv", "json", "ndjson")
_EXTENSIONS = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson"}

_COMMON: dict[str, Any] = {
    "type": {"const": "file"},
    "path": {"type": "string", "minLength": 1},
    "format": {"enum": list(FORMATS)},
    "encoding": {"type": "string"},
    "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
    "batch_size": {"type": "integer", "minimum": 1},
}
_SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {**_COMMON, "empty_as_null": {"type": "boolean"}, "incremental": incremental_schema("files")},
    "required": ["type", "path"],
    "additionalProperties": False,
}
_TARGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_COMMON,
        "mode": {"enum": ["overwrite", "append"]},
        "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
    },
    "required": ["type", "path"],
    "additionalProperties": False,
}


def file_format(config: Mapping[str, Any]) -> str | None:
    """The configured format, else the one the extension implies (None if neither)."""
    if config.get("format"):
        return str(config["format"])
    return _EXTENSIONS.get(Path(str(config.get("path", ""))).suffix.lower())


def _check_source(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    if file_format(config) is None:
        return [
            (".format", f"is required: the extension of `{config['path']}` is not one of .csv, .json, .ndjson, .jsonl")
        ]
    return []


def _check_target(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    problems = _check_source(config)
    if not problems and file_format(config) == "json" and config.get("mode") == "append":
        problems.append((".mode", "`append` is not possible for a JSON array file; use ndjson or csv"))
    return problems


_T = TypeVar("_T")


def _sha256(path: Path, name: str) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise ConnectorError(name, f"cannot read `{path}`: {exc.strerror or exc}") from exc
    return digest.hexdigest()


class FileSource:
    """Reads records from a CSV, JSON-array or NDJSON file, ``batch_size`` at a time."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.path = Path(config["path"]).expanduser()
        self.format = file_format(config) or "ndjson"
        self.encoding = str(config.get("encoding", "utf-8"))
        self.delimiter = str(config.get("delimiter", ","))
        self.empty_as_null = bool(config.get("empty_as_null", True))
        self.batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
        self.name = f"file source `{self.path}`"
        self.incremental = incremental_of(config, context)

    def files(self) -> list[Path]:
        """The files to read: ``path``; with ``incremental.files`` it may be a glob pattern
        (matches in name order)."""
        if self.incremental is None or not glob.has_magic(str(self.path)):
            return [self.path]
        return [Path(p) for p in sorted(glob.glob(str(self.path))) if Path(p).is_file()]

    def _each_new_file(self, read: Callable[[FileSource], Iterator[_T]]) -> Iterator[_T]:
        """``read`` over each file whose (name, sha256) the state does not hold; the state
        gets every file read."""
        assert self.incremental is not None
        run = self.incremental[1]
        loaded = run.files()
        for path in self.files():
            digest = _sha256(path, self.name)
            if loaded.get(str(path)) == digest:
                continue
            one = copy.copy(self)
            one.path, one.incremental = path, None
            yield from read(one)
            run.count("files")
            loaded[str(path)] = digest
            run.new_state = {"files": dict(loaded)}

    @property
    def _utf8(self) -> bool:
        return self.encoding.lower().replace("-", "").replace("_", "") == "utf8"

    def _open(self, binary: bool) -> IO[Any]:
        try:
            if binary:
                return self.path.open("rb")
            return self.path.open("r", encoding=self.encoding)
        except OSError as exc:
            raise ConnectorError(self.name, f"cannot open the file: {exc.strerror or exc}") from exc

    def read(self) -> Iterator[list[Record]]:
        if self.incremental is not None:
            yield from self._each_new_file(FileSource.read)
            return
        binary = self.format == "csv" or (self.format == "ndjson" and self._utf8)
        with self._open(binary) as stream:
            if self.format == "csv":
                yield from chunked(records_or_raise(self._csv_items(stream), self.name), self.batch_size)
            elif binary:
                yield from self._ndjson_batches(stream)
            else:
                yield from chunked(self._records(stream), self.batch_size)

    def read_batches(self) -> Iterator[SourceChunk]:
        """The file as record batches; a bad line or row is reported in its chunk, not raised.

        NDJSON in UTF-8 goes through the exact fast path of :mod:`.ndjson`; CSV rows and
        JSON-array elements through ``records_to_batch``. Lazy: one chunk at a time.
        """
        if self.incremental is not None:
            yield from self._each_new_file(FileSource.read_batches)
            return
        binary = self.format == "csv" or (self.format == "ndjson" and self._utf8)
        with self._open(binary) as stream:
            if self.format == "ndjson":
                yield from ndjson_chunks(stream, self.batch_size, str(self.path))
            elif self.format == "csv":
                yield from item_chunks(self._csv_items(stream), self.batch_size)
            else:
                yield from item_chunks(self._json_items(stream), self.batch_size)

    def _ndjson_batches(self, stream: IO[bytes]) -> Iterator[list[Record]]:
        """UTF-8 NDJSON, a batch of lines parsed at a time; a batch with a blank or bad
        line is parsed again line by line, for the line number of the problem."""
        first_line = 1
        while lines := list(itertools.islice(stream, self.batch_size)):
            try:
                batch = list(map(orjson.loads, lines))
                if all(type(value) is dict for value in batch):
                    yield batch
                    first_line += len(lines)
                    continue
            except orjson.JSONDecodeError:
                pass
            if parsed := list(self._ndjson(lines, first_line)):
                yield parsed
            first_line += len(lines)

    def _records(self, stream: IO[str]) -> Iterator[Record]:
        if self.format == "json":
            yield from records_or_raise(self._json_items(stream), self.name)
        else:
            yield from self._ndjson(stream)

    def _csv_items(self, raw: IO[bytes]) -> Iterator[Record | BadRecord]:
        lines = decoded_lines(raw, self.encoding, str(self.path), self.name)
        return csv_items(lines, delimiter=self.delimiter, empty_as_null=self.empty_as_null, file=str(self.path))

    def _json_items(self, stream: IO[str]) -> Iterator[Record | BadRecord]:
        """Each element; one that is not an object is a bad entry (``line``: its 1-based position)."""
        try:
            for index, value in enumerate(iter_json_array(stream)):
                if isinstance(value, dict):
                    yield value
                else:
                    message = f"element {index} of the array is not an object"
                    yield BadRecord(str(self.path), index + 1, message, truncate_raw(orjson.dumps(value)))
        except ValueError as exc:
            raise ConnectorError(self.name, str(exc)) from exc

    def _ndjson(self, stream: Iterable[str | bytes], start: int = 1) -> Iterator[Record]:
        for number, line in enumerate(stream, start=start):
            item = parse_line(line, number, str(self.path))
            if isinstance(item, BadRecord):
                raise item.error(self.name)
            if item is not None:
                yield item


class FileTarget(Target):
    """Writes records as CSV, a JSON array or NDJSON (``overwrite`` atomically, or ``append``)."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.path = Path(config["path"]).expanduser()
        self.format = file_format(config) or "ndjson"
        self.encoding = str(config.get("encoding", "utf-8"))
        self.delimiter = str(config.get("delimiter", ","))
        self.mode = str(config.get("mode", "overwrite"))
        self.columns: list[str] | None = list(config["columns"]) if config.get("columns") else None
        self.batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
        self.name = f"file target `{self.path}`"

    def write(
        self, records: Iterable[Record] | Iterable[list[Record]], load_context: LoadContext | None = None
    ) -> WriteResult:
        """Write a new version of the file beside it and rename it over the file (both modes).

        With ``load_context`` the load is kept in the file's ledger (``file_ledger``): a run
        (or a re-execution of its data) already recorded writes nothing and returns the
        recorded counts."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if load_context is None:
            temp, result = self._new_version(records)
            self._rename(temp)
            return result
        ledger = FileLedger(self.path)
        with ledger.locked() as stream:
            recorded = ledger.recorded(stream, load_context)
            if recorded is not None:
                return recorded  # this run's data is already in the file: never twice
            temp, result = self._new_version(records)
            try:
                pending = ledger.begin(stream, load_context, result, file_checksum(temp) or "", temp)
            except BaseException:
                temp.unlink(missing_ok=True)
                raise
            self._rename(temp)
            ledger.commit(stream, pending)
            return result

    def write_batches(self, batches: Iterable[pa.RecordBatch], load_context: LoadContext | None = None) -> WriteResult:
        return self.write((batch_to_records(batch) for batch in batches), load_context)

    def recorded_loads(self, run_ids: Iterable[str]) -> dict[str, WriteResult]:
        """The ledger's results for ``run_ids`` (for the reconciler)."""
        ids = set(run_ids)
        return {str(e.fields["run_id"]): e.result for e in FileLedger(self.path).committed()
                if e.fields.get("run_id") in ids}

    def latest_state(self, config_id: str) -> Any:
        """The integration's incremental state in this file's ledger (None: none yet)."""
        return latest_state(FileLedger(self.path).committed(), config_id)

    def loaded_letters(self, letter_ids: Iterable[str]) -> set[str]:
        """Which dead letters a committed replay already wrote to this file."""
        return loaded_letters(FileLedger(self.path).committed(), letter_ids)

    def _new_version(self, records: Iterable[Any]) -> tuple[Path, WriteResult]:
        """The file's next content in a temporary file beside it, fsynced: ``append`` streams
        the current file into it first. Removed again on error."""
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        temp = Path(name)
        try:
            header = True
            with os.fdopen(fd, "wb") as raw:
                if self.path.exists():
                    os.chmod(temp, stat.S_IMODE(self.path.stat().st_mode))
                    if self.mode == "append":
                        with self.path.open("rb") as current:
                            shutil.copyfileobj(current, raw, 1 << 20)
                        header = raw.tell() == 0
                with io.TextIOWrapper(raw, encoding=self.encoding, newline="", write_through=False) as stream:
                    count = self._write_all(stream, records, header=header)
                    stream.flush()
                    os.fsync(raw.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return temp, WriteResult(rows_written=count, inserted=count, updated=0)

    def _rename(self, temp: Path) -> None:
        try:
            os.replace(temp, self.path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_directory(self.path.parent)

    def _write_all(self, stream: IO[str], records: Iterable[Any], *, header: bool) -> int:
        count = 0
        writer: _CheckedWriter | None = None
        if self.format == "json":
            stream.write("[")
        for batch in iter_batches(records, self.batch_size):
            if self.format == "csv":
                writer = writer or self._csv_writer(stream, batch[0], header=header)
                writer.writerows(_csv_row(r) for r in batch)
            elif self.format == "json":
                for record in batch:
                    stream.write(("\n" if count == 0 else ",\n") + orjson.dumps(record, default=str).decode())
                    count += 1
                continue
            else:
                stream.write("".join(orjson.dumps(r, default=str).decode() + "\n" for r in batch))
            count += len(batch)
        if self.format == "json":
            stream.write("\n]\n")
        return count

    def _csv_writer(self, stream: IO[str], first: Record, *, header: bool) -> _CheckedWriter:
        columns = self.columns or list(first)
        writer = csv.DictWriter(stream, fieldnames=columns, delimiter=self.delimiter, extrasaction="raise")
        if header:
            writer.writeheader()
        return _CheckedWriter(writer, self.name)


class _CheckedWriter:
    """A DictWriter whose unknown-column error names the target and the column."""

    def __init__(self, writer: csv.DictWriter[str], name: str) -> None:
        self.writer = writer
        self.name = name

    def writerows(self, rows: Iterable[Record]) -> None:
        try:
            self.writer.writerows(rows)
        except ValueError as exc:
            raise ConnectorError(
                self.name, f"{exc}; set `columns` to the full list of CSV columns"
            ) from exc


def _csv_row(record: Record) -> Record:
    return {
        k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v for k, v in record.items()
    }


FILE_SOURCE = register_source(
    ConnectorSpec(
        type="file",
        role="source",
        schema=_SOURCE_SCHEMA,
        factory=FileSource,
        description="CSV, JSON array or NDJSON file, streamed",
        check=_check_source,
    )
)
FILE_TARGET = register_target(
    ConnectorSpec(
        type="file",
        role="target",
        schema=_TARGET_SCHEMA,
        factory=FileTarget,
        description="CSV, JSON array or NDJSON file (overwrite atomically, or append)",
        check=_check_target,
    )
)
