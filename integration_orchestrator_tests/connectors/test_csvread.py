"""CSV rows as records or bad rows; decode errors name the file and the line."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.connectors import BadRecord, ConnectorError, open_source, read_batches
from integration_orchestrator.connectors.csvread import csv_items, decoded_lines


def no_secrets(name: str) -> str:
    raise KeyError(name)


def lines_of(data: bytes, encoding: str = "utf-8") -> list[str]:
    return list(decoded_lines(io.BytesIO(data), encoding, "f.csv", "file source `f.csv`"))


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"a,b\n1,2\n", "utf-8"),
        (b"a,b\r\n1,2\r\n", "utf-8"),
        (b"a,b\r1,2\r3,4", "utf-8"),  # old Mac line ends
        (b'a,b\n"x\ny",2\n', "utf-8"),  # a newline inside a quoted field
        ("a,b\ncafé,thé\n".encode("latin-1"), "latin-1"),
        ("a,b\ncafé,2\n".encode("utf-8-sig"), "utf-8-sig"),
        ("a,b\ncafé,2\r\n3,4".encode("utf-16"), "utf-16"),
        (b"a,b\n1,2", "utf-8"),  # no final newline
    ],
)
def test_lines_split_as_a_newline_empty_text_stream_does(data: bytes, encoding: str) -> None:
    expected = list(io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline=""))
    assert lines_of(data, encoding) == expected


@pytest.mark.parametrize(
    ("data", "encoding", "message"),
    [
        (b"a,b\n1,2\n3,\xff\n", "utf-8", "line 3 of `f.csv` is not valid utf-8: invalid start byte (byte 0xff)"),
        (b"a,b\n1,\xe9\n", "ascii", "line 2 of `f.csv` is not valid ascii"),
        (b"a,b\n1,2\xc3", "utf-8", "line 2 of `f.csv` is not valid utf-8: unexpected end of data"),
    ],
)
def test_a_decode_error_names_the_file_and_the_line(data: bytes, encoding: str, message: str) -> None:
    with pytest.raises(ConnectorError, match="^file source `f.csv`: " + re.escape(message)):
        lines_of(data, encoding)


def test_a_decode_error_in_a_file_source_names_it_in_both_reads(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"id,name\n1,ok\n2,caf\xe9\n")
    source = open_source({"type": "file", "path": str(path)}, no_secrets)
    for read in (lambda: list(source.read()), lambda: list(read_batches(source))):
        with pytest.raises(ConnectorError, match=f"line 3 of `{path}` is not valid utf-8"):
            read()


def test_rows_with_too_many_fields_are_bad_and_short_rows_read_none() -> None:
    lines = iter(["a,b\n", "1,2\n", "3,4,5,6\n", "7\n", "\n", "8,\n"])
    items = list(csv_items(lines, delimiter=",", empty_as_null=True, file="f.csv"))
    assert items == [
        {"a": "1", "b": "2"},
        BadRecord("f.csv", 3, "line 3 has more fields than the header", "3,4,5,6"),
        {"a": "7", "b": None},
        {"a": "8", "b": None},
    ]


def csv_chunks(path: Path, text: str, **config: Any) -> list[Any]:
    path.write_text(text)
    return list(read_batches(open_source({"type": "file", "path": str(path), **config}, no_secrets)))


def test_csv_batches_report_bad_rows_with_their_line_and_keep_strings(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    chunks = csv_chunks(path, 'id,amount,note\n1,2.50,""\n2,3,"multi\nline"\n3,4,5,6\n4,007,x\n', batch_size=2)
    records = [r for c in chunks for r in batch_to_records(c.batch)]
    assert records == [
        {"id": "1", "amount": "2.50", "note": None},
        {"id": "2", "amount": "3", "note": "multi\nline"},
        {"id": "4", "amount": "007", "note": "x"},
    ]
    bad = [b for c in chunks for b in c.bad]
    assert [(b.file, b.line, b.message) for b in bad] == [(str(path), 5, "line 5 has more fields than the header")]
    source = open_source({"type": "file", "path": str(path)}, no_secrets)
    with pytest.raises(ConnectorError, match="line 5 has more fields than the header"):
        list(source.read())  # read() keeps today's behaviour


def test_csv_batches_equal_the_records_read_gives(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    text = "a;b;c\n" + "".join(f"{i};{'' if i % 3 else 'v'};é{i}\n" for i in range(50))
    for empty_as_null in (True, False):
        chunks = csv_chunks(path, text, delimiter=";", batch_size=7, empty_as_null=empty_as_null)
        source = open_source(
            {"type": "file", "path": str(path), "delimiter": ";", "empty_as_null": empty_as_null}, no_secrets
        )
        assert [r for c in chunks for r in batch_to_records(c.batch)] == [r for b in source.read() for r in b]
        assert [c.batch.num_rows for c in chunks] == [7] * 7 + [1]


def test_json_array_elements_that_are_not_objects_are_bad(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('[{"a": 1}, 2, {"a": 3}, [4]]')
    chunks = list(read_batches(open_source({"type": "file", "path": str(path)}, no_secrets)))
    assert batch_to_records(chunks[0].batch) == [{"a": 1}, {"a": 3}]
    assert [(b.line, b.message, b.raw) for b in chunks[0].bad] == [
        (2, "element 1 of the array is not an object", "2"),
        (4, "element 3 of the array is not an object", "[4]"),
    ]
    with pytest.raises(ConnectorError, match="element 1 of the array is not an object"):
        list(open_source({"type": "file", "path": str(path)}, no_secrets).read())
