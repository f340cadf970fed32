"""The load ledger of a ``file`` target: ``<file>.loads.ndjson``, beside the data file.

A file has no transaction, so the data file and its ledger change together by a
write-ahead protocol (under an exclusive ``flock`` on the ledger):

1. the new data file is written to a temporary file beside the destination (``append``
   copies the old file first, streamed), fsynced, and its SHA-256 computed;
2. a ``pending`` entry (the run, its counts, state, letters, and that checksum) is
   appended to the ledger and fsynced;
3. the temporary file is renamed over the data file (atomic), the directory fsynced;
4. a ``committed`` entry is appended and fsynced.

A crash leaves at most one trailing ``pending`` entry. The next access (a write, or
``recorded_loads`` / ``latest_state`` / ``loaded_letters``) settles it first: when the
data file's checksum is the pending one, the rename happened and the entry is rolled
forward (``committed``); otherwise the load never became visible and the entry is
``discarded`` (its temporary file removed). So the ledger holds a committed entry iff
the data file holds the load: a rerun of a recorded run (or of its data's origin run)
writes nothing. A torn last line (a kill mid-append) is cut off before appending.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from integration_orchestrator.connectors.base import WriteResult
from integration_orchestrator.connectors.postgres_ledger import LoadContext

__all__ = ["LEDGER_SUFFIX", "Entry", "FileLedger", "file_checksum", "fsync_directory", "latest_state",
           "loaded_letters"]

LEDGER_SUFFIX = ".loads.ndjson"
_CHUNK = 1 << 20


def file_checksum(path: Path) -> str | None:
    """SHA-256 of the file, streamed; None when it does not exist."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Entry:
    """One ledger line as read back."""

    fields: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.fields.get("status"))

    @property
    def result(self) -> WriteResult:
        return WriteResult(rows_written=int(self.fields["rows_written"]), inserted=self.fields.get("rows_inserted"),
                           updated=self.fields.get("rows_updated"), unchanged=None)


class FileLedger:
    """The ledger of the data file ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.data = path
        self.path = path.with_name(path.name + LEDGER_SUFFIX)

    @contextmanager
    def locked(self) -> Iterator[IO[bytes]]:
        """The ledger open for append, exclusively locked, pending entries settled."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as stream:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX)
            try:
                self._settle(stream)
                yield stream
            finally:
                fcntl.flock(stream.fileno(), fcntl.LOCK_UN)

    def committed(self) -> list[Entry]:
        """Every committed load, oldest first (settles a pending one first)."""
        if not self.path.exists():
            return []
        with self.locked() as stream:
            return [e for e in self.entries(stream) if e.status == "committed"]

    def recorded(self, stream: IO[bytes], load: LoadContext) -> WriteResult | None:
        """The committed result of this run, or of the data's origin run (a re-execution), or None."""
        keys = {load.run_id, load.data_key}
        for entry in self.entries(stream):
            if entry.status != "committed":
                continue
            if entry.fields.get("run_id") in keys or entry.fields.get("origin_run_id") == load.data_key:
                return entry.result
        return None

    def begin(
        self, stream: IO[bytes], load: LoadContext, result: WriteResult, checksum: str, temp: Path
    ) -> dict[str, Any]:
        """Write-ahead: the pending entry, durable before the data rename."""
        fields = {
            "status": "pending", "run_id": load.run_id, "origin_run_id": load.data_key, "config_id": load.config_id,
            "pipeline_id": load.pipeline_id, "job_name": load.job_name, "kind": load.kind,
            "rows_written": result.rows_written, "rows_inserted": result.inserted, "rows_updated": result.updated,
            "state": load.state, "dead_letter_ids": list(load.letter_ids) or None,
            "loaded_at": dt.datetime.now(dt.UTC).isoformat(), "checksum": checksum, "temp": temp.name,
        }
        self._append(stream, fields)
        return fields

    def commit(self, stream: IO[bytes], pending: dict[str, Any]) -> None:
        self._append(stream, {**pending, "status": "committed"})

    def _settle(self, stream: IO[bytes]) -> None:
        """Roll a trailing pending entry forward (the data file has its checksum) or discard it."""
        entries = self.entries(stream)
        if not entries or entries[-1].status != "pending":
            return
        pending = entries[-1].fields
        if file_checksum(self.data) == pending["checksum"]:
            self._append(stream, {**pending, "status": "committed", "settled": "rolled forward"})
        else:
            (self.data.parent / str(pending["temp"])).unlink(missing_ok=True)
            self._append(stream, {**pending, "status": "discarded"})

    def entries(self, stream: IO[bytes]) -> list[Entry]:
        """Every entry of the (locked) ledger, in order."""
        stream.seek(0)
        content = stream.read()
        complete = content[: content.rfind(b"\n") + 1]
        if len(complete) != len(content):  # a torn last line: a kill mid-append; cut it off
            stream.truncate(len(complete))
        return [Entry(orjson.loads(line)) for line in complete.splitlines() if line.strip()]

    def _append(self, stream: IO[bytes], fields: dict[str, Any]) -> None:
        stream.seek(0, os.SEEK_END)
        stream.write(orjson.dumps(fields, default=str) + b"\n")
        stream.flush()
        os.fsync(stream.fileno())


def latest_state(entries: Iterable[Entry], config_id: str) -> Any:
    """The newest committed state of ``config_id`` (a ``reset`` entry: None, start over)."""
    state: Any = None
    for entry in entries:
        if entry.fields.get("config_id") == config_id and (
            entry.fields.get("state") is not None or entry.fields.get("kind") == "reset"
        ):
            state = entry.fields.get("state")
    return state


def loaded_letters(entries: Iterable[Entry], letter_ids: Iterable[str]) -> set[str]:
    """Which of ``letter_ids`` a committed replay already wrote to this file."""
    wanted = {str(i) for i in letter_ids}
    seen = {str(i) for e in entries for i in (e.fields.get("dead_letter_ids") or ())}
    return wanted & seen
