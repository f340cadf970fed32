"""``http`` source and target: JSON REST APIs.

Source: one request, or pages by ``pagination.style`` — ``page`` (page number),
``offset`` (offset/limit), ``cursor`` (a cursor read from the response body) or
``link_header`` (RFC 8288 ``Link: <...>; rel="next"``). Each page is one batch.
Target: POSTs (or PUT/PATCH) batches as a JSON array, ``{wrap_key: [...]}``, NDJSON,
or one request per record. With a ``LoadContext`` every batch carries an idempotency key
(header ``idempotency_header``, default ``Idempotency-Key``) and the acknowledged
batches are recorded in the platform database (:mod:`.http_ledger`): a rerun resumes
after the last acknowledged batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import httpx
import orjson
import pyarrow as pa

from integration_orchestrator.columnar.convert import batch_to_records
from integration_orchestrator.connectors.base import (
    ConnectorContext,
    ConnectorError,
    ConnectorSpec,
    Record,
    Target,
    WriteResult,
    iter_batches,
    register_source,
    register_target,
)
from integration_orchestrator.connectors.chunks import SourceChunk, record_chunks
from integration_orchestrator.connectors.http_client import (
    AUTH_SCHEMA,
    RATE_LIMIT_SCHEMA,
    RETRY_SCHEMA,
    HttpClient,
    safe_url,
)
from integration_orchestrator.connectors.http_ledger import HttpLedger, HttpLedgerSession, idempotency_key
from integration_orchestrator.connectors.incremental import (
    Incremental,
    check_window,
    format_instant,
    incremental_of,
    incremental_schema,
    later,
    state_value,
)
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.connectors.secrets import STRING_OR_SECRET_SCHEMA

__all__ = ["DEFAULT_IDEMPOTENCY_HEADER", "HTTP_SOURCE", "HTTP_TARGET", "HttpSource", "HttpTarget", "dotted_get"]

DEFAULT_IDEMPOTENCY_HEADER = "Idempotency-Key"

_PAGINATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "style": {"enum": ["page", "offset", "cursor", "link_header"]},
        "page_param": {"type": "string", "minLength": 1},
        "start_page": {"type": "integer", "minimum": 0},
        "size_param": {"type": "string", "minLength": 1},
        "page_size": {"type": "integer", "minimum": 1},
        "offset_param": {"type": "string", "minLength": 1},
        "limit_param": {"type": "string", "minLength": 1},
        "limit": {"type": "integer", "minimum": 1},
        "cursor_param": {"type": "string", "minLength": 1},
        "cursor_path": {"type": "string", "minLength": 1},
        "max_pages": {"type": "integer", "minimum": 1},
    },
    "required": ["style"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"style": {"const": "offset"}}}, "then": {"required": ["limit"]}},
        {"if": {"properties": {"style": {"const": "cursor"}}}, "then": {"required": ["cursor_path"]}},
    ],
}
_COMMON: dict[str, Any] = {
    "type": {"const": "http"},
    "url": {"type": "string", "pattern": "^https?://"},
    "headers": {"type": "object", "additionalProperties": STRING_OR_SECRET_SCHEMA},
    "auth": AUTH_SCHEMA,
    "rate_limit": RATE_LIMIT_SCHEMA,
    "retry": RETRY_SCHEMA,
    "timeout_seconds": {"type": "number", "exclusiveMinimum": 0},
}
_SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_COMMON,
        "method": {"enum": ["GET", "POST"]},
        "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "body": {"type": "object"},
        "records_path": {"type": "string"},
        "pagination": _PAGINATION_SCHEMA,
        "incremental": incremental_schema("http_cursor", "window"),
    },
    "required": ["type", "url"],
    "additionalProperties": False,
}
_TARGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        **_COMMON,
        "method": {"enum": ["POST", "PUT", "PATCH"]},
        "body": {"enum": ["array", "ndjson", "per_record"]},
        "wrap_key": {"type": "string", "minLength": 1},
        "batch_size": {"type": "integer", "minimum": 1},
        "idempotency_header": {"type": "string", "minLength": 1, "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
    },
    "required": ["type", "url"],
    "additionalProperties": False,
}


def dotted_get(document: Any, path: str) -> Any:
    """``document`` at dotted ``path`` (``a.b.0.c``); ``""`` is the document itself.

    Raises ``KeyError`` naming the first missing part.
    """
    current = document
    for part in [p for p in path.split(".") if p] if path else []:
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            raise KeyError(part)
    return current


class HttpSource:
    """Reads records from a JSON API, one batch per page."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.config = config
        self.url = str(config["url"])
        self.method = str(config.get("method", "GET"))
        self.params: dict[str, Any] = dict(config.get("params") or {})
        self.body = config.get("body")
        self.records_path = config.get("records_path")
        self.pagination: Mapping[str, Any] = config.get("pagination") or {}
        self.name = f"http source `{safe_url(self.url)}`"
        self.template_rate_limits = context.rate_limits if context else None
        self.requests_made = 0
        self.incremental = incremental_of(config, context)
        if self.incremental is not None:
            self.params.update(self._incremental_params(*self.incremental))

    def read(self) -> Iterator[list[Record]]:
        with HttpClient(self.config, self.name, template_rate_limits=self.template_rate_limits) as client:
            try:
                for records in self._pages(client):
                    yield self._new(records)
            finally:
                self.requests_made += client.requests_made
                if self.incremental is not None:
                    self.incremental[1].count("requests", client.requests_made)

    def _incremental_params(self, declared: Mapping[str, Any], run: Incremental) -> dict[str, Any]:
        """The parameters the state (cursor) or the run's window (window) sets."""
        window = declared.get("window")
        if window is None:
            state = run.cursor() if run.state is not None else declared.get("initial")
            return {} if state is None else {declared["param"]: state}
        if run.window is None:
            raise ConnectorError(self.name, "declares `incremental.window` but the run has no window "
                                            "(a schedule tick, a partition, or the previous window's end)")
        start, end = (format_instant(t, window.get("format")) for t in (run.window.start, run.window.end))
        params = {key: value.replace("{start}", start).replace("{end}", end)
                  for key, value in (window.get("params") or {}).items()}
        for key, value in (("start_param", start), ("end_param", end)):
            if window.get(key):
                params[window[key]] = value
        return params

    def _new(self, records: list[Record]) -> list[Record]:
        """Cursor: the records past the state; the greatest cursor becomes the new state."""
        if self.incremental is None or "cursor_field" not in self.incremental[0]:
            return records
        declared, run = self.incremental
        field_name = declared["cursor_field"]
        floor = run.cursor() if run.state is not None else None
        best = run.new_state["cursor"] if isinstance(run.new_state, Mapping) else floor
        kept = []
        for record in records:
            try:
                value = dotted_get(record, field_name)
            except KeyError:
                raise ConnectorError(self.name, f"a record has no cursor field `{field_name}`") from None
            if floor is not None and not later(value, floor, self.name, field_name):
                continue  # at or before the state: loaded by an earlier run
            kept.append(record)
            if best is None or later(value, best, self.name, field_name):
                best = value
        if best is not None and best != floor:
            run.new_state = {"cursor": state_value(best)}
        return kept

    def read_batches(self) -> Iterator[SourceChunk]:
        """One record batch per page, as the pages come (streaming)."""
        return record_chunks(self.read())

    def _fetch(
        self, client: HttpClient, url: str | httpx.URL, params: Mapping[str, Any] | None
    ) -> tuple[httpx.Response, Any]:
        kwargs: dict[str, Any] = {"params": params}
        if self.body is not None:
            kwargs["json"] = self.body
        response = client.request(self.method, url, **kwargs)
        try:
            return response, orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:  # also bounds nesting depth
            raise ConnectorError(self.name, f"{safe_url(response.url)} did not answer valid JSON: {exc}") from exc

    def _records(self, document: Any, url: httpx.URL) -> list[Record]:
        if self.records_path is None:
            records = document
        else:
            try:
                records = dotted_get(document, self.records_path)
            except KeyError as exc:
                raise ConnectorError(
                    self.name, f"the response of {safe_url(url)} has no `{self.records_path}` (missing `{exc.args[0]}`)"
                ) from exc
        if isinstance(records, dict):
            return [records]
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            where = f"`{self.records_path}`" if self.records_path else "the response body"
            raise ConnectorError(self.name, f"{where} of {safe_url(url)} is not a list of objects; set `records_path`")
        return records

    def _pages(self, client: HttpClient) -> Iterator[list[Record]]:
        style = self.pagination.get("style")
        max_pages = int(self.pagination.get("max_pages", 0)) or None
        if style is None:
            response, document = self._fetch(client, self.url, self.params)
            yield self._records(document, response.url)
            return
        pager = {
            "page": self._page_numbers,
            "offset": self._offsets,
            "cursor": self._cursors,
            "link_header": self._links,
        }[style]
        for count, batch in enumerate(pager(client), start=1):
            if batch:
                yield batch
            if max_pages and count >= max_pages:
                return

    def _page_numbers(self, client: HttpClient) -> Iterator[list[Record]]:
        page = int(self.pagination.get("start_page", 1))
        size = self.pagination.get("page_size")
        while True:
            params = {**self.params, self.pagination.get("page_param", "page"): page}
            if size and self.pagination.get("size_param"):
                params[self.pagination["size_param"]] = size
            response, document = self._fetch(client, self.url, params)
            records = self._records(document, response.url)
            yield records
            if not records or (size and len(records) < size):
                return
            page += 1

    def _offsets(self, client: HttpClient) -> Iterator[list[Record]]:
        limit = int(self.pagination["limit"])
        offset = 0
        while True:
            params = {
                **self.params,
                self.pagination.get("offset_param", "offset"): offset,
                self.pagination.get("limit_param", "limit"): limit,
            }
            response, document = self._fetch(client, self.url, params)
            records = self._records(document, response.url)
            yield records
            if len(records) < limit:
                return
            offset += len(records)

    def _cursors(self, client: HttpClient) -> Iterator[list[Record]]:
        cursor: Any = None
        seen: set[str] = set()
        while True:
            params = dict(self.params)
            if cursor is not None:
                params[self.pagination.get("cursor_param", "cursor")] = cursor
            response, document = self._fetch(client, self.url, params)
            yield self._records(document, response.url)
            try:
                cursor = dotted_get(document, self.pagination["cursor_path"])
            except KeyError:
                return
            if cursor in (None, "") or isinstance(cursor, (dict, list)):
                return
            if str(cursor) in seen:
                raise ConnectorError(self.name, f"the API returned cursor {cursor!r} twice; stopping to avoid a loop")
            seen.add(str(cursor))

    def _links(self, client: HttpClient) -> Iterator[list[Record]]:
        url: str | httpx.URL = self.url
        params: Mapping[str, Any] | None = self.params
        seen: set[str] = set()
        while True:
            response, document = self._fetch(client, url, params)
            yield self._records(document, response.url)
            following = response.links.get("next", {}).get("url")
            if not following:
                return
            url = response.url.join(following)
            params = None  # the next link carries its own query
            if str(url) in seen:
                raise ConnectorError(
                    self.name, f"the Link header points back to {safe_url(url)}; stopping to avoid a loop"
                )
            seen.add(str(url))


