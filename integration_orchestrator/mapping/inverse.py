"""Deriving the outbound form of a bidirectional mapping, and whether it is exact.

The inverse of a row swaps ``source_path``/``target_path``,
``source_data_type``/``target_data_type`` and ``validation_rules`` pre/post, and inverts
its ``transformation_rules``. A rule is *exactly invertible* when its inverse restores
every value of its whole domain; a *data-dependent* one restores most values but not all;
the others are refused at load with the reason and a hint (ARCHITECTURE.md §6.2):

==============  ==========================================  ==================================
rule            inverse                                     exact?
==============  ==========================================  ==================================
direct          direct                                      yes (when both data types agree)
cast            a cast back to the type before it           data-dependent (``"007"`` -> 7 -> ``"7"``)
                (``source_data_type`` for the first rule);
                a date/datetime format is reused
lookup          keys and values swapped (values unique)     yes for string keys and values on a
                                                            string source without ``default``;
                                                            else data-dependent
date_format     ``from`` and ``to`` swapped                 data-dependent (``1/2/2024`` ->
                                                            ``01/02/2024``); refused when ``to``
                                                            drops a field of ``from``
concat / split  split / concat, same separator and fields   data-dependent (the separator may
                                                            occur inside a value); refused
                                                            without a separator
chain           the inverted steps in reverse order         exact when every step is
template,       none: refused                               --
jmespath,
transformation
==============  ==========================================  ==================================

Any rule may carry an explicit ``"inverse": {rule}``, which is used as is (and is
data-dependent). ``custom`` mappings and non-singular source paths cannot be inverted.
The inverse keeps ``default_value`` only when its rules are ``direct``/casts.
:func:`round_trip_reason` says why a row is not exact (``None`` when it is); the compiler
then checks each record's round trip in both directions (``mapping/roundtrip.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from integration_orchestrator.mapping.columns import data_type, definition_error
from integration_orchestrator.mapping.types import CoercionError, to_string
from integration_orchestrator.model.rows import MappingRow

__all__ = ["InversionError", "invert_row", "invert_rules", "round_trip_reason"]

_HINT = "; give the rule an explicit exact `inverse`, or make the mapping inbound and add an outbound one"


class InversionError(ValueError):
    """A rule cannot be inverted; ``where`` is its path in ``transformation_rules``."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


def invert_row(row: MappingRow) -> MappingRow:
    """The outbound row of a bidirectional ``row`` (raises MappingDefinitionError)."""
    if row.mapping_type == "custom":
        raise definition_error(row, "mapping_type", "a custom mapping cannot be inverted (make it inbound or outbound)")
    source_type = data_type(row, "source_data_type")
    try:
        rules = invert_rules(row.transformation_rules, source_type)
    except InversionError as exc:
        raise definition_error(row, exc.where, f"cannot be inverted: {exc.reason}") from None
    validation = row.validation_rules
    if isinstance(validation, Mapping):
        validation = {
            k: v for k, v in (("pre", validation.get("post")), ("post", validation.get("pre"))) if v is not None
        }
    keeps_default = _value_preserving(row.transformation_rules)
    default = row.default_value if keeps_default else None
    if row.error_handling == "default" and default is None and row.default_value is not None:
        raise definition_error(
            row, "error_handling", "cannot be inverted: error_handling `default` with rules that change the value"
        )
    return dataclasses.replace(
        row,
        source_path=row.target_path,
        target_path=row.source_path,
        source_data_type=row.target_data_type,
        target_data_type=row.source_data_type,
        transformation_rules=rules,
        validation_rules=validation,
        default_value=default,
        mapping_direction="outbound",
    )


def _value_preserving(rules: Any) -> bool:
    if rules is None or not isinstance(rules, Mapping):
        return True
    kind = rules.get("type")
    if kind == "chain":
        return all(_value_preserving(step) for step in rules.get("steps") or [])
    return kind in ("direct", "cast")


