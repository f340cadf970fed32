"""file source/target (csv, json, ndjson) and the inline source, on real files."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from integration_orchestrator.connectors import ConnectorError, open_source, open_target
from integration_orchestrator.connectors.jsonstream import iter_json_array

RECORDS = [{"id": i, "name": f"n{i}", "tags": {"even": i % 2 == 0}} for i in range(1, 8)]


def no_secrets(name: str) -> str:
    raise KeyError(name)


def read_all(config: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return list(open_source(config, no_secrets).read())


@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_round_trip_in_batches(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out.{fmt}"
    result = open_target({"type": "file", "path": str(path)}, no_secrets).write(RECORDS)
    assert result.rows_written == 7
    batches = read_all({"type": "file", "path": str(path), "batch_size": 3})
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [r for b in batches for r in b] == RECORDS


def test_csv_round_trip_nested_as_json_and_empty_as_null(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    records: list[dict[str, Any]] = [{"id": 1, "name": "a", "tags": {"x": 1}}, {"id": 2, "name": None, "tags": [1, 2]}]
    open_target({"type": "file", "path": str(path)}, no_secrets).write(records)
    assert path.read_text().splitlines()[0] == "id,name,tags"
    rows = [r for b in read_all({"type": "file", "path": str(path)}) for r in b]
    assert rows == [{"id": "1", "name": "a", "tags": '{"x":1}'}, {"id": "2", "name": None, "tags": "[1,2]"}]
    kept = [r for b in read_all({"type": "file", "path": str(path), "empty_as_null": False}) for r in b]
    assert kept[1]["name"] == ""


def test_csv_delimiter_and_explicit_format(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("a;b\n1;2\n3;4\n")
    rows = read_all({"type": "file", "path": str(path), "format": "csv", "delimiter": ";"})
    assert rows == [[{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]]


def test_csv_target_rejects_a_field_outside_the_columns(tmp_path: Path) -> None:
    target = open_target({"type": "file", "path": str(tmp_path / "o.csv"), "columns": ["id"]}, no_secrets)
    with pytest.raises(ConnectorError, match="columns"):
        target.write([{"id": 1, "extra": 2}])
    assert not (tmp_path / "o.csv").exists()  # the failed overwrite left nothing behind


def test_overwrite_is_atomic_and_append_adds(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    open_target({"type": "file", "path": str(path)}, no_secrets).write(RECORDS[:2])

    def broken() -> Any:
        yield RECORDS[2]
        raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError):
        open_target({"type": "file", "path": str(path)}, no_secrets).write(broken())
    assert [json.loads(x) for x in path.read_text().splitlines()] == RECORDS[:2]
    open_target({"type": "file", "path": str(path), "mode": "append"}, no_secrets).write([RECORDS[2:4]])
    assert [json.loads(x) for x in path.read_text().splitlines()] == RECORDS[:4]
    assert [p.name for p in tmp_path.iterdir()] == ["out.ndjson"]


def test_csv_append_writes_the_header_once(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    for chunk in (RECORDS[:2], RECORDS[2:3]):
        open_target({"type": "file", "path": str(path), "mode": "append", "columns": ["id", "name"]}, no_secrets).write(
            [{"id": r["id"], "name": r["name"]} for r in chunk]
        )
    assert path.read_text().splitlines() == ["id,name", "1,n1", "2,n2", "3,n3"]


@pytest.mark.parametrize(
    ("fmt", "content", "message"),
    [
        ("ndjson", '{"a": 1}\nnot json\n', "line 2 is not valid JSON"),
        ("ndjson", '{"a": 1}\n[1]\n', "line 2 is not a JSON object"),
        ("json", '{"a": 1}', "not hold a JSON array"),
        ("json", '[{"a": 1}, 2]', "element 1 of the array is not an object"),
        ("json", '[{"a": 1} {"b": 2}]', "expected `,` or `]`"),
        ("json", '[{"a": 1}, {"b": ', "invalid JSON"),
        ("json", "[" + "[" * 100_000 + "]" * 100_000 + "]", "recursion depth"),
        ("ndjson", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "line 1 is not valid JSON: .*depth"),
        ("csv", "a,b\n1,2,3\n", "more fields than the header"),
    ],
)
def test_bad_files_fail_with_the_place(tmp_path: Path, fmt: str, content: str, message: str) -> None:
    path = tmp_path / f"bad.{fmt}"
    path.write_text(content)
    with pytest.raises(ConnectorError, match=message):
        read_all({"type": "file", "path": str(path)})


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"missing.csv"):
        read_all({"type": "file", "path": str(tmp_path / "missing.csv")})


def test_json_array_stream_across_chunk_boundaries() -> None:
    # values longer than the 64 KiB read chunk, and numbers cut at chunk boundaries
    items: list[Any] = [{"big": "x" * 70_000}, 123456789, {"n": 1.5e10}, [], "s", *range(20_000)]
    text = " \n " + json.dumps(items, indent=1) + "\n"
    assert list(iter_json_array(io.StringIO(text))) == items
    assert list(iter_json_array(io.StringIO("  [ ] "))) == []


def test_inline_source_batches() -> None:
    batches = list(open_source({"type": "inline", "records": RECORDS, "batch_size": 5}, no_secrets).read())
    assert batches == [RECORDS[:5], RECORDS[5:]]


NDJSON_LINES = ['{"id": 1}', "", '{"id": 2}', "   ", '{"id": 3}', '{"id": 4}', '{"id": "ü"}']


@pytest.mark.parametrize(
    ("encoding", "batch_size", "bad_line", "message"),
    [
        ("utf-8", 2, None, None),  # blank lines are skipped in a batch parsed line by line
        ("utf-8", 100, None, None),
        ("latin-1", 3, None, None),  # any other encoding reads text
        ("utf-8", 2, 6, "line 6 is not valid JSON"),  # the number counts lines of earlier batches
        ("utf-8", 4, 7, "line 7 is not a JSON object"),
        ("latin-1", 2, 6, "line 6 is not valid JSON"),
    ],
)
def test_ndjson_batches_blank_lines_and_line_numbers(
    tmp_path: Path, encoding: str, batch_size: int, bad_line: int | None, message: str | None
) -> None:
    lines = list(NDJSON_LINES)
    if bad_line is not None:
        lines[bad_line - 1] = "[1]" if "object" in (message or "") else "{oops"
    path = tmp_path / "in.ndjson"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    config = {"type": "file", "path": str(path), "batch_size": batch_size, "encoding": encoding}
    if message is not None:
        with pytest.raises(ConnectorError, match=message):
            read_all(config)
        return
    batches = read_all(config)
    assert [r for b in batches for r in b] == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}, {"id": "ü"}]
