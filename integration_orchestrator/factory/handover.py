"""How an op's records cross a process boundary (the I/O manager pickles each ``Batch``).

Pickling a million records the standard way memoizes every dict and string it writes
(5.6 s to dump 1M nested source records on the development machine), and unpickling them
with full collections running walks the growing heap again and again (7.0 s). A
``Batch`` instead pickles its records as one bytes payload: ``marshal`` when they hold
only JSON types, as sources and most steps produce them (0.4 s to dump the same records,
1.7 s to load), else plain pickle (``Decimal``, dates, ... after mappings: 2.0 s / 1.9 s
for 900k flat records; pickle without its memo was no faster and wrote 2.6× the bytes).
Either is loaded with full collections paused. Any pickling I/O manager (filesystem, S3,
GCS) carries the payload unchanged; marshal's format is the interpreter's own, and the
processes of one run share an interpreter.
"""

from __future__ import annotations

import marshal
import pickle
from typing import Any

from integration_orchestrator.factory.gcpause import young_collections_only

__all__ = ["pack_records", "unpack_records"]

Payload = tuple[str, bytes]


def pack_records(records: list[Any]) -> Payload:
    """``records`` as ``(format, bytes)``."""
    try:
        return "marshal", marshal.dumps(records)
    except ValueError:  # a value marshal does not know (Decimal, date, ...)
        return "pickle", pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)


def unpack_records(payload: Payload) -> list[Any]:
    """The records of :func:`pack_records`' payload."""
    kind, data = payload
    with young_collections_only():
        if kind == "marshal":
            unmarshalled: list[Any] = marshal.loads(data)  # noqa: S302 - our own I/O manager output
            return unmarshalled
        if kind == "pickle":
            unpickled: list[Any] = pickle.loads(data)  # noqa: S301 - our own I/O manager output
            return unpickled
    raise ValueError(f"unknown record payload format {kind!r}")
