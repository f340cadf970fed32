"""The HTTP plumbing shared by the ``http`` source and target.

Authentication (bearer / basic / api key), a rate limiter (requests per second or per
minute, from the endpoint config or the template's ``rate_limits``), timeouts, and
retries with exponential backoff and jitter on 429 / 5xx / transport errors, honouring
``Retry-After``. Error messages show the URL without its query string (an api key may
travel there) and never a header value.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from integration_orchestrator.connectors.base import ConnectorError
from integration_orchestrator.connectors.secrets import SECRET_REF_SCHEMA, STRING_OR_SECRET_SCHEMA

__all__ = [
    "AUTH_SCHEMA",
    "RATE_LIMIT_SCHEMA",
    "RETRY_SCHEMA",
    "RETRY_STATUSES",
    "HttpClient",
    "RateLimiter",
    "RetryPolicy",
    "parse_retry_after",
    "rate_limit_interval",
    "safe_url",
]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": ["bearer", "basic", "api_key"]},
        "token": SECRET_REF_SCHEMA,
        "username": STRING_OR_SECRET_SCHEMA,
        "password": SECRET_REF_SCHEMA,
        "name": {"type": "string", "minLength": 1},
        "value": SECRET_REF_SCHEMA,
        "in": {"enum": ["header", "query"]},
    },
    "required": ["type"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"type": {"const": "bearer"}}}, "then": {"required": ["token"]}},
        {"if": {"properties": {"type": {"const": "basic"}}}, "then": {"required": ["username", "password"]}},
        {"if": {"properties": {"type": {"const": "api_key"}}}, "then": {"required": ["name", "value"]}},
    ],
}
RATE_LIMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "requests_per_second": {"type": "number", "exclusiveMinimum": 0},
        "requests_per_minute": {"type": "number", "exclusiveMinimum": 0},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}
RETRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "max_retries": {"type": "integer", "minimum": 0},
        "backoff_seconds": {"type": "number", "minimum": 0},
        "max_backoff_seconds": {"type": "number", "minimum": 0},
        "jitter": {"type": "boolean"},
        "max_retry_after_seconds": {"type": "number", "minimum": 0},
    },
    "additionalProperties": False,
}


def rate_limit_interval(
    rate_limit: Mapping[str, Any] | None, template_rate_limits: Mapping[str, Any] | None = None
) -> float | None:
    """Seconds between two requests: the config's ``rate_limit``, else the template's."""
    for limits in (rate_limit, template_rate_limits):
        if not limits:
            continue
        if limits.get("requests_per_second"):
            return 1.0 / float(limits["requests_per_second"])
        if limits.get("requests_per_minute"):
            return 60.0 / float(limits["requests_per_minute"])
    return None


class RateLimiter:
    """Spaces calls at least ``interval`` seconds apart (thread-safe)."""

    def __init__(self, interval: float | None) -> None:
        self.interval = interval or 0.0
        self._next_at = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_at)
            self._next_at = start + self.interval
        if start > now:
            time.sleep(start - now)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff (``backoff_seconds * 2**attempt``, capped) with optional jitter."""

    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    jitter: bool = True
    max_retry_after_seconds: float = 300.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> RetryPolicy:
        return cls(**dict(config or {}))

    def backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff_seconds, self.backoff_seconds * (2**attempt))
        return random.uniform(delay / 2, delay) if self.jitter else delay  # noqa: S311 - jitter, not a secret


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _auth(config: Mapping[str, Any] | None) -> tuple[httpx.Auth | None, dict[str, str], dict[str, str]]:
    """(httpx auth, extra headers, extra query params) for an already-resolved auth config."""
    if not config:
        return None, {}, {}
    kind = config["type"]
    if kind == "bearer":
        return None, {"Authorization": f"Bearer {config['token']}"}, {}
    if kind == "basic":
        return httpx.BasicAuth(str(config["username"]), str(config["password"])), {}, {}
    if config.get("in", "header") == "query":
        return None, {}, {str(config["name"]): str(config["value"])}
    return None, {str(config["name"]): str(config["value"])}, {}


def safe_url(url: httpx.URL | str) -> str:
    """The URL without query string or credentials (safe for messages)."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


class HttpClient:
    """An ``httpx.Client`` with auth, rate limit, timeout and retries applied to each request."""

    def __init__(
        self,
        config: Mapping[str, Any],
        name: str,
        *,
        template_rate_limits: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        auth, auth_headers, self.auth_params = _auth(config.get("auth"))
        headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
        self.client = httpx.Client(
            auth=auth,
            headers={**headers, **auth_headers},
            timeout=httpx.Timeout(float(config.get("timeout_seconds", 30.0))),
            follow_redirects=True,
        )
        self.limiter = RateLimiter(rate_limit_interval(config.get("rate_limit"), template_rate_limits))
        self.retry = RetryPolicy.from_config(config.get("retry"))
        self.requests_made = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Response:
        """Send with retries; the final response is 2xx/3xx or a :class:`ConnectorError`."""
        params = kwargs.pop("params", None)
        if self.auth_params:
            params = {**dict(params or {}), **self.auth_params}
        attempt = 0
        while True:
            self.limiter.wait()
            self.requests_made += 1
            try:
                response = self.client.request(method, url, params=params, **kwargs)
            except httpx.TransportError as exc:
                if attempt >= self.retry.max_retries:
                    raise ConnectorError(
                        self.name,
                        f"{method} {safe_url(url)} failed after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}: {exc}",
                    ) from exc
                time.sleep(self.retry.backoff(attempt))
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retry.max_retries:
                time.sleep(self._retry_delay(response, attempt))
                attempt += 1
                continue
            if response.is_error:
                raise ConnectorError(
                    self.name,
                    f"{method} {safe_url(response.url)} answered {response.status_code} "
                    f"{response.reason_phrase} after {attempt + 1} attempt(s): {response.text[:200]!r}",
                )
            return response

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self.retry.backoff(attempt)
        if retry_after > self.retry.max_retry_after_seconds:
            raise ConnectorError(
                self.name,
                f"{safe_url(response.url)} answered {response.status_code} asking to retry after "
                f"{retry_after:.0f}s, more than retry.max_retry_after_seconds "
                f"({self.retry.max_retry_after_seconds:.0f}s)",
            )
        return retry_after
