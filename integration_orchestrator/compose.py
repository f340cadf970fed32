"""``compose``: one-argument functions applied one after the other, with no loop for one or two."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["compose"]

Function = Callable[[Any], Any]


def compose(functions: Sequence[Function]) -> Function | None:
    """``value -> functions[-1](... functions[0](value))``; None when there is none."""
    if not functions:
        return None
    if len(functions) == 1:
        return functions[0]
    if len(functions) == 2:
        first, second = functions
        return lambda value: second(first(value))
    steps = tuple(functions)

    def run(value: Any) -> Any:
        for function in steps:
            value = function(value)
        return value

    return run
