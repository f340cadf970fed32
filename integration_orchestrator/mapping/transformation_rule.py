"""The ``transformation`` rule: a reusable ``integration_transformations`` row.

An object value is passed to the transformation as the record; any other value as
``{"value": v}`` and the result's ``"value"`` is taken back. The transformation must yield
exactly one record; its errors are the field's errors. ``transformations`` given to the
compiler may hold compiled transformations or raw rows (compiled once, on first use).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.rule_base import RuleContext, RuleDefinitionError, RuleFunction

__all__ = ["CompiledOnce", "build_transformation", "compile_transformation_row", "transformation_function"]


def build_transformation(
    rule: Mapping[str, Any], where: str, context: RuleContext, source_type: str | None
) -> RuleFunction:
    ident = rule.get("transformation_id")
    if ident is None or isinstance(ident, (bool, dict, list)):
        raise RuleDefinitionError(
            f"{where}.transformation_id",
            "`transformation` needs `transformation_id` (an integration_transformations id)",
        )
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
        raise RuleDefinitionError(
            f"{where}.transformation_id", f"transformation {ident} not found (or not compiled for this plan)"
        )
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
        except Exception as exc:  # noqa: BLE001 - an engine error is this field's error, not a crash
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
    except Exception as exc:  # noqa: BLE001 - a bad transformation row is the mapping's definition error
        return exc


def _transforms_available() -> bool:
    try:
        import integration_orchestrator.transforms  # noqa: F401 - registers the engines
    except ImportError:
        return False
    return True


class CompiledOnce(Mapping[str, Any]):
    """``transformations`` as given (compiled objects or raw rows); raw rows are compiled
    on first use and kept, so a row used by several mappings is compiled once."""

    def __init__(self, given: Mapping[str, Any]) -> None:
        self._given = {str(key): value for key, value in given.items()}
        self._done: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._done:
            value = self._given[key]
            if isinstance(value, Mapping):
                value = compile_transformation_row(value)
            self._done[key] = value
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)
