"""The amplification guard of in-process JMESPath: a record's output is capped by its input.

The fence of :mod:`.jmespath_inline` keeps an expression's cost polynomial, but one that
copies its input many times over (``{a: @, b: @, ...}``, 240 times within the node limit)
still returns 240 references to the record, which become 240 copies when the batch is
written. Expressions that copy any part of their input at most :data:`FREE_COPIES` times
run unchecked (their output cannot outgrow that); the others have each record's output
measured (string lengths plus a unit per value, counting a shared value each time it
appears, stopping at the cap) and refused past :data:`MAX_AMPLIFICATION` times the
record's own size plus :data:`SLACK` units, with an error naming both sizes. The record then
follows the step's error strategy; the sandbox, with its own memory limit, is the place for
such an expression.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

__all__ = ["FREE_COPIES", "MAX_AMPLIFICATION", "SLACK", "OutputTooLargeError", "capped", "weight"]

FREE_COPIES: Final = 4
MAX_AMPLIFICATION: Final = 16
SLACK: Final = 65_536


class OutputTooLargeError(ValueError):
    """A record's JMESPath output outgrew its input (a ValueError: the record fails, the step goes on)."""


def weight(value: Any, budget: int | None = None) -> int:
    """Units of ``value``: a string's length, one per other value; stops past ``budget``."""
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += len(item) + 1 if isinstance(item, str) else 1
        if isinstance(item, dict):
            stack.extend(item.values())
            total += sum(len(k) for k in item)
        elif isinstance(item, list):
            stack.extend(item)
        if budget is not None and total > budget:
            return total
    return total


def capped(evaluate: Callable[[Any], Any], copies: int) -> Callable[[Any], Any]:
    """``evaluate``, refusing outputs over the cap when the expression copies its input more than FREE_COPIES times."""
    if copies <= FREE_COPIES:
        return evaluate

    def guarded(record: Any) -> Any:
        result = evaluate(record)
        size = weight(record)
        limit = MAX_AMPLIFICATION * size + SLACK
        produced = weight(result, limit)
        if produced > limit:
            raise OutputTooLargeError(
                f"the output exceeds {MAX_AMPLIFICATION}× the record's size ({produced:,}+ units from a record of "
                f"{size:,}; the expression copies its input {copies} times); run it as a sandboxed transformation "
                "(a reusable transformation row) or copy less"
            )
        return result

    return guarded
