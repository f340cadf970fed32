"""``transformation_rules``: each kind compiled once to a function ``value -> value``.

Kinds (``{"type": ...}``):

``direct``         the value unchanged.
``cast``           ``{"to": TYPE, "format": F}``: convert to TYPE (see :mod:`.types`).
                   ``format`` is a ``strptime`` pattern when a string becomes a date or
                   datetime, a ``strftime`` pattern when a date/datetime becomes a string,
                   and a ``format()`` spec (e.g. ``",.2f"``) when a number becomes a string.
                   A cast the source type can never satisfy is rejected at compile time.
``lookup``         ``{"values": {key: value}, "default": D}``: scalars are looked up by
                   their string form (``true``, ``42``, ``19.99``); no entry and no
                   ``default`` is an error of the field.
``template``       ``{"template": "{first} {last}"}``: placeholders are paths into the
                   value when it is an object (``{name.first}``, ``{items[0]}``);
                   ``{value}`` is the value itself otherwise. Null renders as ``""``.
``jmespath``       ``{"expression": E}``: E evaluated over the value.
``date_format``    ``{"from": F, "to": T}``: parse with F (default ISO 8601), format with T.
``concat``         ``{"separator": S, "fields": [...]}``: join an array (or the named
                   fields of an object) into a string; nulls are left out.
``split``          ``{"separator": S, "fields": [...], "maxsplit": N}``: a string into an
                   array (or into an object with ``fields`` as keys).
``transformation`` ``{"transformation_id": ID}``: run a reusable
                   ``integration_transformations`` row. An object value is passed as the
                   record; any other value as ``{"value": v}`` and the result's ``"value"``
                   is taken back. The transformation must yield exactly one record.
``chain``          ``{"steps": [rule, ...]}``: the rules in order.

Rule functions raise :class:`FieldFailure` with the reason when a value cannot be mapped.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import jmespath
import jmespath.exceptions

from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.paths import MISSING, PathSyntaxError, compile_path
from integration_orchestrator.mapping.types import (
    DATA_TYPES,
    CoercionError,
    coercer,
    parse_date,
    parse_datetime,
    to_string,
    type_name,
)

__all__ = [
    "RULE_KINDS",
    "RuleContext",
    "RuleDefinitionError",
    "RuleFunction",
    "compile_rules",
    "compile_transformation_row",
    "rule_behaviours",
    "transformation_function",
]

RuleFunction = Callable[[Any], Any]

RULE_KINDS = (
    "cast",
    "chain",
    "concat",
    "date_format",
    "direct",
    "jmespath",
    "lookup",
    "split",
    "template",
    "transformation",
)

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


class RuleDefinitionError(ValueError):
    """A rule is invalid; ``where`` is its JSON path inside ``transformation_rules``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


@dataclass
class RuleContext:
    """What compiling a rule needs besides the rule itself."""

    source_type: str | None = None
    timezone: dt.tzinfo = dt.timezone.utc
    transformations: Mapping[str, Any] | None = None
    tracer: set[str] | None = None
    behaviours: list[str] = field(default_factory=list)

    def behaviour(self, name: str) -> str:
        if name not in self.behaviours:
            self.behaviours.append(name)
        return name


def compile_rules(rules: Mapping[str, Any] | None, context: RuleContext) -> RuleFunction | None:
    """The function for a ``transformation_rules`` object (``None``: identity)."""
    if rules is None:
        return None
    return _compile(rules, "transformation_rules", context, context.source_type)


def rule_behaviours(rules: Mapping[str, Any] | None) -> list[str]:
    """The behaviours (branches) a rule set has, for test coverage."""
    context = RuleContext()
    compile_rules(rules, context)
    return list(context.behaviours)


def _compile(rule: Any, where: str, context: RuleContext, source_type: str | None) -> RuleFunction | None:
    if not isinstance(rule, Mapping):
        raise RuleDefinitionError(where, f"a rule must be an object with a `type`, got {type_name(rule)}")
    kind = rule.get("type")
    if kind is None:
        raise RuleDefinitionError(where, "a rule must include `type`")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise RuleDefinitionError(f"{where}.type", f"unknown rule type {kind!r} (expected one of {', '.join(RULE_KINDS)})")
    unknown = sorted(set(rule) - _KEYS[kind] - {"type", "children", "inverse"})
    if unknown:
        allowed = ", ".join(sorted(_KEYS[kind])) or "none"
        raise RuleDefinitionError(f"{where}.{unknown[0]}", f"unknown key `{unknown[0]}` for a `{kind}` rule (allowed: {allowed})")
    function = builder(rule, where, context, source_type)
    if function is None or context.tracer is None or kind == "chain":
        return function
    return _traced(function, context.tracer, context.behaviour(f"{where}: {kind} applied"), context.behaviour(f"{where}: {kind} failed"))


