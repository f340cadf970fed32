"""CSV rows as records (every value a string, as ``csv.DictReader`` gives them), or bad rows.

Decoding is done line by line, so an undecodable byte is reported with the file and the
line it is on (a text stream would fail somewhere in an 8 KiB block). That needs an
encoding in which the byte ``\\n`` only ever means a newline (UTF-8, Latin-1, the cp125x
pages, Shift_JIS, ...); for others (UTF-16/32) the file is decoded by a text stream and
a decode error names the line after the last one read.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator
from typing import IO

from integration_orchestrator.connectors.base import ConnectorError, Record
from integration_orchestrator.connectors.chunks import BadRecord, truncate_raw

__all__ = ["csv_items", "decoded_lines"]

_ASCII = bytes(range(128))
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _ascii_compatible(encoding: str) -> bool:
    try:
        return _ASCII.decode(encoding) == _ASCII.decode("ascii")
    except (UnicodeDecodeError, LookupError):
        return False


def _split(text: str) -> list[str]:
    """``text`` cut into lines as ``newline=""`` does (``\\r`` alone ends a line too)."""
    cr = text.find("\r")
    if cr < 0 or cr == len(text) - 1 or (cr == len(text) - 2 and text[-1] == "\n"):
        return [text]
    return _LINES.findall(text)


def decoded_lines(raw: IO[bytes], encoding: str, file: str, name: str) -> Iterator[str]:
    """The lines of ``raw`` as text; a decode error is a ``ConnectorError`` naming file and line."""
    if not _ascii_compatible(encoding):
        yield from _text_stream_lines(raw, encoding, file, name)
        return
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    number = 0
    for number, piece in enumerate(raw, start=1):
        try:
            text = decoder.decode(piece)
        except UnicodeDecodeError as exc:
            raise _decode_error(name, file, number, encoding, exc) from exc
        if text:
            yield from _split(text)
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _decode_error(name, file, max(number, 1), encoding, exc) from exc
    if tail:
        yield tail


def _text_stream_lines(raw: IO[bytes], encoding: str, file: str, name: str) -> Iterator[str]:
    stream = io.TextIOWrapper(raw, encoding=encoding, newline="")
    number = 0
    try:
        for number, line in enumerate(stream, start=1):  # noqa: B007 - number is used in the handler
            yield line
    except UnicodeDecodeError as exc:
        raise _decode_error(name, file, number + 1, encoding, exc, approximate=True) from exc
    finally:
        stream.detach()


def _decode_error(
    name: str, file: str, line: int, encoding: str, exc: UnicodeDecodeError, *, approximate: bool = False
) -> ConnectorError:
    where = f"at or after line {line}" if approximate else f"line {line}"
    return ConnectorError(
        name, f"{where} of `{file}` is not valid {encoding}: {exc.reason} (byte 0x{exc.object[exc.start]:02x})"
    )


def csv_items(
    lines: Iterator[str], *, delimiter: str, empty_as_null: bool, file: str
) -> Iterator[Record | BadRecord]:
    """Each row as a record, or a :class:`BadRecord` for a row with more fields than the header.

    A row with fewer fields reads its missing fields as None, as ``csv.DictReader`` does.
    """
    reader = csv.DictReader(lines, delimiter=delimiter)
    for record in reader:
        if None in record:
            yield _too_many_fields(record, reader.line_num, delimiter, file)
        elif empty_as_null:
            yield {k: (None if v == "" else v) for k, v in record.items()}
        else:
            yield dict(record)


def _too_many_fields(record: dict[str | None, object], line: int, delimiter: str, file: str) -> BadRecord:
    extra = record.get(None)
    values = [str(v) for k, v in record.items() if k is not None and v is not None]
    values += [str(v) for v in extra] if isinstance(extra, list) else []
    return BadRecord(file, line, f"line {line} has more fields than the header", truncate_raw(delimiter.join(values)))
