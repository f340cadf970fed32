"""JSON that carries ``Decimal``, dates and datetimes exactly (tagged objects).

orjson text in which a ``Decimal`` is ``{"$io": "decimal", "v": "486.20"}``, a ``date``
``{"$io": "date", "v": "2026-01-31"}``, an integer beyond 64 bits
``{"$io": "int", "v": "..."}``, a ``datetime`` ``{"$io": "datetime", "v": <isoformat>}``
and a real object that happens to have an ``"$io"`` key is wrapped as
``{"$io": "object", "v": {...}}``, so every value reads back equal, of the same type and
with the same scale or offset. Used for batch columns whose values mix JSON types
(:mod:`.convert`) and by the transformation sandbox's pipe codec.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

__all__ = ["TAG", "dumps", "loads", "tag", "untag"]

TAG = "$io"


def tag(value: Any) -> Any:
    """``value`` with exact types replaced by tagged objects (plain JSON types unchanged)."""
    kind = type(value)
    if kind is int:
        return value if -(2**63) <= value < 2**63 else {TAG: "int", "v": str(value)}
    if kind is str or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        tagged = {k: tag(v) for k, v in value.items()}
        return {TAG: "object", "v": tagged} if TAG in value else tagged
    if kind is list or kind is tuple:
        return [tag(v) for v in value]
    if isinstance(value, Decimal):
        return {TAG: "decimal", "v": str(value)}
    if isinstance(value, dt.datetime):
        return {TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {TAG: "date", "v": value.isoformat()}
    if isinstance(value, dict):
        return tag(dict(value))
    return value  # orjson says what it cannot encode


_UNTAG: dict[str, Callable[[str], Any]] = {
    "int": int,
    "decimal": Decimal,
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
}


def untag(value: Any) -> Any:
    """The inverse of :func:`tag`."""
    if type(value) is dict:
        kind = value.get(TAG)
        if kind is not None and len(value) == 2 and "v" in value:
            if kind == "object":
                return {k: untag(v) for k, v in value["v"].items()}
            if kind in _UNTAG:
                return _UNTAG[kind](value["v"])
        return {k: untag(v) for k, v in value.items()}
    if type(value) is list:
        return [untag(v) for v in value]
    return value


def dumps(value: Any) -> bytes:
    return orjson.dumps(tag(value), option=orjson.OPT_NON_STR_KEYS)


def loads(data: bytes | str) -> Any:
    return untag(orjson.loads(data))
