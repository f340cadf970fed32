"""Incremental sync: what a source declares, and the state a run reads and advances.

A source config may carry ``"incremental"`` (ARCHITECTURE.md §10.9):

* ``{"cursor_field": "updated_at"}`` (``postgres``): the query is wrapped as
  ``SELECT * FROM (<query>) WHERE <col> > :state ORDER BY <col>``; the new state is the
  column's value on the last row read;
* ``{"cursor_field": "published", "param": "since", "initial": "..."}`` (``http``): the
  state (else ``initial``) goes into the request parameter ``param``; records whose cursor
  is not above the state are dropped (an API's ``since`` is usually inclusive); the new
  state is the greatest cursor read;
* ``{"files": true}`` (``file``): files whose (name, sha256) the state holds are skipped;
* ``{"window": {...}}`` (``http``): the run's time window goes into the parameters
  (``start_param``/``end_param``, or ``params`` templates with ``{start}``/``{end}``).

The state is JSON: ``{"cursor": value}``, ``{"files": {path: sha256}}`` or
``{"window_end": iso}``. It is read from the target's load ledger before the source opens
and committed by the sink with the rows (``LoadContext.state``), so a run that fails
before its commit leaves the state as it was. Cursor values are compared exactly: numbers
as ``Decimal``, ISO-8601 timestamps as aware datetimes, other text as text; never floats.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from integration_orchestrator.connectors.base import ConnectorError

__all__ = [
    "DEFAULT_WINDOW_FORMAT",
    "WINDOW_SCHEMA",
    "Incremental",
    "Window",
    "check_window",
    "cursor_key",
    "format_instant",
    "incremental_of",
    "incremental_schema",
    "later",
    "parse_instant",
    "state_value",
]

DEFAULT_WINDOW_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

#: ``incremental.window``: the run's window into the request parameters
WINDOW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "start_param": {"type": "string", "minLength": 1},
        "end_param": {"type": "string", "minLength": 1},
        "params": {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
        "format": {"type": "string", "minLength": 1},
        "cron": {"type": "string", "minLength": 1},
        "timezone": {"type": "string", "minLength": 1},
        "start": {"type": "string", "minLength": 1},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["start_param"]}, {"required": ["end_param"]}, {"required": ["params"]}],
}
_CURSOR: dict[str, Any] = {"type": "string", "minLength": 1}
_INITIAL: dict[str, Any] = {"type": ["string", "integer"]}


def incremental_schema(*forms: str) -> dict[str, Any]:
    """The JSON Schema of ``source.incremental`` for a source type implementing ``forms``
    (``cursor`` for postgres; ``http_cursor`` and ``window`` for http; ``files`` for file)."""
    variants: list[dict[str, Any]] = []
    if "cursor" in forms:
        variants.append({"type": "object", "properties": {"cursor_field": _CURSOR, "initial": _INITIAL},
                         "required": ["cursor_field"], "additionalProperties": False})
    if "http_cursor" in forms:
        variants.append({"type": "object",
                         "properties": {"cursor_field": _CURSOR, "param": _CURSOR, "initial": _INITIAL},
                         "required": ["cursor_field", "param"], "additionalProperties": False})
    if "window" in forms:
        variants.append({"type": "object", "properties": {"window": WINDOW_SCHEMA}, "required": ["window"],
                         "additionalProperties": False})
    if "files" in forms:
        variants.append({"type": "object", "properties": {"files": {"const": True}}, "required": ["files"],
                         "additionalProperties": False})
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


@dataclass(frozen=True)
class Window:
    """A run's time window: ``start`` (inclusive) → ``end`` (exclusive), aware datetimes."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be aware datetimes")


@dataclass
class Incremental:
    """One run's incremental state: ``state`` read from the ledger (None: from the start),
    the run's ``window`` if any, and ``new_state``, which the source sets as it reads (None
    when it read nothing new: the ledger then keeps the previous state)."""

    state: Any = None
    window: Window | None = None
    new_state: Any = None
    #: what the source fetched (rows, requests, files), for logs and tests
    fetched: dict[str, int] = field(default_factory=dict)

    def cursor(self) -> Any:
        return self.state.get("cursor") if isinstance(self.state, Mapping) else None

    def files(self) -> dict[str, str]:
        files = self.state.get("files") if isinstance(self.state, Mapping) else None
        return dict(files) if isinstance(files, Mapping) else {}

    def count(self, what: str, n: int = 1) -> None:
        self.fetched[what] = self.fetched.get(what, 0) + n


