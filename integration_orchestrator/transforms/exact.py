"""Exact values through engines that have no exact types (JavaScript, DuckDB).

QuickJS has no decimal or date type, and DuckDB gives a whole column one scale and one
time zone, so what such an engine hands back for a ``Decimal``, ``date`` or ``datetime``
can differ from what the op holds even when the code never touched it (``486.20`` comes
back ``486.2``, ``+02:00`` comes back in UTC, a JSON text stays text). :class:`Originals`
remembers what each exact value was sent to the engine as, by field path;
:meth:`Originals.restore` puts the original back wherever the engine returns that same
sent value (same kind, equal) at the same path. List positions are not part of a path,
so reordering or filtering a list keeps its values exact. When two originals were sent
as the same value at the same path (``486.2`` and ``486.20`` both as the number 486.2),
the first one wins: equal in value, the scale of the first.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

__all__ = ["Originals", "Path", "exact_kind"]

Path = tuple[Any, ...]
"""Dict keys from the record down to a value; list positions are left out."""

_KINDS: dict[type, str] = {int: "number", float: "number", str: "str"}


def exact_kind(value: Any) -> str | None:
    """What an engine value is compared as: ``number`` (int and float), ``str``, ``decimal``,
    ``date``, ``datetime``; None for what is never restored (null, booleans, containers)."""
    kind = type(value)
    if kind in _KINDS:
        return _KINDS[kind]
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return None


class Originals:
    """Originals of the exact values of one record (or one batch), by path and sent value."""

    __slots__ = ("_prefixes", "_sent")

    def __init__(self) -> None:
        self._sent: dict[tuple[Path, str, Any], Any] = {}
        self._prefixes: set[Path] = set()

    def __bool__(self) -> bool:
        return bool(self._sent)

    def add(self, path: Path, sent: Any, original: Any) -> None:
        """``original`` was sent to the engine as ``sent`` at ``path``."""
        kind = exact_kind(sent)
        if kind is None:
            return
        try:
            self._sent.setdefault((path, kind, sent), original)
        except TypeError:  # Decimal("NaN") does not hash: it cannot be looked up either
            return
        for end in range(len(path) + 1):
            self._prefixes.add(path[:end])

    def restore(self, value: Any, path: Path = ()) -> Any:
        """``value`` (what the engine returned at ``path``) with the originals put back."""
        if not self._sent or path not in self._prefixes:
            return value
        return self._restore(value, path)

    def _restore(self, value: Any, path: Path) -> Any:
        kind = type(value)
        if kind is dict:
            out = {}
            for key, item in value.items():
                inner = (*path, key)
                out[key] = self._restore(item, inner) if inner in self._prefixes else item
            return out
        if kind is list:
            return [self._restore(item, path) for item in value]
        sent_kind = exact_kind(value)
        if sent_kind is None:
            return value
        try:
            return self._sent.get((path, sent_kind, value), value)
        except TypeError:
            return value
