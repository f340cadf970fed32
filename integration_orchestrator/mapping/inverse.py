"""Deriving the outbound form of a bidirectional mapping.

The inverse of a row swaps ``source_path``/``target_path``,
``source_data_type``/``target_data_type`` and ``validation_rules`` pre/post, and inverts
its ``transformation_rules``:

==============  =========================================================================
rule            inverse
==============  =========================================================================
direct          direct
cast            a cast back to the type before it (``source_data_type`` for the first rule);
                a date/datetime format is reused (strptime <-> strftime)
lookup          the table with keys and values swapped (values must be unique scalars);
                a forward ``default`` needs ``inverse_default`` (the inverse's default)
date_format     ``from`` and ``to`` swapped (``to`` defaults to ``%Y-%m-%d``)
concat / split  split / concat with the same separator and fields
chain           the inverted steps in reverse order
==============  =========================================================================

Any rule may carry an explicit ``"inverse": {rule}``, which is used as is. ``template``,
``jmespath`` and ``transformation`` rules (without ``inverse``), ``custom`` mappings and
non-singular source paths cannot be inverted: the row is rejected at compile time with
the reason. The inverse keeps ``default_value`` only when its rules are ``direct``/casts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from integration_orchestrator.mapping.columns import data_type, definition_error
from integration_orchestrator.mapping.types import CoercionError, to_string
from integration_orchestrator.model.rows import MappingRow

__all__ = ["InversionError", "invert_row", "invert_rules"]


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
        to = rules.get("from") or "%Y-%m-%d"
        return {"type": "date_format", "from": rules.get("to"), "to": to, **extra}
    if kind in ("concat", "split"):
        separator = rules.get("separator", "" if kind == "concat" else ",")
        if not separator:
            raise InversionError(f"{where}.separator", "a concat without separator cannot be split back")
        inverse: dict[str, Any] = {"type": "split" if kind == "concat" else "concat", "separator": separator}
        if "fields" in rules:
            inverse["fields"] = rules["fields"]
        return {**inverse, **extra}
    if kind == "chain":
        return {**_invert_chain(rules, source_type, where), **extra}
    raise InversionError(f"{where}.type", f"a `{kind}` rule has no automatic inverse (add `inverse`: a rule)")


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
