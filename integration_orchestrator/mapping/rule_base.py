"""What every rule builder shares: the context, the definition error, argument helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.jsontypes import json_type
from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.types import CoercionError

__all__ = ["RuleContext", "RuleDefinitionError", "RuleFunction", "guard", "optional_str", "require"]

RuleFunction = Callable[[Any], Any]


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
    timezone: dt.tzinfo = dt.UTC
    transformations: Mapping[str, Any] | None = None
    tracer: set[str] | None = None
    behaviours: list[str] = field(default_factory=list)

    def behaviour(self, name: str) -> str:
        if name not in self.behaviours:
            self.behaviours.append(name)
        return name


def require(rule: Mapping[str, Any], key: str, where: str, kinds: type | tuple[type, ...], what: str) -> Any:
    if key not in rule:
        raise RuleDefinitionError(f"{where}.{key}", f"`{rule['type']}` needs `{key}` ({what})")
    value = rule[key]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise RuleDefinitionError(f"{where}.{key}", f"`{key}` must be {what}, got {json_type(value)}")
    return value


def optional_str(rule: Mapping[str, Any], key: str, where: str) -> str | None:
    value = rule.get(key)
    if value is not None and not isinstance(value, str):
        raise RuleDefinitionError(f"{where}.{key}", f"`{key}` must be a string, got {json_type(value)}")
    return value


def guard(function: Callable[[Any], Any]) -> RuleFunction:
    """``function`` with CoercionError turned into FieldFailure; ``__wrapped__`` is ``function``
    (a generated plan calls it directly: any failure there re-runs the record step by step)."""

    def run(value: Any) -> Any:
        try:
            return function(value)
        except CoercionError as exc:
            raise FieldFailure(str(exc), value) from None

    run.__wrapped__ = function  # type: ignore[attr-defined]  # a plain function attribute, read by generated plans
    return run
