"""Data types of mapping values: source checks, target coercion, JSON-ready output.

What a coerced target value is (and so what the sink receives):

==========  ===================================================================
type        value written to the output record
==========  ===================================================================
string      ``str`` (numbers in plain notation, booleans ``"true"``/``"false"``)
integer     ``int`` (``"42"``, ``42.0`` and ``Decimal("42")`` accepted; ``4.5`` is not)
number      ``decimal.Decimal`` -- exact, no float drift (floats go through ``repr``)
boolean     ``bool`` (``true/false/1/0/yes/no``, any case, and the numbers 1/0)
date        ISO 8601 ``str`` ``YYYY-MM-DD``
datetime    ISO 8601 ``str`` with offset; naive values get the plan's timezone
uuid        canonical lower-case ``str``
object      ``dict`` (unchanged)
array       ``list`` (unchanged)
==========  ===================================================================

``Decimal`` is the one non-JSON type in an output: :func:`json_ready` turns a whole
record into plain JSON values (integral decimals become ``int``, others ``float`` when
that round-trips exactly, otherwise the decimal string), and :func:`json_dumps`
serialises a record with decimals written exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integration_orchestrator.jsontypes import json_type

__all__ = [
    "DATA_TYPES",
    "CoercionError",
    "coercer",
    "json_dumps",
    "json_ready",
    "parse_date",
    "parse_datetime",
    "resolve_timezone",
    "source_checker",
]

DATA_TYPES = ("array", "boolean", "date", "datetime", "integer", "number", "object", "string", "uuid")
_TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "off"})


class CoercionError(ValueError):
    """A value cannot be converted to (or is not of) the wanted type."""


def resolve_timezone(name: str | None) -> dt.tzinfo:
    """The tzinfo for an IANA name (``None`` or empty: UTC); ``ValueError`` if unknown."""
    if not name or name.upper() == "UTC":
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r}") from None


def _fail(value: Any, wanted: str, detail: str = "") -> CoercionError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return CoercionError(f"cannot convert {json_type(value)} {shown} to {wanted}{detail}")


def to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, (dt.date, uuid.UUID)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    raise _fail(value, "string")


def to_number(value: Any) -> Decimal:
    if type(value) is str:
        text = value.strip()
        if "_" not in text:  # Decimal() accepts "1_000"; data should not
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise _fail(value, "number") from None
            if not number.is_finite():
                raise _fail(value, "number", " (not finite)")
            return number
    if isinstance(value, bool):
        raise _fail(value, "number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if "_" in text:  # Decimal() accepts "1_000"; data should not
            raise _fail(value, "number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise _fail(value, "number") from None
    else:
        raise _fail(value, "number")
    if not number.is_finite():
        raise _fail(value, "number", " (not finite)")
    return number


def to_integer(value: Any) -> int:
    if isinstance(value, bool):
        raise _fail(value, "integer")
    if type(value) is int:
        return value
    if type(value) is str and "_" not in value:
        try:
            return int(value)
        except ValueError:
            pass  # "42.0", "4.5", "abc": decided below
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        number = to_number(value)
    except CoercionError:
        raise _fail(value, "integer") from None
    if number != number.to_integral_value():
        raise _fail(value, "integer", " (has a fractional part)")
    return int(number)


_BOOLEANS = {**dict.fromkeys(_TRUE, True), **dict.fromkeys(_FALSE, False)}


def to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if type(value) is str:
        exact = _BOOLEANS.get(value)
        if exact is not None:
            return exact
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    elif isinstance(value, (int, Decimal, float)) and value in (0, 1):
        return bool(value)
    raise _fail(value, "boolean", " (expected true/false/1/0/yes/no)")


def parse_date(value: Any, fmt: str | None = None) -> dt.date:
    """A ``date`` from a date, a datetime, an ISO 8601 string or ``fmt`` (strptime)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise _fail(value, "date")
    text = value.strip()
    try:
        if fmt:
            return dt.datetime.strptime(text, fmt).date()
        if len(text) > 10:
            return dt.datetime.fromisoformat(text).date()
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(value, "date", f" (format {fmt!r})" if fmt else " (expected ISO 8601 YYYY-MM-DD)") from None


