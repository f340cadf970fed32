"""The JSON type names of Python values, for messages: one vocabulary for the package."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["json_type", "json_type_phrase"]

#: checked in order: a bool is also an int
_NAMES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    ((float, Decimal), "number"),
    (str, "string"),
    (dict, "object"),
    ((list, tuple), "array"),
)
_PHRASES = {
    "boolean": "a boolean",
    "integer": "a number",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


def json_type(value: Any) -> str:
    """The JSON Schema name of ``value``'s type (``null``, ``boolean``, ``integer``, ``number``,
    ``string``, ``array``, ``object``); a value of no JSON type by its class name."""
    if value is None:
        return "null"
    return next((name for kinds, name in _NAMES if isinstance(value, kinds)), type(value).__name__)


def json_type_phrase(value: Any) -> str:
    """``value``'s JSON type for prose, integers being numbers: ``a number``, ``an object``, ``null``."""
    name = json_type(value)
    return _PHRASES.get(name, name)
