"""The round-trip check of a bidirectional mapping whose inverse is not exact.

A bidirectional row whose rules are only data-dependently invertible
(:func:`~integration_orchestrator.mapping.inverse.round_trip_reason`: a separator that may
occur inside a value, a normalising cast or date format, a lookup by string form, an
explicit ``inverse``) is compiled with a check in whichever direction it runs: after the
mapping wrote its value, the value is mapped back through the other direction and must
give the value that was read (compared as the source type, numbers by exact value). A
record whose value does not come back fails, always (whatever ``error_handling``): the
other side would otherwise hold something else than what was given, with no error.

ARCHITECTURE.md §6.2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from integration_orchestrator.mapping.errors import FieldError, FieldFailure
from integration_orchestrator.mapping.paths import MISSING, compile_path
from integration_orchestrator.mapping.plan import CompiledMapping, NestedDrop, NestedFailure
from integration_orchestrator.mapping.types import CoercionError, coercer, json_dumps

__all__ = ["canonical", "round_trip_checked"]

_FAILURES = (FieldFailure, CoercionError, NestedFailure, NestedDrop)


def canonical(value: Any) -> Any:
    """``value`` in a form where equal JSON values compare equal (numbers by exact value)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return ("number", number.normalize() if number.is_finite() else number)
    if isinstance(value, Mapping):
        return {key: canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def round_trip_checked(
    forward: CompiledMapping,
    back: CompiledMapping,
    *,
    source_type: str | None,
    reason: str,
    tz: dt.tzinfo = dt.UTC,
    sensitive: bool = False,
) -> CompiledMapping:
    """``forward`` with each written value mapped back through ``back`` and compared.

    ``back`` is the same row compiled in the other direction (its target is
    ``forward``'s source); ``source_type`` is ``forward``'s source data type; ``reason``
    says why the row's inverse is not exact (it ends the message of a failed record).
    ``sensitive`` (``validation_rules.mask``) keeps the values out of the message.
    """
    read_source = compile_path(forward.source_path).reader()
    read_written = compile_path(forward.target_path).reader()
    read_back = compile_path(back.target_path).reader()
    as_source = coercer(source_type, tz) or (lambda value: value)
    step = forward.step

    def fail(original: Any, what: str) -> None:
        if sensitive:
            what = "the value does not come back (values not shown: the field is masked)"
        message = (
            f"does not survive the round trip: {what} ({reason}); the record is refused rather than"
            " written differently; give the rule an explicit exact `inverse` or fix the value"
        )
        raise NestedFailure([FieldError(forward.name, forward.source_path, original, message)])

    def checked(source: Any, out: dict[str, Any]) -> str | None:
        event = step(source, out)
        if event is not None:
            return event
        original = read_source(source)
        if original is MISSING or original is None:
            return None
        written = read_written(out)
        probe: dict[str, Any] = {}
        again: dict[str, Any] = {}
        forward.write(probe, written)
        try:
            back.step(probe, again)
            returned = read_back(again)
            expected = as_source(original)
        except _FAILURES as exc:
            fail(original, f"{_shown(written)} cannot be mapped back: {exc}")
            return None
        if type(returned) is type(expected) and returned == expected:
            return None  # the common case, without building canonical forms
        if canonical(returned) != canonical(expected):
            fail(original, f"it maps to {_shown(written)}, which maps back to {_shown(returned)}")
        return None

    return dataclasses.replace(forward, step=checked, inline=None, round_trip=reason)


def _shown(value: Any) -> str:
    if value is MISSING:
        return "nothing"
    try:
        text = json_dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
