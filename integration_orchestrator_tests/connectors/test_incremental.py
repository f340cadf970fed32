"""``source.incremental``: exact cursor comparison, the declarations each source type accepts,
and each source reading only what is new (real PostgreSQL, a real HTTP server, real files)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.connectors import (
    ConnectionConfigError,
    ConnectorError,
    ConnectorSpec,
    open_source,
    read_batches,
    register_target,
    validate_connection_config,
)
from integration_orchestrator.connectors.incremental import Incremental, Window, cursor_key, later, state_value
from integration_orchestrator_tests.connectors.test_http import FakeApi, Hit, Reply, api  # noqa: F401 - fixture
from integration_orchestrator_tests.connectors.test_postgres_ledger import other_url

NAME, FIELD = "a source", "at"


@pytest.mark.parametrize(
    ("a", "b", "after"),
    [
        (2, 1, True),
        (Decimal("1.10"), Decimal("1.1"), False),  # equal as numbers
        (0.1 + 0.2, Decimal("0.3"), True),  # 0.30000000000000004: exactly, never rounded
        ("10", "9", True),  # numeric text as numbers, not text
        ("2025-03-01T10:00:00Z", "2025-03-01T11:00:00+02:00", True),  # instants, not text
        ("2025-03-01T10:00:00.000001Z", "2025-03-01T10:00:00Z", True),
        ("2025-03-01", "2025-02-28T23:59:59Z", True),
        ("b", "a", True),
        ("a", "a", False),
    ],
)
def test_cursor_values_compare_exactly(a: Any, b: Any, after: bool) -> None:
    assert later(a, b, NAME, FIELD) is after


@pytest.mark.parametrize("value", [None, True, {"x": 1}, [1]])
def test_a_cursor_that_is_not_a_number_time_or_text_is_an_error_naming_the_field(value: Any) -> None:
    with pytest.raises(ConnectorError, match="cursor field `at`"):
        cursor_key(value, NAME, FIELD)


def test_cursor_values_of_different_kinds_do_not_compare() -> None:
    with pytest.raises(ConnectorError, match="cannot compare"):
        later("2025-01-01T00:00:00Z", 5, NAME, FIELD)


@pytest.mark.parametrize(
    ("value", "kept"),
    [(Decimal("12.50"), "12.50"),
     (dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC), "2025-01-02T03:04:05.000006+00:00"),
     (7, 7), ("x", "x"), (dt.date(2025, 1, 2), "2025-01-02")],
)
def test_the_state_keeps_values_exactly(value: Any, kept: Any) -> None:
    assert state_value(value) == kept


_TARGET = {"type": "postgres_table", "table": "t"}


@pytest.mark.parametrize(
    ("source", "path", "message"),
    [
        ({"type": "postgres", "query": "SELECT 1", "incremental": {"cursor_field": "u", "param": "since"}},
         "connection_config.source.incremental", "unknown option"),
        ({"type": "http", "url": "http://x", "incremental": {"cursor_field": "u"}},
         "connection_config.source.incremental", "does not match any allowed form"),
        ({"type": "http", "url": "http://x", "incremental": {"window": {"start_param": "s", "cron": "every day"}}},
         "connection_config.source.incremental.window.cron", "not a valid 5-field cron"),
        ({"type": "http", "url": "http://x",
          "incremental": {"window": {"start_param": "s", "timezone": "Mars/Base"}}},
         "connection_config.source.incremental.window.timezone", "IANA"),
        ({"type": "http", "url": "http://x", "incremental": {"window": {"start_param": "s", "start": "soon"}}},
         "connection_config.source.incremental.window.start", "ISO-8601"),
        ({"type": "file", "path": "a.csv", "incremental": {"cursor_field": "u"}},
         "connection_config.source.incremental", "'files' is required"),
        ({"type": "inline", "records": [], "incremental": {"files": True}},
         "connection_config.source", "unknown option"),
    ],
)
def test_bad_declarations_name_the_row_the_field_and_the_problem(source: dict[str, Any], path: str,
                                                                   message: str) -> None:
    with pytest.raises(ConnectionConfigError, match=message) as caught:
        validate_connection_config({"source": source, "target": _TARGET}, row_name="Events", row_id="c1")
    assert caught.value.path == path
    assert "Events" in str(caught.value)


def test_an_incremental_source_needs_a_target_that_keeps_a_ledger() -> None:
    class NoLedger:
        def __init__(self, config: Any, context: Any = None) -> None:
            pass

        def write(self, records: Any) -> Any:
            raise AssertionError

    register_target(ConnectorSpec("test_no_ledger", "target", {"type": "object"}, NoLedger))  # type: ignore[arg-type]
    source = {"type": "postgres", "query": "SELECT 1", "incremental": {"cursor_field": "u"}}
    with pytest.raises(ConnectionConfigError, match="keeps a load ledger") as caught:
        validate_connection_config({"source": source, "target": {"type": "test_no_ledger"}}, row_name="Events")
    assert caught.value.path == "connection_config.source.incremental"
    validate_connection_config({"source": source, "target": _TARGET}, row_name="Events")  # postgres_table keeps one


def _read(config: dict[str, Any], run: Incremental, **kwargs: Any) -> list[dict[str, Any]]:
    source = open_source(config, lambda name: name, incremental=run, **kwargs)
    return [r for chunk in read_batches(source) for r in batch_to_records(chunk.batch)]


def test_postgres_reads_past_the_state_in_cursor_order(db: psycopg.Connection[Any], database_url: str) -> None:
    db.execute("CREATE TABLE src (id integer, amount numeric(12, 2))")
    db.execute("INSERT INTO src VALUES (1, 10.10), (2, 10.20), (3, NULL), (4, 10.25)")
    config = {"type": "postgres", "url": other_url(database_url), "query": "SELECT * FROM src WHERE id < %(top)s",
              "params": {"top": 100}, "incremental": {"cursor_field": "amount"}, "batch_size": 2}
    first = Incremental()
    assert [r["id"] for r in _read(config, first)] == [3, 1, 2, 4]  # NULL first: the state is the last row's
    assert first.new_state == {"cursor": "10.25"} and first.fetched == {"rows": 4}
    again = Incremental(state=first.new_state)
    assert _read(config, again) == [] and again.new_state is None and again.fetched == {}
    db.execute("INSERT INTO src VALUES (5, 10.26), (6, 10.25)")
    more = Incremental(state=first.new_state)
    assert [r["id"] for r in _read(config, more)] == [5]
    assert more.new_state == {"cursor": "10.26"}
    initial = Incremental()
    assert [r["id"] for r in _read({**config, "incremental": {"cursor_field": "amount", "initial": "10.2"}},
                                   initial)] == [4, 6, 5]


def _events(hit: Hit) -> Reply:
    since = hit.query.get("since")
    events = [(f"2025-03-01T00:00:0{i}.000Z", i) for i in range(1, 6)]
    # since is inclusive, like Okta's
    return 200, {}, [{"id": i, "published": at} for at, i in events if since is None or at >= since]


def test_http_cursor_goes_into_the_params_and_what_was_loaded_is_dropped(api: FakeApi) -> None:  # noqa: F811
    api.routes["/logs"] = _events
    config = {"type": "http", "url": f"{api.base}/logs",
              "incremental": {"cursor_field": "published", "param": "since", "initial": "2025-03-01T00:00:02.000Z"}}
    first = Incremental()
    assert [r["id"] for r in _read(config, first)] == [2, 3, 4, 5]
    assert first.new_state == {"cursor": "2025-03-01T00:00:05.000Z"}
    second = Incremental(state=first.new_state)
    assert _read(config, second) == []  # the API repeats the last event (since is inclusive): dropped
    assert second.new_state is None and second.fetched == {"requests": 1}
    assert [h.query.get("since") for h in api.paths("/logs")] == ["2025-03-01T00:00:02.000Z",
                                                                  "2025-03-01T00:00:05.000Z"]


def test_http_window_goes_into_the_params(api: FakeApi) -> None:  # noqa: F811
    api.routes["/audit"] = lambda hit: (200, {}, [])
    window = Window(dt.datetime(2025, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
                    dt.datetime(2025, 3, 31, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    config = {"type": "http", "url": f"{api.base}/audit", "params": {"per_page": 100},
              "incremental": {"window": {"start_param": "since", "end_param": "until",
                                         "params": {"phrase": "created:{start}..{end}"}}}}
    _read(config, Incremental(window=window))
    assert api.paths("/audit")[0].query == {
        "per_page": "100", "since": "2025-03-29T23:00:00Z", "until": "2025-03-30T22:00:00Z",
        "phrase": "created:2025-03-29T23:00:00Z..2025-03-30T22:00:00Z"}
    with pytest.raises(ConnectorError, match="has no window"):
        _read(config, Incremental())


def test_file_source_skips_the_files_it_loaded(tmp_path: Path) -> None:
    for name, ids in (("a.ndjson", [1, 2]), ("b.ndjson", [3])):
        (tmp_path / name).write_text("".join(json.dumps({"id": i}) + "\n" for i in ids))
    config = {"type": "file", "path": str(tmp_path / "*.ndjson"), "incremental": {"files": True}}
    first = Incremental()
    assert [r["id"] for r in _read(config, first)] == [1, 2, 3]
    digest = hashlib.sha256((tmp_path / "b.ndjson").read_bytes()).hexdigest()
    assert first.new_state["files"][str(tmp_path / "b.ndjson")] == digest
    second = Incremental(state=first.new_state)
    assert _read(config, second) == [] and second.new_state is None
    (tmp_path / "b.ndjson").write_text('{"id": 4}\n')  # changed: read again
    (tmp_path / "c.ndjson").write_text('{"id": 5}\n')  # new
    third = Incremental(state=first.new_state)
    assert [r["id"] for r in _read(config, third)] == [4, 5]
    assert third.fetched == {"files": 2} and len(third.new_state["files"]) == 3
