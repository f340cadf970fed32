"""JSONPath engine (RFC 9535, ``python-jsonpath`` in strict mode).

``{"path": "$..."}`` or ``{"fields": {"target": "$.source", ...}}``.

- map: ``fields`` builds a new record; ``path`` must select an object.
- filter: the query runs against a one-element array holding the record, so
  ``$[?@.age > 18]`` keeps adults and ``$[?@.email]`` keeps records with an email; the
  record is kept when the query selects a node (with ``fields``: when every path does).
- enrich: like map, the result is merged into the record.
- validate: ``path`` like filter (no node: the record fails); ``fields``: each path that
  selects nothing is an error.
- aggregate/custom: ``path`` runs against the list of records; the selected objects are
  the output records.

Singular queries (names and indexes only) are compiled to key tuples: the fast path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jsonpath import JSONPathEnvironment, JSONPathError

from integration_orchestrator.transforms.base import Engine, LogicError, Program, RecordFailure

__all__ = ["JSONPathEngine", "compile_query"]

_ENV: JSONPathEnvironment | None = None
_MISSING = object()

Getter = Callable[[Any], Any]  # returns _MISSING or a value (singular) / list of values


def _env() -> JSONPathEnvironment:
    global _ENV
    if _ENV is None:
        _ENV = JSONPathEnvironment(strict=True)
    return _ENV


def _keys(path: Any) -> tuple[str | int, ...] | None:
    keys: list[str | int] = []
    for segment in path.segments:
        if type(segment).__name__ != "JSONPathChildSegment" or len(segment.selectors) != 1:
            return None
        selector = segment.selectors[0]
        kind = type(selector).__name__
        if kind == "NameSelector":
            keys.append(selector.name)
        elif kind == "IndexSelector" and selector.index >= 0:
            keys.append(selector.index)
        else:
            return None
    return tuple(keys)


def _key_getter(keys: tuple[str | int, ...]) -> Getter:
    def get(data: Any) -> Any:
        for key in keys:
            if isinstance(key, str):
                if type(data) is not dict or key not in data:
                    return _MISSING
            elif type(data) is not list or key >= len(data):
                return _MISSING
            data = data[key]
        return data

    return get


def compile_query(text: str) -> tuple[Getter, bool]:
    """Compile a query: ``(getter, singular)``. Raises ``JSONPathError`` on bad syntax."""
    path = _env().compile(text)
    keys = _keys(path) if hasattr(path, "segments") else None
    if keys is not None:
        return _key_getter(keys), True

    def nodes(data: Any) -> Any:
        found = path.findall(data)
        return found if found else _MISSING

    return nodes, False


def _parse(logic: Mapping[str, Any], transformation_type: str) -> tuple[str, Any]:
    has_path, has_fields = "path" in logic, "fields" in logic
    if has_path == has_fields:
        raise LogicError("path", 'give exactly one of "path" (a query) or "fields" ({target: query})')
    if has_path:
        if not isinstance(logic["path"], str) or not logic["path"].strip():
            raise LogicError("path", "must be a non-empty JSONPath query string")
        return "path", logic["path"]
    fields = logic["fields"]
    if not isinstance(fields, Mapping) or not fields or not all(isinstance(v, str) for v in fields.values()):
        raise LogicError("fields", "must be a non-empty object mapping target names to JSONPath queries")
    if transformation_type in ("aggregate", "custom"):
        raise LogicError("fields", f'{transformation_type} needs "path" (a query over the list of records)')
    return "fields", dict(fields)


class JSONPathEngine(Engine):
    language = "jsonpath"
    sandboxed = True

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        kind, value = _parse(logic, transformation_type)
        queries = {"path": value} if kind == "path" else {f"fields.{k}": v for k, v in value.items()}
        for where, text in queries.items():
            try:
                compile_query(text)
            except JSONPathError as exc:
                raise LogicError(where, f"invalid JSONPath (RFC 9535): {' '.join(str(exc).split())}") from None
            except RecursionError:
                raise LogicError(where, "invalid JSONPath (RFC 9535): nested too deeply") from None

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        kind, value = _parse(logic, transformation_type)
        if kind == "path":
            getter, singular = compile_query(value)
            return _path_program(transformation_type, getter, singular)
        return _fields_program(transformation_type, {k: compile_query(v) for k, v in value.items()})


def _value(getter: Getter, singular: bool, data: Any) -> Any:
    found = getter(data)
    if found is _MISSING:
        return None if singular else []
    return found


def _guard(fn: Callable[[Any], Any]) -> Program:
    def run(records: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for record in records:
            try:
                out.append(fn(record))
            except (JSONPathError, RecursionError, TypeError, ValueError) as exc:
                out.append(RecordFailure(f"JSONPath error: {exc}"))
        return out

    return run


def _path_program(transformation_type: str, getter: Getter, singular: bool) -> Program:
    if transformation_type in ("aggregate", "custom"):
        return lambda records: _as_list(getter(records), singular)
    if transformation_type == "filter":
        return _guard(lambda r: getter([r]) is not _MISSING)
    if transformation_type == "validate":
        return _guard(lambda r: None if getter([r]) is not _MISSING else "record does not match the path")
    return _guard(lambda r: _value(getter, singular, r))


def _as_list(found: Any, singular: bool) -> Any:
    if found is _MISSING:
        return []
    return [found] if singular and not isinstance(found, list) else found


def _fields_program(transformation_type: str, getters: dict[str, tuple[Getter, bool]]) -> Program:
    if transformation_type == "filter":
        return _guard(lambda r: all(g(r) is not _MISSING for g, _ in getters.values()))
    if transformation_type == "validate":
        return _guard(lambda r: [f"`{name}` is missing" for name, (g, _) in getters.items() if g(r) is _MISSING])
    return _guard(lambda r: {name: _value(g, s, r) for name, (g, s) in getters.items()})
