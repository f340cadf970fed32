"""Length-prefixed frames of exact JSON over pipes.

A frame is orjson text in which ``Decimal``, ``date`` and ``datetime`` values are the
tagged objects of :mod:`integration_orchestrator.columnar.exactjson`, so tenant code in
a worker sees (and may return) the same ``Decimal`` with its scale, the same date and the
same aware datetime that the op holds: nothing turns into a float on the way.

Encoding takes orjson's fast path (its ``default`` hook tags the exact values) and only
falls back to walking the value with :func:`~integration_orchestrator.columnar.exactjson.tag`
when a real object carries the ``"$io"`` key and has to be escaped; decoding untags only
frames that contain a tag.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import select
import struct
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from integration_orchestrator.columnar import exactjson

__all__ = ["FrameError", "decode", "encode", "read_frame", "read_frame_blocking", "write_frame", "write_frame_blocking"]

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
_TAG = exactjson.TAG
_TAG_KEY = orjson.dumps(exactjson.TAG) + b":"
_TAG_TEXT = orjson.dumps(exactjson.TAG)


class FrameError(EOFError):
    """The other end closed the pipe or sent garbage."""


class _Tagger:
    """orjson's ``default`` hook: tags the exact values and counts the tags it wrote."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, value: Any) -> Any:
        kind = type(value)
        if kind is decimal.Decimal:
            self.count += 1
            return {_TAG: "decimal", "v": str(value)}
        if kind is _dt.datetime:
            self.count += 1
            return {_TAG: "datetime", "v": value.isoformat()}
        if kind is _dt.date:
            self.count += 1
            return {_TAG: "date", "v": value.isoformat()}
        if isinstance(value, (decimal.Decimal, _dt.date)):  # subclasses
            self.count += 1
            return exactjson.tag(value)
        if isinstance(value, _dt.time):
            return value.isoformat()
        if isinstance(value, (set, frozenset)):
            return exactjson.tag(list(value))
        if isinstance(value, (bytes, bytearray)):
            return value.decode("utf-8", "replace")
        if isinstance(value, _dt.timedelta):
            return value.total_seconds()
        if isinstance(value, uuid.UUID):
            return str(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(value: Any) -> bytes:
    """``value`` as exact JSON (``TypeError`` for what JSON cannot hold)."""
    tagger = _Tagger()
    data = orjson.dumps(value, default=tagger, option=_OPTIONS)
    if data.count(_TAG_KEY) != tagger.count:  # a real object has the tag key: escape it
        data = orjson.dumps(exactjson.tag(value), default=_Tagger(), option=_OPTIONS)
    return data


def decode(data: bytes) -> Any:
    """The value :func:`encode` wrote, with its ``Decimal``, dates and datetimes."""
    value = orjson.loads(data)
    return _untag(value) if _TAG_TEXT in data else value


_UNTAG: dict[str, Callable[[str], Any]] = {
    "decimal": decimal.Decimal,
    "datetime": _dt.datetime.fromisoformat,
    "date": _dt.date.fromisoformat,
}


def _untag(value: Any) -> Any:
    """:func:`exactjson.untag`, in place on orjson's fresh containers, calling itself only
    for containers (7x faster on records of scalars, which is most of a frame)."""
    kind = type(value)
    if kind is dict:
        tag = value.get(_TAG)
        if type(tag) is str and len(value) == 2 and "v" in value:
            if tag == "object":
                return _untag_items(value["v"])
            if tag in _UNTAG:
                return _UNTAG[tag](value["v"])
        return _untag_items(value)
    if kind is list:
        for i, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[i] = _untag(item)
    return value


def _untag_items(value: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if type(item) is dict or type(item) is list:
            value[key] = _untag(item)
    return value


def write_frame_blocking(fd: int, payload: bytes) -> None:
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def read_frame_blocking(fd: int) -> bytes:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, None))
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is too large")
    return _read_exact(fd, size, None)


def _wait(fd: int, deadline: float | None, write: bool) -> None:
    if deadline is None:
        return
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    ready = select.select([], [fd], [], remaining) if write else select.select([fd], [], [], remaining)
    if not ready[1 if write else 0]:
        raise TimeoutError


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while size:
        _wait(fd, deadline, write=False)
        data = os.read(fd, min(size, 1 << 20))
        if not data:
            raise FrameError("pipe closed")
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes, deadline: float) -> None:
    """Write a frame to a non-blocking ``fd``; ``TimeoutError`` past ``deadline``."""
    view = memoryview(_HEADER.pack(len(payload)) + payload)
    while view:
        _wait(fd, deadline, write=True)
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            continue
        except BrokenPipeError as exc:
            raise FrameError("pipe closed") from exc


def read_frame(fd: int, deadline: float) -> bytes:
    """Read a frame; ``TimeoutError`` past ``deadline``, ``FrameError`` when the pipe closes."""
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if size > MAX_FRAME:
        raise FrameError(f"frame of {size} bytes is too large")
    return _read_exact(fd, size, deadline)
