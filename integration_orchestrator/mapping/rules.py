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

from collections.abc import Callable, Mapping
from typing import Any

from integration_orchestrator.compose import compose
from integration_orchestrator.jsontypes import json_type
from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.rule_base import RuleContext, RuleDefinitionError, RuleFunction, require
from integration_orchestrator.mapping.rule_kinds import (
    build_cast,
    build_concat,
    build_date_format,
    build_jmespath,
    build_lookup,
    build_split,
    build_template,
)
from integration_orchestrator.mapping.transformation_rule import build_transformation

__all__ = ["RULE_KINDS", "RuleContext", "RuleDefinitionError", "RuleFunction", "compile_rules", "rule_behaviours"]

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
        raise RuleDefinitionError(where, f"a rule must be an object with a `type`, got {json_type(rule)}")
    kind = rule.get("type")
    if kind is None:
        raise RuleDefinitionError(where, "a rule must include `type`")
    builder = _BUILDERS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        raise RuleDefinitionError(
            f"{where}.type", f"unknown rule type {kind!r} (expected one of {', '.join(RULE_KINDS)})"
        )
    unknown = sorted(set(rule) - _KEYS[kind] - {"type", "children", "inverse"})
    if unknown:
        allowed = ", ".join(sorted(_KEYS[kind])) or "none"
        raise RuleDefinitionError(
            f"{where}.{unknown[0]}", f"unknown key `{unknown[0]}` for a `{kind}` rule (allowed: {allowed})"
        )
    function = builder(rule, where, context, source_type)
    if function is None or context.tracer is None or kind == "chain":
        return function
    return _traced(
        function,
        context.tracer,
        context.behaviour(f"{where}: {kind} applied"),
        context.behaviour(f"{where}: {kind} failed"),
    )


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


def _direct(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction | None:
    return None


def _chain(rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None) -> RuleFunction | None:
    steps = require(rule, "steps", where, list, "a list of rules")
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
    return compose(functions)


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
    "cast": build_cast,
    "chain": _chain,
    "concat": build_concat,
    "date_format": build_date_format,
    "direct": _direct,
    "jmespath": build_jmespath,
    "lookup": build_lookup,
    "split": build_split,
    "template": build_template,
    "transformation": build_transformation,
}