def _traced(function: RuleFunction, tracer: set[str], ok: str, failed: str) -> RuleFunction:
    def run(value: Any) -> Any:
        try:
            result = function(value)
        except FieldFailure:
            tracer.add(failed)
            raise
        tracer.add(ok)
        return result

    return run


def _require(rule: Mapping[str, Any], key: str, where: str, kinds: type | tuple[type, ...], what: str) -> Any:
    if key not in rule:
        raise RuleDefinitionError(f"{where}.{key}", f"`{rule['type']}` needs `{key}` ({what})")
    value = rule[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise RuleDefinitionError(f"{where}.{key}", f"`{key}` must be {what}, got {type_name(value)}")
    return value


def _optional_str(rule: Mapping[str, Any], key: str, where: str) -> str | None:
    value = rule.get(key)
    if value is not None and not isinstance(value, str):
        raise RuleDefinitionError(f"{where}.{key}", f"`{key}` must be a string, got {type_name(value)}")
    return value


def _direct(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction | None:
    return None


def _cast(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    to = _require(rule, "to", where, str, f"one of {', '.join(DATA_TYPES)}")
    if to not in DATA_TYPES:
        raise RuleDefinitionError(f"{where}.to", f"cannot cast to unknown type {to!r} (expected one of {', '.join(DATA_TYPES)})")
    if source_type and source_type in DATA_TYPES and source_type not in _CASTABLE_FROM[to]:
        raise RuleDefinitionError(f"{where}.to", f"impossible cast from {source_type} to {to}")
    fmt = _optional_str(rule, "format", where)
    tz = context.timezone
    if fmt is None:
        convert = coercer(to, tz)
        assert convert is not None
        return _guard(convert)
    if to == "date":
        return _guard(lambda value: parse_date(value, fmt).isoformat())
    if to == "datetime":
        return _guard(lambda value: parse_datetime(value, tz, fmt).isoformat())
    if to == "string":
        return _guard(lambda value: _format_as_string(value, fmt, tz))
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


def _guard(function: Callable[[Any], Any]) -> RuleFunction:
    def run(value: Any) -> Any:
        try:
            return function(value)
        except CoercionError as exc:
            raise FieldFailure(str(exc), value) from None

    return run


def _lookup_key(value: Any) -> str:
    return value if isinstance(value, str) else to_string(value)


def _lookup(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    table = dict(_require(rule, "values", where, Mapping, "an object of key -> value"))
    has_default = "default" in rule
    default = rule.get("default")
    tracer = context.tracer
    hit, miss = context.behaviour(f"{where}: lookup hit"), context.behaviour(f"{where}: lookup miss")

    def run(value: Any) -> Any:
        try:
            key = _lookup_key(value)
        except CoercionError:
            raise FieldFailure(f"cannot look up a {type_name(value)}", value) from None
        if key in table:
            if tracer is not None:
                tracer.add(hit)
            return table[key]
        if tracer is not None:
            tracer.add(miss)
        if has_default:
            return default
        raise FieldFailure(f"no lookup entry for {key!r}", value)

    return run


def _template(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    text = _require(rule, "template", where, str, 'a format string like "{first} {last}"')
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

    def run(value: Any) -> Any:
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


def _jmespath(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    expression = _require(rule, "expression", where, str, "a JMESPath expression")
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


def _date_format(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    source_format = _optional_str(rule, "from", where)
    target_format = _optional_str(rule, "to", where)
    if target_format is None:
        raise RuleDefinitionError(f"{where}.to", "`date_format` needs `to` (a strftime pattern)")
    tz = context.timezone
    for key, fmt in (("from", source_format), ("to", target_format)):
        if fmt is not None and "%" not in fmt:
            raise RuleDefinitionError(f"{where}.{key}", f"{fmt!r} is not a strftime pattern (no % directive)")

    def convert(value: Any) -> str:
        return parse_datetime(value, tz, source_format).strftime(target_format)

    return _guard(convert)


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


def _concat(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    separator = rule.get("separator", "")
    if not isinstance(separator, str):
        raise RuleDefinitionError(f"{where}.separator", "`separator` must be a string")
    names = _field_names(rule, where)

    def run(value: Any) -> Any:
        if names is not None:
            if not isinstance(value, dict):
                raise FieldFailure(f"concat with fields needs an object, got {type_name(value)}", value)
            items = [value.get(name) for name in names]
        elif isinstance(value, list):
            items = value
        else:
            raise FieldFailure(f"concat needs an array, got {type_name(value)}", value)
        try:
            return separator.join(to_string(item) for item in items if item is not None)
        except CoercionError as exc:
            raise FieldFailure(f"concat: {exc}", value) from None

    return run


def _split(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    separator = _separator(rule, where)
    names = _field_names(rule, where)
    maxsplit = rule.get("maxsplit", -1 if names is None else len(names) - 1)
    if not isinstance(maxsplit, int) or isinstance(maxsplit, bool):
        raise RuleDefinitionError(f"{where}.maxsplit", "`maxsplit` must be an integer")

    def run(value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldFailure(f"split needs a string, got {type_name(value)}", value)
        parts = value.split(separator, maxsplit)
        if names is None:
            return parts
        if len(parts) != len(names):
            raise FieldFailure(f"split gave {len(parts)} part(s), expected {len(names)} ({', '.join(names)})", value)
        return dict(zip(names, parts))

    return run


def _transformation(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction:
    ident = rule.get("transformation_id")
    if ident is None or isinstance(ident, (bool, dict, list)):
        raise RuleDefinitionError(f"{where}.transformation_id", "`transformation` needs `transformation_id` (an integration_transformations id)")
    available = context.transformations or {}
    compiled = available.get(str(ident))
    if isinstance(compiled, Mapping):  # a raw integration_transformations row: compile it here
        compiled = compile_transformation_row(compiled)
    if compiled is None:
        if not _transforms_available():
            raise RuleDefinitionError(
                f"{where}.type",
                "`transformation` rules are not yet supported: the transformation engine "
                "(integration_orchestrator.transforms) is not installed",
            )
        raise RuleDefinitionError(f"{where}.transformation_id", f"transformation {ident} not found (or not compiled for this plan)")
    if isinstance(compiled, Exception):
        raise RuleDefinitionError(f"{where}.transformation_id", f"transformation {ident} is invalid: {compiled}")
    return transformation_function(compiled, str(ident))


def transformation_function(compiled: Any, ident: str) -> RuleFunction:
    """Wrap a compiled transformation as ``value -> value`` (see the module docstring)."""

    def run(value: Any) -> Any:
        wrapped = not isinstance(value, dict)
        record = {"value": value} if wrapped else value
        try:
            outcome = compiled.apply([record])
        except Exception as exc:  # an engine error is this field's error, not a crash
            raise FieldFailure(f"transformation {ident} failed: {exc}", value) from None
        errors = list(getattr(outcome, "errors", []) or [])
        if errors:
            messages = "; ".join(str(getattr(error, "message", error)) for error in errors)
            raise FieldFailure(f"transformation {ident} failed: {messages}", value)
        records = list(outcome.records)
        if len(records) != 1:
            raise FieldFailure(f"transformation {ident} returned {len(records)} records, expected 1", value)
        result = records[0]
        if wrapped and isinstance(result, dict) and "value" in result:
            return result["value"]
        return result

    return run


def compile_transformation_row(row: Mapping[str, Any]) -> Any:
    """Compile a transformation row (the exception instead when it is invalid)."""
    try:
        from integration_orchestrator.transforms import compile_transformation
    except ImportError as exc:
        return exc
    try:
        return compile_transformation(row)
    except Exception as exc:  # a bad transformation row is the mapping's definition error
        return exc


def _transforms_available() -> bool:
    try:
        import integration_orchestrator.transforms  # noqa: F401
    except ImportError:
        return False
    return True


def _chain(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction | None:
    steps = _require(rule, "steps", where, list, "a list of rules")
    functions: list[RuleFunction] = []
    current_type = source_type
    for index, step in enumerate(steps):
        function = _compile(step, f"{where}.steps[{index}]", context, current_type)
        if isinstance(step, Mapping) and step.get("type") == "cast":
            current_type = step.get("to")
        elif isinstance(step, Mapping) and step.get("type") not in ("direct", None):
            current_type = None
        if function is not None:
            functions.append(function)
    return _compose(functions)


def _compose(functions: Sequence[RuleFunction]) -> RuleFunction | None:
    if not functions:
        return None
    if len(functions) == 1:
        return functions[0]

    def run(value: Any) -> Any:
        for function in functions:
            value = function(value)
        return value

    return run


_KEYS: dict[str, frozenset[str]] = {
    "cast": frozenset({"to", "format"}),
    "chain": frozenset({"steps"}),
    "concat": frozenset({"separator", "fields"}),
    "date_format": frozenset({"from", "to"}),
    "direct": frozenset(),
    "jmespath": frozenset({"expression"}),
    "lookup": frozenset({"values", "default", "inverse_default"}),
    "split": frozenset({"separator", "fields", "maxsplit"}),
    "template": frozenset({"template"}),
    "transformation": frozenset({"transformation_id"}),
}

_BUILDERS: dict[str, Callable[[Mapping[str, Any], str, RuleContext, str | None], RuleFunction | None]] = {
    "cast": _cast,
    "chain": _chain,
    "concat": _concat,
    "date_format": _date_format,
    "direct": _direct,
    "jmespath": _jmespath,
    "lookup": _lookup,
    "split": _split,
    "template": _template,
    "transformation": _transformation,
}