def incremental_of(config: Mapping[str, Any], context: Any) -> tuple[Mapping[str, Any], Incremental] | None:
    """The declaration of ``config`` and the run's :class:`Incremental` (from ``context``),
    or None when the source is not incremental. A declared source opened without a run
    state (``pipeline preview``, a plain ``open_source``) reads from the start."""
    declared = config.get("incremental")
    if not isinstance(declared, Mapping):
        return None
    run = getattr(context, "incremental", None)
    return declared, run if isinstance(run, Incremental) else Incremental()


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def cursor_key(value: Any, name: str, field_name: str) -> tuple[int, Any]:
    """An exact sort key of a cursor value: (kind, value). Numbers → Decimal, ISO-8601 text →
    datetime (naive read as UTC), other text → text. Raises ConnectorError for other types."""
    if isinstance(value, bool) or value is None:
        raise ConnectorError(name, f"cursor field `{field_name}` holds {value!r}, not a number, timestamp or text")
    if isinstance(value, (int, Decimal)):
        return (0, Decimal(value))
    if isinstance(value, float):
        return (0, Decimal(repr(value)))
    if isinstance(value, dt.datetime):
        return (1, value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return (1, dt.datetime.combine(value, dt.time(), dt.UTC))
    if isinstance(value, str):
        if _ISO.match(value.strip()):
            try:
                parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                return (1, parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))
            except ValueError:
                pass
        try:
            return (0, Decimal(value)) if re.fullmatch(r"-?\d+(\.\d+)?", value.strip()) else (2, value)
        except InvalidOperation:
            return (2, value)
    raise ConnectorError(name, f"cursor field `{field_name}` holds a {type(value).__name__}, "
                               "not a number, timestamp or text")


def later(a: Any, b: Any, name: str, field_name: str) -> bool:
    """Whether cursor ``a`` is strictly after ``b`` (exact; values of different kinds are an error)."""
    ka, kb = cursor_key(a, name, field_name), cursor_key(b, name, field_name)
    if ka[0] != kb[0]:
        raise ConnectorError(name, f"cursor field `{field_name}`: cannot compare {a!r} with the state {b!r} "
                                   "(a number, a timestamp and text do not compare)")
    return bool(ka[1] > kb[1])


def state_value(value: Any) -> Any:
    """A cursor value as it is kept in the ledger's JSON: exact text for decimals and times."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_instant(instant: dt.datetime, fmt: str | None) -> str:
    """``instant`` in UTC with ``fmt`` (strftime; default ``2025-01-31T00:00:00Z``)."""
    return instant.astimezone(dt.UTC).strftime(fmt or DEFAULT_WINDOW_FORMAT)


def parse_instant(text: str) -> dt.datetime:
    """An ISO-8601 date or datetime as an aware datetime (no offset: UTC). Raises ValueError."""
    parsed = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def check_window(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``incremental.window``'s values beyond the schema: the cron (Dagster's rule), the
    timezone (IANA), the first window's start (ISO-8601), the strftime format."""
    incremental = config.get("incremental")
    window = incremental.get("window") if isinstance(incremental, Mapping) else None
    if not isinstance(window, Mapping):
        return []
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from integration_orchestrator.model.schedule import is_valid_cron

    base = ".incremental.window"
    if "cron" in window and not is_valid_cron(str(window["cron"])):
        return [(base + ".cron", "is not a valid 5-field cron expression (minute hour day month weekday)")]
    if "timezone" in window:
        try:
            ZoneInfo(str(window["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            return [(base + ".timezone", "is not an IANA time zone name")]
    if "start" in window:
        try:
            parse_instant(str(window["start"]))
        except ValueError:
            return [(base + ".start", "is not an ISO-8601 date or date-time")]
    if "format" in window:
        try:
            dt.datetime(2000, 1, 1, tzinfo=dt.UTC).strftime(str(window["format"]))
        except ValueError:
            return [(base + ".format", "is not a strftime format")]
    return []