def invert_rules(rules: object, source_type: str | None, where: str = "transformation_rules") -> Any:
    """The inverse rule set (``None`` stays ``None``); raises InversionError."""
    if rules is None:
        return None
    if not isinstance(rules, Mapping) or "type" not in rules:
        raise InversionError(where, "not a rule object")
    if "inverse" in rules:
        return dict(rules["inverse"]) if isinstance(rules["inverse"], Mapping) else rules["inverse"]
    kind = rules["type"]
    extra = {"children": rules["children"]} if "children" in rules else {}
    if kind == "direct":
        return dict(rules)
    if kind == "cast":
        return {**_invert_cast(rules, source_type, where), **extra}
    if kind == "lookup":
        return {**_invert_lookup(rules, where), **extra}
    if kind == "date_format":
        _check_date_fields(rules, where)
        to = rules.get("from") or "%Y-%m-%d"
        return {"type": "date_format", "from": rules.get("to"), "to": to, **extra}
    if kind in ("concat", "split"):
        separator = rules.get("separator", "" if kind == "concat" else ",")
        if not separator:
            raise InversionError(f"{where}.separator", "a concat without separator cannot be split back" + _HINT)
        inverse: dict[str, Any] = {"type": "split" if kind == "concat" else "concat", "separator": separator}
        if "fields" in rules:
            inverse["fields"] = rules["fields"]
        return {**inverse, **extra}
    if kind == "chain":
        return {**_invert_chain(rules, source_type, where), **extra}
    raise InversionError(f"{where}.type", f"a `{kind}` rule has no automatic inverse" + _HINT)


def _invert_cast(rules: Mapping[str, Any], source_type: str | None, where: str) -> dict[str, Any]:
    if not source_type:
        raise InversionError(
            f"{where}.to", "a cast can only be inverted when the type before it is known (set source_data_type)"
        )
    fmt = rules.get("format")
    inverse: dict[str, Any] = {"type": "cast", "to": source_type}
    if fmt is not None:
        to = rules.get("to")
        if (to in ("date", "datetime") and source_type == "string") or (
            to == "string" and source_type in ("date", "datetime")
        ):
            inverse["format"] = fmt
        else:
            raise InversionError(f"{where}.format", f"a formatted cast from {source_type} to {to} cannot be inverted")
    return inverse


def _invert_lookup(rules: Mapping[str, Any], where: str) -> dict[str, Any]:
    table = rules.get("values")
    if not isinstance(table, Mapping):
        raise InversionError(f"{where}.values", "`values` must be an object")
    inverse: dict[str, Any] = {}
    for key, value in table.items():
        try:
            inverted_key = value if isinstance(value, str) else to_string(value)
        except CoercionError:
            raise InversionError(f"{where}.values.{key}", f"value {value!r} is not a scalar") from None
        if inverted_key in inverse:
            raise InversionError(
                f"{where}.values.{key}", f"value {value!r} appears for both {inverse[inverted_key]!r} and {key!r}"
            )
        inverse[inverted_key] = key
    result: dict[str, Any] = {"type": "lookup", "values": inverse}
    if "default" in rules:
        if "inverse_default" not in rules:
            raise InversionError(f"{where}.default", "a lookup with `default` needs `inverse_default` to be inverted")
        result["default"] = rules["inverse_default"]
    return result


def _invert_chain(rules: Mapping[str, Any], source_type: str | None, where: str) -> dict[str, Any]:
    steps = rules.get("steps")
    if not isinstance(steps, list):
        raise InversionError(f"{where}.steps", "`steps` must be a list")
    types_before: list[str | None] = []
    current = source_type
    for step in steps:
        types_before.append(current)
        if isinstance(step, Mapping) and step.get("type") == "cast":
            current = step.get("to")
        elif not isinstance(step, Mapping) or step.get("type") != "direct":
            current = None
    inverted = [
        invert_rules(step, types_before[i], f"{where}.steps[{i}]") for i, step in reversed(list(enumerate(steps)))
    ]
    return {"type": "chain", "steps": inverted}