class HttpTarget(Target):
    """Sends records to a JSON API in batches."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.config = config
        self.url = str(config["url"])
        self.method = str(config.get("method", "POST"))
        self.body = str(config.get("body", "array"))
        self.wrap_key = config.get("wrap_key")
        self.batch_size = int(config.get("batch_size", 100))
        self.name = f"http target `{safe_url(self.url)}`"
        self.template_rate_limits = context.rate_limits if context else None
        self.requests_made = 0
        self.idempotency_header = str(config.get("idempotency_header", DEFAULT_IDEMPOTENCY_HEADER))
        self.database_url = context.database_url if context else None

    def write(
        self, records: Iterable[Record] | Iterable[list[Record]], load_context: LoadContext | None = None
    ) -> WriteResult:
        """Send the batches; with ``load_context``, keyed and recorded (see :mod:`.http_ledger`)."""
        if load_context is None:
            return self._write(records, None, None)
        if self.database_url is None:  # nowhere to record acknowledgements: keys only
            return self._write(records, load_context, None)
        with HttpLedger(self.database_url, safe_url(self.url)).session(load_context) as session:
            recorded = session.recorded()
            if recorded is not None:
                return recorded  # every batch of this data was acknowledged: nothing to send
            return self._write(records, load_context, session)

    def write_batches(self, batches: Iterable[pa.RecordBatch], load_context: LoadContext | None = None) -> WriteResult:
        return self.write((batch_to_records(batch) for batch in batches), load_context)

    def recorded_loads(self, run_ids: Iterable[str]) -> dict[str, WriteResult]:
        """The completed loads of ``run_ids`` (for the reconciler)."""
        return self._ledger().recorded_loads(run_ids)

    def latest_state(self, config_id: str) -> Any:
        return self._ledger().latest_state(config_id)

    def loaded_letters(self, letter_ids: Iterable[str]) -> set[str]:
        return self._ledger().loaded_letters(letter_ids)

    def _ledger(self) -> HttpLedger:
        if self.database_url is None:
            raise ConnectorError(self.name, "keeps its load ledger in the platform database, and none is configured")
        return HttpLedger(self.database_url, safe_url(self.url))

    def _write(
        self, records: Iterable[Any], load: LoadContext | None, session: HttpLedgerSession | None
    ) -> WriteResult:
        written = 0
        acknowledged = session.acknowledged() if session is not None else {}
        batches = 0
        with HttpClient(self.config, self.name, template_rate_limits=self.template_rate_limits) as client:
            try:
                size = 1 if self.body == "per_record" else self.batch_size
                for batches, batch in enumerate(iter_batches(records, size), 1):
                    written += len(batch)
                    if batches in acknowledged:
                        continue  # accepted by the endpoint in an earlier attempt of this data
                    headers = {self.idempotency_header: idempotency_key(load, batches)} if load is not None else {}
                    self._send(client, batch, headers)
                    if session is not None:
                        session.acknowledge(batches, len(batch))
            finally:
                self.requests_made += client.requests_made
        result = WriteResult(rows_written=written)
        if session is not None:
            session.complete(result, batches)
        return result

    def _send(self, client: HttpClient, batch: list[Record], headers: dict[str, str]) -> None:
        if self.body == "ndjson":
            content = b"".join(orjson.dumps(r, default=str) + b"\n" for r in batch)
            client.request(self.method, self.url, content=content,
                           headers={**headers, "Content-Type": "application/x-ndjson"})
            return
        payload: Any = batch[0] if self.body == "per_record" else batch
        if self.wrap_key:
            payload = {self.wrap_key: payload}
        content = orjson.dumps(payload, default=str)
        client.request(self.method, self.url, content=content, headers={**headers, "Content-Type": "application/json"})


HTTP_SOURCE = register_source(
    ConnectorSpec(
        type="http",
        role="source",
        schema=_SOURCE_SCHEMA,
        factory=HttpSource,
        description="JSON REST API: auth, pagination, rate limit, retries",
        check=check_window,
    )
)
HTTP_TARGET = register_target(
    ConnectorSpec(
        type="http",
        role="target",
        schema=_TARGET_SCHEMA,
        factory=HttpTarget,
        description="JSON REST API receiving batches of records",
    )
)
