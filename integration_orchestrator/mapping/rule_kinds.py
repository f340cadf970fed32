"""The value rules: cast, lookup, template, jmespath, date_format, concat, split.

Each builder takes ``(rule, where, context, source_type)`` and returns the compiled
``value -> value`` function (see :mod:`integration_orchestrator.mapping.rules`).
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import jmespath
import jmespath.exceptions

from integration_orchestrator.jsontypes import json_type
from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.paths import MISSING, PathSyntaxError, compile_path
from integration_orchestrator.mapping.rule_base import (
    RuleContext,
    RuleDefinitionError,
    RuleFunction,
    guard,
    optional_str,
    require,
)
from integration_orchestrator.mapping.types import (
    DATA_TYPES,
    CoercionError,
    coercer,
    parse_date,
    parse_datetime,
    to_string,
)

__all__ = [
    "build_cast",
    "build_concat",
    "build_date_format",
    "build_jmespath",
    "build_lookup",
    "build_split",
    "build_template",
]

# Which source types a cast to each target type can ever succeed from.
_CASTABLE_FROM: dict[str, frozenset[str]] = {
    "string": frozenset(DATA_TYPES) - {"object", "array"},
    "integer": frozenset({"string", "integer", "number"}),
    "number": frozenset({"string", "integer", "number"}),
    "boolean": frozenset({"string", "integer", "number", "boolean"}),
    "date": frozenset({"string", "date", "datetime"}),
    "datetime": frozenset({"string", "date", "datetime", "integer", "number"}),
    "uuid": frozenset({"string", "uuid"}),
    "object": frozenset({"object"}),
    "array": frozenset({"array"}),
}


def build_cast(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    to = require(rule, "to", where, str, f"one of {', '.join(DATA_TYPES)}")
    if to not in DATA_TYPES:
        raise RuleDefinitionError(
            f"{where}.to", f"cannot cast to unknown type {to!r} (expected one of {', '.join(DATA_TYPES)})"
        )
    if source_type and source_type in DATA_TYPES and source_type not in _CASTABLE_FROM[to]:
        raise RuleDefinitionError(f"{where}.to", f"impossible cast from {source_type} to {to}")
    fmt = optional_str(rule, "format", where)
    tz = context.timezone
    if fmt is None:
        convert = coercer(to, tz)
        assert convert is not None
        return guard(convert)
    if to == "date":
        return guard(lambda value: parse_date(value, fmt).isoformat())
    if to == "datetime":
        return guard(lambda value: parse_datetime(value, tz, fmt).isoformat())
    if to == "string":
        return guard(lambda value: _format_as_string(value, fmt, tz))
    raise RuleDefinitionError(f"{where}.format", f"`format` is not supported for a cast to {to}")


def _format_as_string(value: Any, fmt: str, tz: dt.tzinfo) -> str:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        try:
            return format(Decimal(repr(value)) if isinstance(value, float) else value, fmt)
        except ValueError as exc:
            raise CoercionError(f"cannot format {value!r} with {fmt!r}: {exc}") from None
    if isinstance(value, str) and ("T" in value or " " in value.strip() or len(value.strip()) > 10):
        return parse_datetime(value, tz).strftime(fmt)
    return parse_date(value).strftime(fmt)


def _lookup_key(value: Any) -> str:
    return value if isinstance(value, str) else to_string(value)


def build_lookup(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    table = dict(require(rule, "values", where, Mapping, "an object of key -> value"))
    has_default = "default" in rule
    default = rule.get("default")
    tracer = context.tracer
    hit, miss = context.behaviour(f"{where}: lookup hit"), context.behaviour(f"{where}: lookup miss")

    def run(value: Any) -> Any:
        try:
            key = _lookup_key(value)
        except CoercionError:
            raise FieldFailure(f"cannot look up a {json_type(value)}", value) from None
        if key in table:
            if tracer is not None:
                tracer.add(hit)
            return table[key]
        if tracer is not None:
            tracer.add(miss)
        if has_default:
            return default
        raise FieldFailure(f"no lookup entry for {key!r}", value)

    if tracer is not None:
        return run

    def fast(value: Any) -> Any:  # a string key found in the table: one dict lookup
        if type(value) is str:
            found = table.get(value, _NOT_FOUND)
            if found is not _NOT_FOUND:
                return found
        return run(value)

    return fast


_NOT_FOUND = object()
_STR = {str}


def build_template(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    text = require(rule, "template", where, str, 'a format string like "{first} {last}"')
    parts: list[tuple[str, str | None, Callable[[Any], Any] | None, str]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise RuleDefinitionError(f"{where}.template", f"invalid template: {exc}") from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, None, ""))
            continue
        if not name or conversion:
            raise RuleDefinitionError(f"{where}.template", f"invalid placeholder {{{name}}} (use {{field}} or {{a.b}})")
        try:
            reader = compile_path(name).reader()
        except PathSyntaxError as exc:
            raise RuleDefinitionError(f"{where}.template", f"placeholder {{{name}}}: {exc}") from None
        parts.append((literal, name, reader, spec or ""))

    fast = _positional_template(parts)

    def run(value: Any) -> Any:
        if fast is not None and type(value) is dict:
            positional, names = fast
            try:
                items = [value[name] for name in names]
            except KeyError:
                items = None
            if items is not None and set(map(type, items)) <= _STR:
                return positional.format(*items)
        scope = value if isinstance(value, dict) else {"value": value}
        out: list[str] = []
        for literal, name, reader, spec in parts:
            out.append(literal)
            if reader is None:
                continue
            item = reader(scope)
            if item is MISSING:
                raise FieldFailure(f"template field `{name}` is missing", value)
            if item is None:
                continue
            try:
                out.append(format(item, spec) if spec else to_string(item))
            except (CoercionError, ValueError) as exc:
                raise FieldFailure(f"template field `{name}`: {exc}", value) from None
        return "".join(out)

    return run


def _positional_template(parts: list[tuple[str, str | None, Any, str]]) -> tuple[str, list[str]] | None:
    """For templates whose placeholders are plain field names without format spec:
    the template with positional fields, and the names (string values only)."""
    names: list[str] = []
    text: list[str] = []
    for literal, name, _reader, spec in parts:
        text.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is None:
            continue
        if spec or not name.isidentifier():
            return None
        text.append(f"{{{len(names)}}}")
        names.append(name)
    return "".join(text), names


def build_jmespath(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    expression = require(rule, "expression", where, str, "a JMESPath expression")
    try:
        compiled = jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise RuleDefinitionError(f"{where}.expression", f"invalid JMESPath {expression!r}: {exc}") from None

    def run(value: Any) -> Any:
        try:
            return compiled.search(value)
        except jmespath.exceptions.JMESPathError as exc:
            raise FieldFailure(f"JMESPath {expression!r} failed: {exc}", value) from None

    return run


def build_date_format(
    rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None
) -> RuleFunction:
    source_format = optional_str(rule, "from", where)
    target_format = optional_str(rule, "to", where)
    if target_format is None:
        raise RuleDefinitionError(f"{where}.to", "`date_format` needs `to` (a strftime pattern)")
    tz = context.timezone
    for key, fmt in (("from", source_format), ("to", target_format)):
        if fmt is not None and "%" not in fmt:
            raise RuleDefinitionError(f"{where}.{key}", f"{fmt!r} is not a strftime pattern (no % directive)")

    def convert(value: Any) -> str:
        return parse_datetime(value, tz, source_format).strftime(target_format)

    return guard(convert)


def _separator(rule: Mapping[str, Any], where: str) -> str:
    separator = rule.get("separator", ",")
    if not isinstance(separator, str) or not separator:
        raise RuleDefinitionError(f"{where}.separator", "`separator` must be a non-empty string")
    return separator


def _field_names(rule: Mapping[str, Any], where: str) -> list[str] | None:
    names = rule.get("fields")
    if names is None:
        return None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise RuleDefinitionError(f"{where}.fields", "`fields` must be a non-empty list of field names")
    return names


def build_concat(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    separator = rule.get("separator", "")
    if not isinstance(separator, str):
        raise RuleDefinitionError(f"{where}.separator", "`separator` must be a string")
    names = _field_names(rule, where)

    def run(value: Any) -> Any:
        if names is not None:
            if not isinstance(value, dict):
                raise FieldFailure(f"concat with fields needs an object, got {json_type(value)}", value)
            items = [value.get(name) for name in names]
        elif isinstance(value, list):
            items = value
        else:
            raise FieldFailure(f"concat needs an array, got {json_type(value)}", value)
        try:
            return separator.join(to_string(item) for item in items if item is not None)
        except CoercionError as exc:
            raise FieldFailure(f"concat: {exc}", value) from None

    return run


def build_split(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    separator = _separator(rule, where)
    names = _field_names(rule, where)
    maxsplit = rule.get("maxsplit", -1 if names is None else len(names) - 1)
    if not isinstance(maxsplit, int) or isinstance(maxsplit, bool):
        raise RuleDefinitionError(f"{where}.maxsplit", "`maxsplit` must be an integer")

    def run(value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldFailure(f"split needs a string, got {json_type(value)}", value)
        parts = value.split(separator, maxsplit)
        if names is None:
            return parts
        if len(parts) != len(names):
            raise FieldFailure(f"split gave {len(parts)} part(s), expected {len(names)} ({', '.join(names)})", value)
        return dict(zip(names, parts, strict=True))

    return run
