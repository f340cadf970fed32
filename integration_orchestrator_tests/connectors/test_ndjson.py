"""NDJSON → batches: the pyarrow fast path against the orjson exact path, bad lines, laziness."""

from __future__ import annotations

import io
import json
import os
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.connectors import ndjson, open_source, read_batches
from integration_orchestrator.connectors.chunks import SourceChunk
from integration_orchestrator.connectors.ndjson import exact_records, fast_batch, merge_schema


def no_secrets(name: str) -> str:
    raise KeyError(name)


def strip_nulls(value: Any) -> Any:
    """A batch is a table: a key with a null value equals an absent key (at any depth)."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def canonical(records: list[dict[str, Any]]) -> bytes:
    """Type-strict (``1`` differs from ``1.0``), key-order-free form of records."""
    return orjson.dumps(strip_nulls(records), option=orjson.OPT_SORT_KEYS)


def chunk_records(chunks: list[SourceChunk]) -> list[dict[str, Any]]:
    return [r for c in chunks for r in batch_to_records(c.batch)]


# -- the generated corpus -------------------------------------------------------------------

TEXTS = ["plain", "é accent", "😀 emoji", "tab\there", 'quote " and \\ slash', "\u0000 nul", ""]


def tricky_record(rng: random.Random, i: int, switch_at: int, rate: float) -> dict[str, Any]:
    """A record whose fields mostly keep their types, with tricky values at ``rate`` each."""
    record: dict[str, Any] = {
        "id": i,
        "amount": rng.choice([rng.uniform(-1e6, 1e6), rng.random(), 1e-7, 123.456]),
        "name": rng.choice(TEXTS),
        "flag": rng.choice([True, False]),
        "customer": {"first": rng.choice(TEXTS), "address": {"city": "Paris", "zip": str(rng.randint(1, 99999))}},
        "tags": [rng.choice(TEXTS) for _ in range(rng.randint(0, 3))],
        "kind": i if i < switch_at else f"k{i}",  # a type change mid-file
    }
    roll = int(rng.random() / rate)
    if roll == 0:
        record["amount"] = float(rng.randint(0, 9))  # an integral float: orjson reads it back as written
    elif roll == 1:
        record["amount"] = rng.randint(0, 9)  # an int in a float field
    elif roll == 2:
        record["id"] = rng.choice([2**63 - 1, -(2**63), 2**63, 2**64 + 5])  # big ints
    elif roll == 3:
        del record["customer"]["address"]  # a nested key missing
    elif roll == 4:
        record["customer"] = None
    elif roll == 5:
        record["customer"] = {}
    elif roll == 6:
        record["tags"] = []
    elif roll == 7:
        record["extra"] = {"new": [1, 2]}  # a field the schema has not seen
    elif roll == 8:
        record["name"] = None
    elif roll == 9:
        record["flag"] = "yes"  # mixed types in one column
    elif roll == 10:
        record["name"] = rng.choice(["NaN", "Infinity", "\ufeffBOM"])  # text that looks suspect
    return record


BAD_LINES = [b"not json", b"[1, 2]", b"{", b'{"a": 1} {"a": 2}', b'{"x": NaN}', b"42", b'"text"', b"\xff\xfe{}"]


def write_corpus(path: Path, n: int, seed: int, *, bad_every: int = 0, rate: float = 0.01) -> dict[int, bytes]:
    """``n`` lines of tricky records (some blank, some bad); returns the bad ones by line number."""
    rng = random.Random(seed)
    bad: dict[int, bytes] = {}
    with path.open("wb") as out:
        for number in range(1, n + 1):
            if bad_every and rng.random() < 1 / bad_every:
                line = rng.choice(BAD_LINES)
                bad[number] = line
            elif rng.random() < rate / 2:
                line = rng.choice([b"", b"   ", b"\t"])  # blank: skipped
            else:
                record = tricky_record(rng, number, n // 2, rate)
                if rng.random() < 0.5 or abs(record["id"]) >= 2**63:
                    line = json.dumps(record, ensure_ascii=rng.random() < 0.5).encode()  # \u escapes
                else:
                    line = orjson.dumps(record)
            out.write(line + (b"\r\n" if rng.random() < 0.01 else b"\n"))
    return bad


def read_chunks(path: Path, batch_size: int, **config: Any) -> list[SourceChunk]:
    source = open_source({"type": "file", "path": str(path), "batch_size": batch_size, **config}, no_secrets)
    return list(read_batches(source))


@pytest.fixture
def fast_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each fast-path attempt was accepted."""
    calls: list[bool] = []
    original = ndjson.fast_batch

    def spy(lines: Any, schema: pa.Schema) -> pa.RecordBatch | None:
        batch = original(lines, schema)
        calls.append(batch is not None)
        return batch

    monkeypatch.setattr(ndjson, "fast_batch", spy)
    return calls