# strftime directives by the part of a date/time they carry.
_DATE_FIELDS = {
    "year": "Yy", "month": "mbBh", "day": "dej", "hour": "HIkl", "minute": "M", "second": "S",
    "fraction": "f", "offset": "zZ",
}
_DATE_FIELDS_OF = {d: name for name, ds in _DATE_FIELDS.items() for d in ds}


def _date_fields(pattern: str) -> set[str]:
    found: set[str] = set()
    i = 0
    while i < len(pattern) - 1:
        if pattern[i] == "%":
            directive = pattern[i + 1]
            if directive in ("c", "x", "X", "s", "F", "T", "D", "R"):
                expanded = {"c": "year month day hour minute second", "x": "year month day",
                            "X": "hour minute second", "s": "year month day hour minute second offset",
                            "F": "year month day", "T": "hour minute second", "D": "year month day",
                            "R": "hour minute"}[directive]
                found.update(expanded.split())
            elif directive in _DATE_FIELDS_OF:
                found.add(_DATE_FIELDS_OF[directive])
            i += 2
        else:
            i += 1
    if "%y" in pattern and "%Y" not in pattern:
        found.discard("year")
        found.add("year (2 digits)")
    return found


def _check_date_fields(rules: Mapping[str, Any], where: str) -> None:
    """Refuse a ``date_format`` whose ``to`` drops a part of ``from`` (the inverse cannot restore it)."""
    source, to = rules.get("from"), rules.get("to")
    if not isinstance(source, str) or not isinstance(to, str):
        return
    lost = _date_fields(source) - _date_fields(to)
    if lost:
        raise InversionError(
            f"{where}.to",
            f"`to` {to!r} drops the {', '.join(sorted(lost))} of `from` {source!r}, which the inverse cannot restore"
            + _HINT,
        )


def round_trip_reason(row: MappingRow) -> str | None:
    """Why ``row``'s inverse is not exact on its whole domain (``None``: it is exact).

    ``row`` must be invertible (``invert_row`` accepted it). A row with children is
    checked as a whole, so it is never called exact here.
    """
    rules = row.transformation_rules
    if isinstance(rules, Mapping) and "children" in rules:
        return "a nested mapping is checked as a whole"
    source_type, target_type = data_type(row, "source_data_type"), data_type(row, "target_data_type")
    reason, after = _rule_reason(rules, source_type)
    if reason is not None:
        return reason
    if target_type is not None and target_type != after:
        return f"coercing {after or 'an untyped value'} to {target_type} can normalise a value"
    return None


def _rule_reason(rules: Any, source_type: str | None) -> tuple[str | None, str | None]:
    """(why the rule is not exact or None, the data type after it or None when unknown)."""
    if rules is None or not isinstance(rules, Mapping):
        return None, source_type
    if "inverse" in rules:
        return "an explicit `inverse` is checked record by record", None
    kind = rules.get("type")
    if kind == "direct":
        return None, source_type
    if kind == "cast":
        return f"a cast to {rules.get('to')} can normalise a value", None
    if kind == "lookup":
        return _lookup_reason(rules, source_type), source_type
    if kind == "date_format":
        return "a date format can normalise a value (1/2/2024 -> 01/02/2024)", None
    if kind in ("concat", "split"):
        separator = rules.get("separator", "" if kind == "concat" else ",")
        return f"the separator {separator!r} can occur inside a value", None
    if kind == "chain":
        current = source_type
        for step in rules.get("steps") or []:
            reason, current = _rule_reason(step, current)
            if reason is not None:
                return reason, None
        return None, current
    return f"a `{kind}` rule", None


def _lookup_reason(rules: Mapping[str, Any], source_type: str | None) -> str | None:
    if "default" in rules:
        return "a lookup `default` maps every other value to one"
    table = rules.get("values")
    strings = isinstance(table, Mapping) and all(isinstance(v, str) for v in table.values())
    if source_type != "string" or not strings:
        return "a lookup matches values by their string form (1 and \"1\" look alike)"
    return None
