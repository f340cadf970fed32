"""JSON type names in messages: the schema name and the prose phrase of each kind of value."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.jsontypes import json_type, json_type_phrase


@pytest.mark.parametrize(
    ("value", "name", "phrase"),
    [
        (None, "null", "null"),
        (True, "boolean", "a boolean"),
        (3, "integer", "a number"),
        (1.5, "number", "a number"),
        (Decimal("19.99"), "number", "a number"),
        ("x", "string", "a string"),
        ({"a": 1}, "object", "an object"),
        ([1], "array", "an array"),
        ((1,), "array", "an array"),
        ({1}, "set", "set"),
    ],
)
def test_names(value: Any, name: str, phrase: str) -> None:
    assert json_type(value) == name
    assert json_type_phrase(value) == phrase