def expected_records(path: Path) -> list[dict[str, Any]]:
    """What today's per-line reading gives for the good lines."""
    records = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return records


@pytest.mark.parametrize(("seed", "batch_size"), [(1, 50), (2, 200), (3, 7), (4, 1000)])
def test_fast_path_reads_exactly_what_the_exact_path_reads(
    tmp_path: Path, fast_calls: list[bool], seed: int, batch_size: int
) -> None:
    path = tmp_path / "corpus.ndjson"
    write_corpus(path, max(4000, 12 * batch_size), seed, bad_every=30 * batch_size, rate=0.05 / batch_size)
    chunks = read_chunks(path, batch_size)
    assert any(fast_calls) and not all(fast_calls)  # both paths ran
    assert canonical(chunk_records(chunks)) == canonical(expected_records(path))


def test_every_accepted_fast_chunk_equals_its_exact_batch(tmp_path: Path) -> None:
    """fast_batch directly, on many chunks under schemas from other chunks: None, or exact."""
    path = tmp_path / "corpus.ndjson"
    write_corpus(path, 6000, seed=7, bad_every=500, rate=0.002)
    lines = path.read_bytes().splitlines(keepends=True)
    rng = random.Random(7)
    accepted = 0
    schemas = [records_to_batch(exact_records(lines[i : i + 40], 1, "f")[0]).schema for i in range(0, 6000, 400)]
    for start in range(0, len(lines), 30):
        window = lines[start : start + rng.randint(1, 60)]
        records, _ = exact_records(window, start + 1, "f")
        for schema in rng.sample(schemas, 3):
            batch = fast_batch(window, schema)
            if batch is not None:
                accepted += 1
                assert canonical(batch_to_records(batch)) == canonical(records), (start, schema)
    assert accepted > 50


@pytest.mark.parametrize(
    ("line", "field_type"),
    [
        (b'{"a": 1}', pa.float64()),  # int in a float column
        (b'{"a": 2.0}', pa.float64()),  # integral float: rejected (orjson would agree, but cannot be told apart)
        (b'{"a": [1.0]}', pa.list_(pa.float64())),  # at depth
        (b'{"a": {"b": -0}}', pa.struct([("b", pa.float64())])),
        (b'{"a": NaN}', pa.float64()),
        (b'{"a": Infinity}', pa.float64()),
        (b'\xef\xbb\xbf{"a": 1}', pa.int64()),  # BOM
        (b'{"a": 1} {"a": 2}', pa.int64()),  # two objects on one line
        (b'{"a": "\xff"}', pa.string()),  # invalid UTF-8
        (b'{"a": 9223372036854775808}', pa.int64()),  # beyond int64
        (b'{"a": 1, "a": 2}', pa.int64()),  # duplicate key
        (b'{"a": 1, "b": 2}', pa.int64()),  # unknown field
        (b'{"a": {"x": 1, "y": 2}}', pa.struct([("x", pa.int64())])),  # unknown nested field
        (b'{"a": "1"}', pa.int64()),
        (b'{"a": 1}', pa.string()),
        (b'{"a": 1.5}', pa.int64()),
        (b"[1]", pa.int64()),
    ],
)
def test_fast_path_refuses_what_it_cannot_read_exactly(line: bytes, field_type: pa.DataType) -> None:
    schema = pa.schema([("a", field_type)])
    assert fast_batch([b'{"a": null}\n', line + b"\n"], schema) is None


def test_fast_path_refuses_blank_lines_and_json_text_columns() -> None:
    schema = pa.schema([("a", pa.int64())])
    assert fast_batch([b'{"a": 1}\n', b"  \n", b'{"a": 2}\n'], schema) is None
    assert fast_batch([b"\n", b'{"a": 2}\n'], schema) is None
    assert fast_batch([b'{"a": 1}\n', b'{"a": 2}\n'], schema) is not None
    json_text = pa.schema([pa.field("a", pa.string(), metadata={b"io.logical": b"json"})])
    assert fast_batch([b'{"a": "x"}\n'], json_text) is None


def test_merge_schema_widens_and_follows_type_changes() -> None:
    old = pa.schema([("a", pa.null()), ("s", pa.struct([("x", pa.int64())]))])
    seen = pa.schema([("a", pa.string()), ("s", pa.struct([("y", pa.string())]))])
    assert merge_schema(old, seen) == pa.schema(
        [("a", pa.string()), ("s", pa.struct([("x", pa.int64()), ("y", pa.string())]))]
    )
    changed = pa.schema([("a", pa.int64())])
    assert merge_schema(pa.schema([("a", pa.string())]), changed) == changed
    json_text = pa.schema([pa.field("a", pa.string(), metadata={b"io.logical": b"json"})])
    assert merge_schema(old, json_text) == old


