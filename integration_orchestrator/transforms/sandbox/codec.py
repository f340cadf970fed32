"""Length-prefixed orjson frames over pipes."""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import select
import struct
import time
import uuid
from typing import Any

import orjson

__all__ = ["FrameError", "decode", "encode", "read_frame", "read_frame_blocking", "write_frame", "write_frame_blocking"]

_HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 30


class FrameError(EOFError):
    """The other end closed the pipe or sent garbage."""


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, (_dt.timedelta,)):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def decode(data: bytes) -> Any:
    return orjson.loads(data)


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
