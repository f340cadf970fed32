"""Source and target paths, compiled once: readers and the writer of the mapping engine.

Paths follow the package's one grammar (RFC 9535 JSONPath or dotted shorthand, see
:mod:`integration_orchestrator.paths`). A *singular* path (only name and index
selectors, e.g. ``$.a.b[0]['x y']``) is compiled to a tuple of keys (``str`` for names,
``int`` for indexes) and read with plain subscripts, which is what makes applying a plan
fast. A non-singular path (wildcards, slices, filters, descendants) is read with the
library and yields the list of matched values. Target paths must be singular and use no
negative index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from integration_orchestrator.paths import PathSyntaxError, parse_jsonpath, singular_keys, to_jsonpath

__all__ = [
    "MISSING",
    "CompiledPath",
    "PathSyntaxError",
    "compile_path",
    "to_jsonpath",
    "write_value",
]


class _Missing:
    """The value of a path that matches nothing (distinct from JSON null)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class CompiledPath:
    """A parsed path. ``keys`` is set for singular paths, ``query`` for the others."""

    text: str
    jsonpath: str
    keys: tuple[str | int, ...] | None
    query: Any

    @property
    def singular(self) -> bool:
        return self.keys is not None

    def reader(self) -> Callable[[Any], Any]:
        """A function ``document -> value`` (``MISSING`` when nothing matches).

        Non-singular paths return the list of matched values (``MISSING`` when empty).
        """
        if self.keys is None:
            return _query_reader(self.query)
        return _key_reader(self.keys)

    def read(self, document: Any) -> Any:
        return self.reader()(document)


def compile_path(path: str, *, writable: bool = False) -> CompiledPath:
    """Parse and validate ``path``; ``writable`` requires a singular, non-root path."""
    text, query = parse_jsonpath(path)
    keys = singular_keys(query)
    if writable:
        if keys is None:
            raise PathSyntaxError(
                f"target path {path!r} is not singular (no wildcards, slices, filters or '..' in a target)"
            )
        if not keys:
            raise PathSyntaxError(f"target path {path!r} must name at least one key below the root")
        if any(isinstance(key, int) and key < 0 for key in keys):
            raise PathSyntaxError(f"target path {path!r} uses a negative index")
    return CompiledPath(text=path, jsonpath=text, keys=keys, query=None if keys is not None else query)


def _query_reader(query: Any) -> Callable[[Any], Any]:
    def read(document: Any) -> Any:
        values = [node.value for node in query.finditer(document)]
        return values if values else MISSING

    return read


def _key_reader(keys: tuple[str | int, ...]) -> Callable[[Any], Any]:
    if not keys:
        return lambda document: document
    if all(isinstance(key, str) for key in keys):
        return _name_reader(keys)

    def read(document: Any) -> Any:
        value = document
        for key in keys:
            if isinstance(key, str):
                if type(value) is not dict:
                    return MISSING
                value = value.get(key, MISSING)
                if value is MISSING:
                    return MISSING
            else:
                if type(value) is not list or not -len(value) <= key < len(value):
                    return MISSING
                value = value[key]
        return value

    return read


def _name_reader(keys: tuple[str | int, ...]) -> Callable[[Any], Any]:
    # Name-only paths use plain subscripts: a missing key raises KeyError, and a
    # str, list, number or null in the way raises TypeError, both meaning MISSING.
    if len(keys) == 1:
        (k1,) = keys

        def read1(document: Any) -> Any:
            try:
                return document[k1]
            except (KeyError, TypeError):
                return MISSING

        return read1
    if len(keys) == 2:
        k1, k2 = keys

        def read2(document: Any) -> Any:
            try:
                return document[k1][k2]
            except (KeyError, TypeError):
                return MISSING

        return read2
    if len(keys) == 3:
        k1, k2, k3 = keys

        def read3(document: Any) -> Any:
            try:
                return document[k1][k2][k3]
            except (KeyError, TypeError):
                return MISSING

        return read3

    def read_n(document: Any) -> Any:
        value = document
        try:
            for key in keys:
                value = value[key]
        except (KeyError, TypeError):
            return MISSING
        return value

    return read_n


def write_value(target: dict[str, Any], keys: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``keys`` in ``target``, creating objects and arrays on the way.

    Raises ``TypeError`` naming the conflict when an existing value is in the way
    (e.g. writing ``a.b`` where ``a`` already holds a string).
    """
    node: Any = target
    last = len(keys) - 1
    for position, key in enumerate(keys):
        is_last = position == last
        fresh: Any = None if is_last else ({} if isinstance(keys[position + 1], str) else [])
        if isinstance(key, str):
            if type(node) is not dict:
                raise TypeError(f"cannot set key {key!r}: the target holds {type(node).__name__} there")
            if is_last:
                node[key] = value
                return
            child = node.get(key)
            if child is None:
                child = node[key] = fresh
        else:
            if type(node) is not list:
                raise TypeError(f"cannot set index {key}: the target holds {type(node).__name__} there")
            if len(node) <= key:
                node.extend([None] * (key + 1 - len(node)))
            if is_last:
                node[key] = value
                return
            child = node[key]
            if child is None:
                child = node[key] = fresh
        node = child
