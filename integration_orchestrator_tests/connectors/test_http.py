"""http source and target against a real HTTP server on 127.0.0.1 started by the test."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.connectors import (
    ConnectorError,
    SecretResolutionError,
    open_source,
    open_target,
    read_batches,
)

RECORDS = [{"id": i, "name": f"item {i}"} for i in range(1, 26)]
SECRETS = {"api_token": "tok-123", "api_password": "pw-456", "api_key": "key-789"}
Reply = tuple[int, dict[str, str], Any]


@dataclass
class Hit:
    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApi:
    """A real server: ``routes[path](hit) -> (status, headers, json body)``; every hit logged."""

    base: str = ""
    routes: dict[str, Callable[[Hit], Reply]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)

    def paths(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    state = FakeApi()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            hit = Hit(
                at=time.monotonic(),
                method=self.command,
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            with lock:
                state.hits.append(hit)
            route = state.routes.get(parts.path)
            status, headers, body = route(hit) if route else (404, {}, {"error": "no route"})
            payload = (
                body.encode() if route and isinstance(body, str) and headers.get("X-Raw") else json.dumps(body).encode()
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 - http.server names the handlers

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- pagination styles ---------------------------------------------------------------


def _page(hit: Hit) -> Reply:
    page, size = int(hit.query["page"]), int(hit.query["per_page"])
    return 200, {}, {"data": {"items": RECORDS[(page - 1) * size : page * size]}}


def _offset(hit: Hit) -> Reply:
    offset, limit = int(hit.query["offset"]), int(hit.query["limit"])
    return 200, {}, RECORDS[offset : offset + limit]


def _cursor(hit: Hit) -> Reply:
    start = int(hit.query.get("after", "0"))
    chunk = RECORDS[start : start + 10]
    following = str(start + 10) if start + 10 < len(RECORDS) else None
    return 200, {}, {"items": chunk, "meta": {"next": following}}


def _link(hit: Hit) -> Reply:
    page = int(hit.query.get("p", "1"))
    headers = {"Link": f'</link?p={page + 1}>; rel="next"'} if page * 10 < len(RECORDS) else {}
    return 200, headers, RECORDS[(page - 1) * 10 : page * 10]


PAGINATION_CASES = [
    (
        "page",
        "/page",
        _page,
        {"style": "page", "page_param": "page", "size_param": "per_page", "page_size": 10},
        "data.items",
        3,
    ),
    ("offset", "/offset", _offset, {"style": "offset", "limit": 10}, None, 3),
    (
        "cursor",
        "/cursor",
        _cursor,
        {"style": "cursor", "cursor_param": "after", "cursor_path": "meta.next"},
        "items",
        3,
    ),
    ("link_header", "/link", _link, {"style": "link_header"}, None, 3),
]


@pytest.mark.parametrize(
    ("style", "path", "route", "pagination", "records_path", "requests"),
    PAGINATION_CASES,
    ids=[c[0] for c in PAGINATION_CASES],
)
def test_pagination_styles_read_every_record_once(
    api: FakeApi,
    style: str,
    path: str,
    route: Callable[[Hit], Reply],
    pagination: dict[str, Any],
    records_path: str | None,
    requests: int,
) -> None:
    api.routes[path] = route
    config: dict[str, Any] = {"type": "http", "url": api.base + path, "pagination": pagination}
    if records_path:
        config["records_path"] = records_path
    batches = list(open_source(config, SECRETS.__getitem__).read())
    assert [r for b in batches for r in b] == RECORDS
    assert [len(b) for b in batches] == [10, 10, 5]
    assert len(api.paths(path)) == requests


def test_read_batches_gives_one_batch_per_page(api: FakeApi) -> None:
    api.routes["/offset"] = _offset
    config = {"type": "http", "url": api.base + "/offset", "pagination": {"style": "offset", "limit": 10}}
    chunks = read_batches(open_source(config, SECRETS.__getitem__))
    first = next(chunks)
    assert first.batch.num_rows == 10 and first.bad == []
    assert len(api.paths("/offset")) == 1  # streaming: the next page is not fetched yet
    rest = list(chunks)
    assert [r for c in [first, *rest] for r in batch_to_records(c.batch)] == RECORDS


def test_page_pagination_stops_on_empty_page_without_page_size(api: FakeApi) -> None:
    api.routes["/page"] = lambda hit: _page(Hit(hit.at, hit.method, hit.path, {**hit.query, "per_page": "10"}, {}, b""))
    config = {"type": "http", "url": api.base + "/page", "records_path": "data.items", "pagination": {"style": "page"}}
    records = [r for b in open_source(config, SECRETS.__getitem__).read() for r in b]
    assert records == RECORDS
    assert [h.query["page"] for h in api.paths("/page")] == ["1", "2", "3", "4"]


def test_max_pages_bounds_the_read(api: FakeApi) -> None:
    api.routes["/offset"] = _offset
    config = {
        "type": "http",
        "url": api.base + "/offset",
        "pagination": {"style": "offset", "limit": 10, "max_pages": 2},
    }
    records = [r for b in open_source(config, SECRETS.__getitem__).read() for r in b]
    assert records == RECORDS[:20]
    assert len(api.paths("/offset")) == 2


# -- authentication --------------------------------------------------------------------

AUTH_CASES = [
    (
        "bearer",
        {"type": "bearer", "token": {"$secret": "api_token"}},
        lambda h: h.headers.get("authorization") == "Bearer tok-123",
    ),
    (
        "basic",
        {"type": "basic", "username": "svc", "password": {"$secret": "api_password"}},
        lambda h: h.headers.get("authorization") == "Basic " + base64.b64encode(b"svc:pw-456").decode(),
    ),
    (
        "api_key header",
        {"type": "api_key", "name": "X-Api-Key", "value": {"$secret": "api_key"}},
        lambda h: h.headers.get("x-api-key") == "key-789",
    ),
    (
        "api_key query",
        {"type": "api_key", "name": "key", "in": "query", "value": {"$secret": "api_key"}},
        lambda h: h.query.get("key") == "key-789",
    ),
]


@pytest.mark.parametrize(("kind", "auth", "accepted"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
def test_auth_is_sent_from_resolved_secrets(
    api: FakeApi, kind: str, auth: dict[str, Any], accepted: Callable[[Hit], bool]
) -> None:
    api.routes["/secure"] = lambda hit: (
        (200, {}, RECORDS[:2]) if accepted(hit) else (401, {}, {"error": "unauthorized"})
    )
    config = {"type": "http", "url": api.base + "/secure", "auth": auth, "params": {"q": "x"}}
    assert [r for b in open_source(config, SECRETS.__getitem__).read() for r in b] == RECORDS[:2]
    assert api.paths("/secure")[0].query["q"] == "x"


def test_wrong_credentials_fail_with_the_status_and_without_the_secret(api: FakeApi) -> None:
    api.routes["/secure"] = lambda hit: (401, {}, {"error": "unauthorized"})
    config = {
        "type": "http",
        "url": api.base + "/secure",
        "auth": {"type": "api_key", "name": "key", "in": "query", "value": {"$secret": "api_key"}},
    }
    with pytest.raises(ConnectorError) as info:
        list(open_source(config, SECRETS.__getitem__).read())
    assert "401" in str(info.value)
    assert "key-789" not in str(info.value)
    assert len(api.paths("/secure")) == 1  # 4xx other than 429 is not retried


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "depth limit"),
        ("<html>oops</html>", "did not answer valid JSON"),
        ({"data": 1}, "not a list of objects"),
    ],
    ids=["deeply nested", "not json", "not records"],
)
def test_bad_bodies_are_clear_errors(api: FakeApi, body: Any, message: str) -> None:
    api.routes["/odd"] = lambda hit: (200, {}, body)
    raw = isinstance(body, str)
    if raw:  # serve the text as is, not JSON-encoded
        api.routes["/odd"] = lambda hit: (200, {"X-Raw": "1"}, body)
    config = {"type": "http", "url": api.base + "/odd", **({} if raw else {"records_path": "data"})}
    with pytest.raises(ConnectorError, match=message):
        list(open_source(config, SECRETS.__getitem__).read())


def test_missing_secret_names_the_secret_and_where_it_is_used(api: FakeApi) -> None:
    config = {"type": "http", "url": api.base + "/secure", "auth": {"type": "bearer", "token": {"$secret": "nope"}}}
    with pytest.raises(SecretResolutionError) as info:
        open_source(config, SECRETS.__getitem__)
    assert info.value.name == "nope"
    assert "connection_config.source.auth.token" in str(info.value)
    assert api.hits == []


# -- retries and rate limits -------------------------------------------------------------


def test_429_with_retry_after_then_503_then_success(api: FakeApi) -> None:
    replies: list[Reply] = [
        (429, {"Retry-After": "1"}, {"error": "slow down"}),
        (503, {}, {"error": "busy"}),
        (200, {}, RECORDS[:3]),
    ]
    api.routes["/flaky"] = lambda hit: replies.pop(0)
    config = {"type": "http", "url": api.base + "/flaky", "retry": {"max_retries": 3, "backoff_seconds": 0.01}}
    assert [r for b in open_source(config, SECRETS.__getitem__).read() for r in b] == RECORDS[:3]
    hits = api.paths("/flaky")
    assert len(hits) == 3
    assert hits[1].at - hits[0].at >= 0.9  # Retry-After: 1 was honoured


def test_retries_give_up_with_a_clear_error(api: FakeApi) -> None:
    api.routes["/down"] = lambda hit: (503, {}, {"error": "down"})
    config = {
        "type": "http",
        "url": api.base + "/down",
        "retry": {"max_retries": 2, "backoff_seconds": 0.01, "jitter": False},
    }
    with pytest.raises(ConnectorError, match=r"503 .* after 3 attempt"):
        list(open_source(config, SECRETS.__getitem__).read())
    assert len(api.paths("/down")) == 3


def test_retry_after_beyond_the_allowed_wait_fails_fast(api: FakeApi) -> None:
    api.routes["/later"] = lambda hit: (429, {"Retry-After": "3600"}, {})
    config = {"type": "http", "url": api.base + "/later", "retry": {"max_retry_after_seconds": 5}}
    with pytest.raises(ConnectorError, match="retry after 3600s"):
        list(open_source(config, SECRETS.__getitem__).read())
    assert len(api.paths("/later")) == 1


def test_connection_refused_is_retried_then_reported() -> None:
    config = {
        "type": "http",
        "url": "http://127.0.0.1:9/nothing",
        "retry": {"max_retries": 1, "backoff_seconds": 0.01},
        "timeout_seconds": 2,
    }
    with pytest.raises(ConnectorError, match="failed after 2 attempt"):
        list(open_source(config, SECRETS.__getitem__).read())


@pytest.mark.parametrize(
    ("config_limit", "template_limits", "interval"),
    [
        ({"requests_per_second": 10}, None, 0.1),
        (None, {"requests_per_minute": 600}, 0.1),
        ({"requests_per_second": 20}, {"requests_per_second": 1}, 0.05),
    ],
    ids=["config per second", "template per minute", "config wins over template"],
)
def test_rate_limit_spaces_the_requests(
    api: FakeApi, config_limit: dict[str, Any] | None, template_limits: dict[str, Any] | None, interval: float
) -> None:
    api.routes["/offset"] = _offset
    config: dict[str, Any] = {
        "type": "http",
        "url": api.base + "/offset",
        "pagination": {"style": "offset", "limit": 5},
    }
    if config_limit:
        config["rate_limit"] = config_limit
    records = [r for b in open_source(config, SECRETS.__getitem__, rate_limits=template_limits).read() for r in b]
    assert records == RECORDS
    hits = api.paths("/offset")
    assert [int(h.query["offset"]) for h in hits] == [0, 5, 10, 15, 20, 25]
    # The limiter spaces the request starts; arrival times jitter on a loaded machine, so
    # check the whole span (5 intervals) rather than each gap.
    assert hits[-1].at - hits[0].at >= 5 * interval * 0.8


# -- target --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected_bodies"),
    [
        ({"batch_size": 10}, [RECORDS[0:10], RECORDS[10:20], RECORDS[20:25]]),
        ({"batch_size": 20, "wrap_key": "records"}, [{"records": RECORDS[0:20]}, {"records": RECORDS[20:25]}]),
        ({"body": "per_record"}, RECORDS[:25]),
    ],
    ids=["array batches", "wrapped", "per record"],
)
def test_http_target_posts_batches(api: FakeApi, options: dict[str, Any], expected_bodies: list[Any]) -> None:
    api.routes["/sink"] = lambda hit: (202, {}, {"ok": True})
    config = {
        "type": "http",
        "url": api.base + "/sink",
        "auth": {"type": "bearer", "token": {"$secret": "api_token"}},
        **options,
    }
    result = open_target(config, SECRETS.__getitem__).write(iter(RECORDS))
    assert result.rows_written == 25
    hits = api.paths("/sink")
    assert [json.loads(h.body) for h in hits] == expected_bodies
    assert {h.headers["authorization"] for h in hits} == {"Bearer tok-123"}


def test_http_target_ndjson_retries_a_503(api: FakeApi) -> None:
    replies: list[Reply] = [(503, {}, {}), (200, {}, {})]
    api.routes["/sink"] = lambda hit: replies.pop(0)
    config = {"type": "http", "url": api.base + "/sink", "body": "ndjson", "retry": {"backoff_seconds": 0.01}}
    result = open_target(config, SECRETS.__getitem__).write([RECORDS[:3]])
    assert result.rows_written == 3
    hits = api.paths("/sink")
    assert len(hits) == 2
    assert [json.loads(line) for line in hits[1].body.decode().splitlines()] == RECORDS[:3]
    assert hits[1].headers["content-type"] == "application/x-ndjson"