def test_bad_lines_are_reported_with_file_and_line_and_good_lines_still_come(tmp_path: Path) -> None:
    path = tmp_path / "bad.ndjson"
    bad = write_corpus(path, 3000, seed=11, bad_every=100)
    chunks = read_chunks(path, 100)
    reported = [b for c in chunks for b in c.bad]
    assert [b.line for b in reported] == sorted(bad)
    assert {b.file for b in reported} == {str(path)}
    for entry in reported:
        assert entry.message.startswith(f"line {entry.line} is not ")
        assert entry.raw == bad[entry.line].decode("utf-8", "replace")
    assert canonical(chunk_records(chunks)) == canonical(expected_records(path))


def test_bad_line_message_is_the_one_read_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_bytes(b'{"a": 1}\n\n[1]\n{"a": 2}\nnope\n')
    chunks = read_chunks(path, 10)
    assert (chunks[0].bad[0].line, chunks[0].bad[0].message) == (3, "line 3 is not a JSON object")
    assert chunks[0].bad[1].line == 5 and chunks[0].bad[1].message.startswith("line 5 is not valid JSON: ")
    assert batch_to_records(chunks[0].batch) == [{"a": 1}, {"a": 2}]
    source = open_source({"type": "file", "path": str(path)}, no_secrets)
    with pytest.raises(Exception, match="line 3 is not a JSON object") as raised:
        list(source.read())
    assert str(chunks[0].bad[0].error(source.name)) == str(raised.value)  # type: ignore[attr-defined]


def test_raw_text_of_a_huge_bad_line_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "x.ndjson"
    path.write_bytes(b"x" * 100_000 + b"\n")
    (entry,) = read_chunks(path, 10)[0].bad
    assert len(entry.raw) < 5000 and entry.raw.startswith("xxx") and "more characters" in entry.raw


def test_other_encodings_take_the_exact_path(tmp_path: Path, fast_calls: list[bool]) -> None:
    path = tmp_path / "latin.ndjson"
    path.write_bytes('{"name": "café"}\nbad\n{"name": "thé"}\n'.encode("latin-1"))
    chunks = read_chunks(path, 10, encoding="latin-1")
    assert batch_to_records(chunks[0].batch) == [{"name": "café"}, {"name": "thé"}]
    assert [b.line for b in chunks[0].bad] == [2]
    assert fast_calls == []


def feed(fifo: Path, first: bytes, rest: bytes, gate: threading.Event) -> None:
    with fifo.open("wb") as out:
        out.write(first)
        out.flush()
        gate.wait(10)
        out.write(rest)


def test_reading_is_lazy_one_chunk_at_a_time(tmp_path: Path) -> None:
    """The first chunk comes while the rest of the file is not even written yet (a FIFO)."""
    fifo = tmp_path / "stream.ndjson"
    os.mkfifo(fifo)
    line = b'{"a": 1, "b": "x"}\n'
    gate = threading.Event()
    writer = threading.Thread(target=feed, args=(fifo, line * 1000, line * 5000, gate))
    writer.start()
    try:
        chunks: Iterator[SourceChunk] = read_batches(open_source({"type": "file", "path": str(fifo)}, no_secrets))
        first = next(chunks)  # would block forever if the reader wanted more than one chunk
        assert first.batch.num_rows == 1000
        gate.set()
        assert sum(c.batch.num_rows for c in chunks) == 5000
    finally:
        gate.set()
        writer.join(10)


@pytest.mark.parametrize(
    ("data", "size", "groups"),
    [
        (b"a\nb\nc\n", 2, [[b"a", b"b"], [b"c"]]),
        (b"a\nb\nc", 2, [[b"a", b"b"], [b"c"]]),
        (b"a\nb\n", 2, [[b"a", b"b"]]),
        (b"a\n\nb\n\n", 2, [[b"a", b""], [b"b", b""]]),
        (b"a\r\nb\r\n", 5, [[b"a\r", b"b\r"]]),
        (b"", 3, []),
        (b"\n", 3, [[b""]]),
    ],
)
def test_line_groups_cut_at_newlines_like_readline(data: bytes, size: int, groups: list[list[bytes]],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from integration_orchestrator.connectors import ndjson

    monkeypatch.setattr(ndjson, "_READ_SIZE", 3)  # blocks smaller than a group
    got = list(ndjson._line_groups(io.BytesIO(data), size))
    assert [g.lines for g in got] == groups
    assert [len(g) for g in got] == [len(g) for g in groups]
    path = tmp_path / "lines.ndjson"  # a regular file: memory-mapped
    path.write_bytes(data)
    with path.open("rb") as stream:
        mapped = list(ndjson._line_groups(stream, size))
    assert [g.lines for g in mapped] == groups
