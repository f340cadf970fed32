"""Originals put back where an engine returns an exact value as it was sent (transforms/exact.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.transforms.exact import Originals
from integration_orchestrator.transforms.javascript import js_value

DAY = dt.date(2026, 1, 31)

# (record, what JavaScript receives)
JS_VIEWS: list[tuple[Any, Any]] = [
    (Decimal("486.20"), 486.2),
    (Decimal("486.00"), 486),
    (Decimal("-0"), 0),
    (Decimal("0E-40"), 0),
    (Decimal("123456789012345"), 123456789012345),
    (Decimal("0.123456789012345"), 0.123456789012345),
    (Decimal("1234567890123456"), "1234567890123456"),
    (Decimal("12345678901234567.89"), "12345678901234567.89"),
    (Decimal("1E+400"), "1E+400"),
    (Decimal("1E+30"), 1e30),
    (Decimal("NaN"), "NaN"),
    (DAY, "2026-01-31"),
    (dt.datetime(2026, 1, 31, 10, tzinfo=dt.UTC), "2026-01-31T10:00:00+00:00"),
    ({"a": [Decimal("1.10"), {"b": DAY}]}, {"a": [1.1, {"b": "2026-01-31"}]}),
]


@pytest.mark.parametrize(("value", "sent"), JS_VIEWS, ids=[repr(v[0])[:40] for v in JS_VIEWS])
def test_javascript_receives_numbers_when_exact_else_text_and_gets_the_originals_back(value: Any, sent: Any) -> None:
    originals = Originals()
    view = js_value({"v": value}, originals)
    assert view == {"v": sent} and type(view["v"]) is type(sent)
    back = originals.restore(view)
    if value == value:  # NaN cannot be looked up; it comes back as its text
        assert str(back["v"]) == str(value) and type(back["v"]) is type(value)


# (returned at path ("v",), restored)
RESTORE: list[tuple[Any, Any]] = [
    (486.2, Decimal("486.20")),  # same place, same value
    (486.20000000000002, 486.20000000000002),  # a different double
    ("486.2", "486.2"),  # not the kind it was sent as
    (True, True),
    (None, None),
]


@pytest.mark.parametrize(("returned", "expected"), RESTORE)
def test_only_the_value_as_sent_at_its_path_is_restored(returned: Any, expected: Any) -> None:
    originals = Originals()
    originals.add(("v",), 486.2, Decimal("486.20"))
    got = originals.restore({"v": returned, "w": 486.2})
    assert got == {"v": expected, "w": 486.2} and type(got["v"]) is type(expected)


def test_list_positions_do_not_count_and_the_first_original_wins() -> None:
    originals = Originals()
    originals.add(("items", "p"), 1.5, Decimal("1.50"))
    originals.add(("items", "p"), 1.5, Decimal("1.500"))
    got = originals.restore({"items": [{"p": 1.5}, {"p": 2}]})
    assert [str(i["p"]) for i in got["items"]] == ["1.50", "2"]
