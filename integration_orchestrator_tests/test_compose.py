"""compose: functions applied in order."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.compose import compose


@pytest.mark.parametrize(
    ("functions", "expected"),
    [
        ([str.strip], "a b"),
        ([str.strip, str.upper], "A B"),
        ([str.strip, str.upper, lambda s: s.replace(" ", "_")], "A_B"),
        ([str.strip, str.upper, lambda s: s.replace(" ", "_"), lambda s: s + "!"], "A_B!"),
    ],
)
def test_functions_apply_in_order(functions: list[Any], expected: str) -> None:
    composed = compose(functions)
    assert composed is not None
    assert composed("  a b ") == expected


def test_nothing_to_compose_is_none() -> None:
    assert compose([]) is None
