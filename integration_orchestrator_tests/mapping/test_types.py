"""Target coercion and source checks, table-driven."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.mapping.types import (
    CoercionError,
    coercer,
    json_dumps,
    json_ready,
    resolve_timezone,
    source_checker,
)

PARIS = resolve_timezone("Europe/Paris")


@pytest.mark.parametrize(
    ("target", "value", "expected"),
    [
        ("string", "x", "x"),
        ("string", 42, "42"),
        ("string", Decimal("19.990"), "19.990"),
        ("string", 0.1, "0.1"),
        ("string", True, "true"),
        ("integer", "42", 42),
        ("integer", " 42 ", 42),
        ("integer", 42.0, 42),
        ("integer", Decimal("7.00"), 7),
        ("number", "19.99", Decimal("19.99")),
        ("number", 0.1, Decimal("0.1")),
        ("number", 3, Decimal(3)),
        ("boolean", "true", True),
        ("boolean", "FALSE", False),
        ("boolean", "1", True),
        ("boolean", "0", False),
        ("boolean", "yes", True),
        ("boolean", "No", False),
        ("boolean", 1, True),
        ("date", "2024-02-29", "2024-02-29"),
        ("date", "2024-02-29T23:00:00+00:00", "2024-02-29"),
        ("datetime", "2024-01-31T10:00:00", "2024-01-31T10:00:00+01:00"),
        ("datetime", "2024-07-31T10:00:00", "2024-07-31T10:00:00+02:00"),
        ("datetime", "2024-01-31T10:00:00Z", "2024-01-31T10:00:00+00:00"),
        ("datetime", "2024-01-31T10:00:00-05:00", "2024-01-31T10:00:00-05:00"),
        ("datetime", 0, "1970-01-01T00:00:00+00:00"),
        ("uuid", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("object", {"a": 1}, {"a": 1}),
        ("array", [1], [1]),
    ],
)
def test_coerce(target: str, value: Any, expected: Any) -> None:
    convert = coercer(target, PARIS)
    assert convert is not None
    result = convert(value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("target", "value", "message"),
    [
        ("integer", "4.5", "fractional part"),
        ("integer", "abc", "to integer"),
        ("integer", True, "to integer"),
        ("number", "1_000", "to number"),
        ("number", "NaN", "not finite"),
        ("number", [], "to number"),
        ("boolean", "maybe", "true/false/1/0/yes/no"),
        ("boolean", 2, "to boolean"),
        ("date", "2024-02-30", "to date"),
        ("date", "31/01/2024", "to date"),
        ("datetime", "yesterday", "to datetime"),
        ("uuid", "not-a-uuid", "to uuid"),
        ("object", [1], "to object"),
        ("array", "x", "to array"),
        ("string", {"a": 1}, "to string"),
    ],
)
def test_coerce_fails(target: str, value: Any, message: str) -> None:
    convert = coercer(target)
    assert convert is not None
    with pytest.raises(CoercionError, match=message):
        convert(value)


def test_no_float_drift() -> None:
    convert = coercer("number")
    assert convert is not None
    total = sum((convert(v) for v in ["0.1", "0.2", 0.1]), Decimal(0))
    assert total == Decimal("0.4")


@pytest.mark.parametrize(
    ("source", "good", "bad"),
    [
        ("string", "x", 1),
        ("integer", 3, "3"),
        ("integer", Decimal("3.0"), 3.5),
        ("number", 3.5, "3.5"),
        ("boolean", False, "false"),
        ("date", "2024-01-01", "2024-01-01T00:00:00"),
        ("datetime", "2024-01-01T00:00:00Z", "soon"),
        ("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 12),
        ("object", {}, []),
        ("array", [], {}),
    ],
)
def test_source_check(source: str, good: Any, bad: Any) -> None:
    check = source_checker(source)
    assert check is not None
    assert check(good) and not check(bad)


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown data type"):
        coercer("money")
    with pytest.raises(ValueError, match="unknown timezone"):
        resolve_timezone("Mars/Base")
    assert coercer(None) is None and source_checker("") is None


def test_json_ready() -> None:
    record = {
        "a": Decimal("19.99"),
        "b": [Decimal("2.000")],
        "c": Decimal("0.1000000000000000000001"),
        "d": dt.date(2024, 1, 2),
    }
    assert json_ready(record) == {"a": 19.99, "b": [2], "c": "0.1000000000000000000001", "d": "2024-01-02"}
    assert json_dumps({"x": Decimal("1.10")}) == '{"x":1.1}'
