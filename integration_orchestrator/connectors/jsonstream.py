"""Reading a top-level JSON array element by element, without loading the file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = ["iter_json_array"]

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_CHUNK = 1 << 16


class TextReader(Protocol):
    """What is read from: any text stream (``read(size)`` returns ``""`` at the end)."""

    def read(self, size: int, /) -> str: ...


class _Buffer:
    def __init__(self, stream: TextReader) -> None:
        self.stream = stream
        self.text = ""
        self.pos = 0
        self.eof = False
        self.fill()

    def fill(self) -> None:
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
        self.text = self.text[self.pos :] + chunk
        self.pos = 0

    def skip_whitespace(self) -> str:
        """The next non-blank character ('' at the end of the stream)."""
        while True:
            match = _WHITESPACE.match(self.text, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self.fill()


def iter_json_array(stream: TextReader) -> Iterator[Any]:
    """Each element of the JSON array in ``stream``; ``ValueError`` if it is not one."""
    decoder = json.JSONDecoder()
    buf = _Buffer(stream)
    if buf.skip_whitespace() != "[":
        raise ValueError("the file does not hold a JSON array (expected `[`)")
    buf.pos += 1
    if buf.skip_whitespace() == "]":
        return
    while True:
        buf.skip_whitespace()
        while True:
            try:
                value, end = decoder.raw_decode(buf.text, buf.pos)
            except json.JSONDecodeError as exc:
                if buf.eof:
                    raise ValueError(f"invalid JSON: {exc.msg}") from exc
                buf.fill()
                continue
            except RecursionError as exc:
                raise ValueError("invalid JSON: a value nests deeper than the recursion depth limit") from exc
            if end >= len(buf.text) and not buf.eof:
                buf.fill()  # a number cut at the chunk boundary: parse it again in full
                continue
            break
        yield value
        buf.pos = end
        separator = buf.skip_whitespace()
        if separator == ",":
            buf.pos += 1
        elif separator == "]":
            return
        else:
            raise ValueError("invalid JSON: expected `,` or `]` between array elements")
