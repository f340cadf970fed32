"""Retry settings: the one parser of a ``retry_policy`` object (pipelines and schedules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from integration_orchestrator.errors import RowError

__all__ = ["DEFAULT_RETRY", "RETRY_BACKOFFS", "RETRY_KEYS", "RetrySettings", "parse_retry"]

RETRY_BACKOFFS = ("exponential", "linear")
RETRY_KEYS = ("max_retries", "delay_seconds", "backoff", "jitter")


@dataclass(frozen=True)
class RetrySettings:
    max_retries: int
    delay_seconds: float
    backoff: str
    jitter: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_RETRY = RetrySettings(max_retries=3, delay_seconds=1.0, backoff="exponential", jitter=False)


def parse_retry(value: Any, *, kind: str, name: str | None, row_id: Any, field: str) -> RetrySettings:
    """A ``retry_policy`` object ``{"max_retries", "delay_seconds", "backoff", "jitter"}``.

    Every problem is a :class:`RowError` naming the row and the JSON path below ``field``.
    """

    def fail(sub: str, reason: str) -> RowError:
        return RowError(kind, name, reason, row_id=row_id, field=f"{field}.{sub}" if sub else field)

    if not isinstance(value, Mapping):
        raise fail("", "must be an object {max_retries, delay_seconds, backoff, jitter}")
    unknown = sorted(set(value) - set(RETRY_KEYS))
    if unknown:
        raise fail(unknown[0], "is not a retry setting (max_retries, delay_seconds, backoff, jitter)")
    retries = value.get("max_retries", 3)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise fail("max_retries", f"must be an integer between 0 and 100, not {retries!r}")
    delay = value.get("delay_seconds", 1)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise fail("delay_seconds", f"must be a number of seconds >= 0, not {delay!r}")
    backoff = value.get("backoff", "exponential")
    if backoff not in RETRY_BACKOFFS:
        raise fail("backoff", f"must be one of {', '.join(RETRY_BACKOFFS)}, not {backoff!r}")
    jitter = value.get("jitter", False)
    if not isinstance(jitter, bool):
        raise fail("jitter", f"must be true or false, not {jitter!r}")
    return RetrySettings(retries, delay, backoff, jitter)
