"""Platform writes that survive a short database outage (ARCHITECTURE.md §9).

A restart, failover or network blip of the platform database must not fail a run whose
data is fine, nor leave its ``integration_executions`` row ``running``. So the platform's
own write-back retries *connection-level* errors — the server cannot be reached, the
connection broke, the server is shutting down or not yet accepting connections, a
serialization failure or deadlock — with exponential backoff and full jitter, each
attempt on a fresh connection, for at most :func:`retry_seconds` (the environment
variable :data:`RETRY_ENV`, read at every call; default :data:`DEFAULT_RETRY_SECONDS`).
Data errors (a CHECK, a foreign key, bad SQL, missing privileges) are raised at once:
retrying cannot fix them.

A retry may follow a commit whose answer was lost, so every retried unit of work must be
idempotent (the write-back's upserts, guarded updates and deterministic ids are).

A connection opened by :func:`connect_retrying` remembers its URL, so :func:`retrying` can
replace it once it breaks; a connection opened otherwise is used as is (no retry), and so
is one inside a transaction: the retry belongs to the outermost unit of work.
"""

from __future__ import annotations

import logging
import os
import random
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import pq

from integration_orchestrator.db.connection import connect
from integration_orchestrator.errors import DatabaseUnavailableError

__all__ = [
    "DEFAULT_RETRY_SECONDS",
    "RETRY_ENV",
    "backoff_delay",
    "connect_retrying",
    "is_transient",
    "retry_seconds",
    "retrying",
]

RETRY_ENV = "INTEGRATION_ORCHESTRATOR_WRITEBACK_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 60.0
_FIRST_DELAY = 0.2
_MAX_DELAY = 5.0
# connection failures that no wait will fix (checked on the message: connect() errors carry no SQLSTATE)
_PERMANENT_CONNECT = ("password authentication failed", "no password supplied", "does not exist",
                      "no pg_hba.conf entry", "invalid connection option", "invalid dsn")

_T = TypeVar("_T")
_log = logging.getLogger(__name__)
_urls: weakref.WeakKeyDictionary[psycopg.Connection[Any], str] = weakref.WeakKeyDictionary()


def retry_seconds() -> float:
    """The bound on one write's retries, from :data:`RETRY_ENV` (0 disables; bad values: default)."""
    raw = os.environ.get(RETRY_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRY_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError:
        _log.warning("%s=%r is not a number of seconds; using %s", RETRY_ENV, raw, DEFAULT_RETRY_SECONDS)
        return DEFAULT_RETRY_SECONDS


def is_transient(exc: BaseException) -> bool:
    """Is ``exc`` a connection-level failure that a later attempt may not meet?"""
    if isinstance(exc, DatabaseUnavailableError):
        reason = exc.reason.lower()
        return not any(marker in reason for marker in _PERMANENT_CONNECT)
    # OperationalError: broken/closed connection, admin shutdown, cannot connect now,
    # serialization failure, deadlock; never a data or programming error
    return isinstance(exc, psycopg.OperationalError)


def backoff_delay(attempt: int, remaining: float) -> float:
    """Full jitter over an exponential ceiling (0.2 s, 0.4 s … 5 s), never past the deadline."""
    ceiling = min(_MAX_DELAY, _FIRST_DELAY * 2**attempt)
    return max(0.0, min(remaining, random.uniform(ceiling / 2, ceiling)))  # noqa: S311 - jitter, not crypto


def _retry_loop(what: str, attempt_once: Callable[[], _T]) -> _T:
    deadline = time.monotonic() + retry_seconds()
    attempt = 0
    while True:
        try:
            return attempt_once()
        except Exception as exc:
            remaining = deadline - time.monotonic()
            if not is_transient(exc) or remaining <= 0:
                raise
            delay = backoff_delay(attempt, remaining)
            _log.warning("%s: database unavailable (%s); retry %d in %.1fs", what, _first_line(exc), attempt + 1,
                         delay)
            time.sleep(delay)
            attempt += 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect_retrying(url: str, *, what: str = "connect", **kwargs: Any) -> psycopg.Connection[dict[str, Any]]:
    """:func:`~integration_orchestrator.db.connect`, retried while the server is unreachable;
    the connection remembers ``url`` so :func:`retrying` can replace it."""
    conn = _retry_loop(what, lambda: connect(url, **kwargs))
    _urls[conn] = url
    return conn


def _usable(conn: psycopg.Connection[Any]) -> bool:
    return not conn.closed and not conn.broken


def retrying(conn: psycopg.Connection[Any], work: Callable[[psycopg.Connection[Any]], _T], *,
             what: str = "platform write") -> _T:
    """``work(conn)``, retried on connection-level errors on fresh autocommit connections.

    ``work`` must be idempotent and run its own transaction. Without a remembered URL
    (a connection not from :func:`connect_retrying`), or inside an open transaction,
    ``work`` runs once on ``conn``."""
    url = _urls.get(conn)
    if url is None or (_usable(conn) and conn.info.transaction_status != pq.TransactionStatus.IDLE):
        return work(conn)
    first = [conn] if _usable(conn) else []

    def attempt_once() -> _T:
        if first:
            return work(first.pop())
        with connect(url, autocommit=True) as fresh:
            return work(fresh)

    return _retry_loop(what, attempt_once)