def parse_datetime(value: Any, tz: dt.tzinfo, fmt: str | None = None) -> dt.datetime:
    """An aware ``datetime``; naive input gets ``tz``. Numbers are Unix epoch seconds."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(float(value), dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise _fail(value, "datetime", " (epoch seconds out of range)") from None
    elif isinstance(value, str):
        try:
            text = value.strip()
            moment = dt.datetime.strptime(text, fmt) if fmt else dt.datetime.fromisoformat(text)
        except ValueError:
            detail = f" (format {fmt!r})" if fmt else " (expected ISO 8601)"
            raise _fail(value, "datetime", detail) from None
    else:
        raise _fail(value, "datetime")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def to_uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    raise _fail(value, "uuid")


def _to_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise _fail(value, "object")


def _to_array(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    raise _fail(value, "array")


def coercer(data_type: str | None, tz: dt.tzinfo = dt.UTC) -> Callable[[Any], Any] | None:
    """The target coercion for ``data_type`` (``None``: no coercion). Null stays null."""
    if not data_type:
        return None
    if data_type == "date":
        return _date_coercer
    if data_type == "datetime":
        return _datetime_coercer(tz)
    simple: dict[str, Callable[[Any], Any]] = {
        "array": _to_array,
        "boolean": to_boolean,
        "integer": to_integer,
        "number": to_number,
        "object": _to_object,
        "string": to_string,
        "uuid": to_uuid,
    }
    if data_type not in simple:
        raise ValueError(f"unknown data type {data_type!r} (expected one of {', '.join(DATA_TYPES)})")
    return simple[data_type]


def _date_coercer(value: Any) -> str:
    if type(value) is str and len(value) == 10:
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass  # the general path below says why
    return parse_date(value).isoformat()


def _datetime_coercer(tz: dt.tzinfo) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if type(value) is str:
            try:
                moment = dt.datetime.fromisoformat(value)
            except ValueError:
                moment = None  # the general path below says why
            if moment is not None:
                return (moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)).isoformat()
        return parse_datetime(value, tz).isoformat()

    return convert


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, (float, Decimal)):
        return math.isfinite(value) and value == int(value)
    return False


def _parses(parse: Callable[[Any], Any]) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        try:
            parse(value)
        except CoercionError:
            return False
        return True

    return check


def source_checker(data_type: str | None) -> Callable[[Any], bool] | None:
    """A predicate telling whether a source value is of ``data_type`` (``None``: any)."""
    if not data_type:
        return None
    checks: dict[str, Callable[[Any], bool]] = {
        "array": lambda v: isinstance(v, list),
        "boolean": lambda v: isinstance(v, bool),
        "date": _parses(lambda v: parse_date(v) if isinstance(v, str) and len(v.strip()) == 10 else _wrong_kind(v)),
        "datetime": _parses(
            lambda v: parse_datetime(v, dt.UTC) if isinstance(v, (str, dt.datetime)) else _wrong_kind(v)
        ),
        "integer": _is_integer,
        "number": lambda v: isinstance(v, (int, float, Decimal)) and not isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "string": lambda v: isinstance(v, str),
        "uuid": _parses(lambda v: to_uuid(v) if isinstance(v, (str, uuid.UUID)) else _wrong_kind(v)),
    }
    if data_type not in checks:
        raise ValueError(f"unknown data type {data_type!r} (expected one of {', '.join(DATA_TYPES)})")
    return checks[data_type]


def _wrong_kind(value: Any) -> None:
    raise CoercionError(json_type(value))


def json_ready(value: Any) -> Any:
    """``value`` with every ``Decimal`` replaced by an exact JSON number (or its string)."""
    if isinstance(value, Decimal):
        if value == value.to_integral_value() and abs(value.adjusted()) < 30:
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else format(value, "f")
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (dt.date, uuid.UUID)):
        return to_string(value)
    return value


def json_dumps(value: Any) -> str:
    """Serialise ``value`` as JSON, decimals exactly (see :func:`json_ready`)."""
    return json.dumps(json_ready(value), ensure_ascii=False, separators=(",", ":"))
