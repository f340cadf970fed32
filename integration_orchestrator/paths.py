"""Paths into records: RFC 9535 JSONPath or dotted shorthand, the one path grammar of the package.

Every path is parsed and validated by ``python-jsonpath`` in strict (RFC 9535) mode.
Dotted shorthand (``a.b[0].c``, ``items[*].sku``, ``a["x y"].b``) is translated to
JSONPath first (:func:`to_jsonpath`), so both notations mean exactly the same thing.

The mapping engine reads and writes values along these paths
(:mod:`integration_orchestrator.mapping.paths`); masking matches record fields against
their keys, wildcards included (:func:`wildcard_keys`, used by
:mod:`integration_orchestrator.masking`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonpath
from jsonpath.segments import JSONPathChildSegment
from jsonpath.selectors import IndexSelector, NameSelector, WildcardSelector

__all__ = [
    "WILDCARD",
    "Keys",
    "PathSyntaxError",
    "dotted_to_jsonpath",
    "parse_jsonpath",
    "singular_keys",
    "to_jsonpath",
    "wildcard_keys",
]

#: the key standing for a wildcard selector (``[*]``, ``.*``) in :func:`wildcard_keys`
WILDCARD = "*"

Keys = tuple[str | int, ...]

_ENV = jsonpath.JSONPathEnvironment(strict=True)
_DOTTED_TOKEN = re.compile(
    r"""\.?(?P<name>[^.\[\]'"]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<star>\*)\]"""
    r"""|\[(?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\]"""
)


class PathSyntaxError(ValueError):
    """A path is not valid JSONPath (RFC 9535) nor valid dotted shorthand."""


def to_jsonpath(path: object) -> str:
    """The RFC 9535 form of ``path`` (JSONPath is returned unchanged)."""
    text = path
    if not isinstance(text, str) or not text.strip():
        raise PathSyntaxError("the path is empty")
    if text.startswith("$"):
        return text  # RFC 9535: leading/trailing whitespace is invalid, the parser says so
    return dotted_to_jsonpath(text)


def dotted_to_jsonpath(path: str) -> str:
    """The RFC 9535 form of dotted shorthand ``path`` (a leading ``$`` is a name here)."""
    if path != path.strip():
        raise PathSyntaxError(f"dotted path {path!r} has leading or trailing whitespace")
    parts = ["$"]
    position = 0
    while position < len(path):
        match = _DOTTED_TOKEN.match(path, position)
        if match is None or (match.group("name") is not None and position > 0 and path[position] != "."):
            raise PathSyntaxError(f"cannot read dotted path {path!r} at character {position + 1}")
        if match.group("name") is not None:
            if position == 0 and path[0] == ".":
                raise PathSyntaxError(f"dotted path {path!r} starts with '.'")
            parts.append(f"[{json.dumps(match.group('name'), ensure_ascii=False)}]")
        elif match.group("index") is not None:
            parts.append(f"[{match.group('index')}]")
        elif match.group("star") is not None:
            parts.append("[*]")
        else:
            parts.append(f"[{match.group('quoted')}]")
        position = match.end()
    if path.endswith("."):
        raise PathSyntaxError(f"dotted path {path!r} ends with '.'")
    return "".join(parts)


def parse_jsonpath(path: str) -> tuple[str, Any]:
    """``path``'s JSONPath text and its compiled ``python-jsonpath`` query."""
    text = to_jsonpath(path)
    try:
        return text, _ENV.compile(text)
    except jsonpath.JSONPathError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PathSyntaxError(f"invalid JSONPath {path!r}: {first_line}") from None


def singular_keys(query: Any) -> Keys | None:
    """The keys of a singular query (names and indexes only), else None."""
    return _keys(query, wildcards=False)


def wildcard_keys(path: str) -> Keys:
    """The keys of ``path``, a wildcard selector as :data:`WILDCARD`.

    Only name, index and wildcard selectors, one per segment, have keys: other paths
    (descendants, slices, filters, unions) raise :class:`PathSyntaxError`.
    """
    keys = _keys(parse_jsonpath(path)[1], wildcards=True)
    if keys is None:
        raise PathSyntaxError(f"path {path!r} selects more than names, indexes and wildcards")
    return keys


def _keys(query: Any, *, wildcards: bool) -> Keys | None:
    segments = getattr(query, "segments", None)
    if segments is None:
        return None
    keys: list[str | int] = []
    for segment in segments:
        if type(segment) is not JSONPathChildSegment or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        if type(selector) is NameSelector:
            keys.append(selector.name)
        elif type(selector) is IndexSelector:
            keys.append(selector.index)
        elif wildcards and type(selector) is WildcardSelector:
            keys.append(WILDCARD)
        else:
            return None
    return tuple(keys)
