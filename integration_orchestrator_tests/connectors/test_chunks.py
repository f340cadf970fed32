"""SourceChunk / BadRecord helpers and the read() fallback for sources without read_batches()."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.connectors import BadRecord, ConnectorError, SourceChunk, raise_first_bad, read_batches
from integration_orchestrator.connectors.chunks import item_chunks, record_chunks, truncate_raw


class PluginSource:
    """A third-party source that only has ``read()``."""

    def __init__(self) -> None:
        self.pulled = 0

    def read(self) -> Iterator[list[dict[str, Any]]]:
        for page in ([{"a": 1}], [], [{"a": 2.5, "b": "x"}]):
            self.pulled += 1
            yield page


def test_a_read_only_source_is_wrapped_lazily() -> None:
    source = PluginSource()
    chunks = read_batches(source)
    assert source.pulled == 0
    first = next(chunks)
    assert batch_to_records(first.batch) == [{"a": 1}] and first.bad == []
    assert [batch_to_records(c.batch) for c in chunks] == [[{"a": 2.5, "b": "x"}]]  # the empty page is skipped


def test_item_chunks_count_bad_entries_as_lines() -> None:
    bad = BadRecord("f", 2, "line 2 is not valid JSON", "x")
    chunks = list(item_chunks([{"a": 1}, bad, {"a": 3}], 2))
    assert [(batch_to_records(c.batch), c.bad) for c in chunks] == [([{"a": 1}], [bad]), ([{"a": 3}], [])]
    assert [batch_to_records(c.batch) for c in record_chunks([[{"a": 1}], []])] == [[{"a": 1}]]


def test_raise_first_bad_fails_like_read() -> None:
    ok = SourceChunk(next(record_chunks([[{"a": 1}]])).batch)
    bad = SourceChunk(ok.batch, [BadRecord("f", 7, "line 7 is not a JSON object", "[]")])
    batches = raise_first_bad([ok, bad], "file source `f`")
    assert next(batches).num_rows == 1
    with pytest.raises(ConnectorError, match=r"^file source `f`: line 7 is not a JSON object$"):
        next(batches)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"abc\r\n", "abc"),
        (b"caf\xe9", "caf\ufffd"),
        ("x" * 4100, "x" * 4096 + "… (4 more characters)"),
    ],
)
def test_truncate_raw(raw: str | bytes, expected: str) -> None:
    assert truncate_raw(raw) == expected
