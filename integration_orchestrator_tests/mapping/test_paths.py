"""Paths: JSONPath and dotted shorthand, singular key tuples, library readers, writing."""

from __future__ import annotations

from typing import Any

import pytest

from integration_orchestrator.mapping.paths import MISSING, PathSyntaxError, compile_path, to_jsonpath, write_value

DOC = {
    "a": {"b": [{"c": 1}, {"c": 2}], "x y": "spaced", "n": None},
    "items": [{"sku": "s1", "qty": 2}, {"sku": "s2", "qty": 0}],
    "s": "text",
}


@pytest.mark.parametrize(
    ("path", "jsonpath", "keys"),
    [
        ("a.b[0].c", '$["a"]["b"][0]["c"]', ("a", "b", 0, "c")),
        ("a", '$["a"]', ("a",)),
        ("a['x y']", "$[\"a\"]['x y']", ("a", "x y")),
        ('a["x y"]', '$["a"]["x y"]', ("a", "x y")),
        ("items[*].sku", '$["items"][*]["sku"]', None),
        ("$.a.b[1].c", "$.a.b[1].c", ("a", "b", 1, "c")),
        ("$['a']['x y']", "$['a']['x y']", ("a", "x y")),
        ("$.a.b[-1]", "$.a.b[-1]", ("a", "b", -1)),
        ("$", "$", ()),
    ],
)
def test_compile(path: str, jsonpath: str, keys: tuple[Any, ...] | None) -> None:
    compiled = compile_path(path)
    assert compiled.jsonpath == jsonpath
    assert compiled.keys == keys


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.b[1].c", 2),
        ("$.a.b[-1].c", 2),
        ("a['x y']", "spaced"),
        ("a.n", None),
        ("a.missing", MISSING),
        ("s.x", MISSING),  # a string in the way
        ("s[0]", MISSING),  # no indexing into strings
        ("a.b.c", MISSING),  # a list in the way of a name
        ("a.b[5]", MISSING),
        ("a.b[0].c.d", MISSING),
        ("items[*].sku", ["s1", "s2"]),
        ("$.items[?@.qty > 0].sku", ["s1"]),
        ("$..c", [1, 2]),
        ("$.items[*].nothing", MISSING),
        ("$", DOC),
        ("$.a.b[0]", {"c": 1}),
    ],
)
def test_read(path: str, expected: Any) -> None:
    assert (
        compile_path(path).read(DOC) == expected if expected is not MISSING else compile_path(path).read(DOC) is MISSING
    )


@pytest.mark.parametrize(
    ("path", "writable", "message"),
    [
        ("$.a[", False, "invalid JSONPath"),
        ("$.a.", False, "invalid JSONPath"),
        ("a..b", False, "cannot read dotted path"),
        ("a.b.", False, "at character 4"),
        (".a", False, "starts with '.'"),
        ("", False, "empty"),
        ("$.items[*].sku", True, "not singular"),
        ("$..a", True, "not singular"),
        ("$", True, "at least one key"),
        ("$.a[-1]", True, "negative index"),
    ],
)
def test_invalid(path: str, writable: bool, message: str) -> None:
    with pytest.raises(PathSyntaxError, match=message):
        compile_path(path, writable=writable)


def test_dotted_equals_jsonpath() -> None:
    assert compile_path("a.b[1].c").read(DOC) == compile_path("$.a.b[1].c").read(DOC)
    assert to_jsonpath("$.x") == "$.x"


@pytest.mark.parametrize(
    ("start", "keys", "value", "expected"),
    [
        ({}, ("a",), 1, {"a": 1}),
        ({}, ("a", "b", "c"), 1, {"a": {"b": {"c": 1}}}),
        ({}, ("a", 2), "x", {"a": [None, None, "x"]}),
        ({}, ("a", 0, "b"), 1, {"a": [{"b": 1}]}),
        ({"a": {"z": 0}}, ("a", "b"), 1, {"a": {"z": 0, "b": 1}}),
        ({"a": [1]}, ("a", 0), 5, {"a": [5]}),
        ({"a": None}, ("a", "b"), 1, {"a": {"b": 1}}),
    ],
)
def test_write(start: dict[str, Any], keys: tuple[Any, ...], value: Any, expected: dict[str, Any]) -> None:
    write_value(start, keys, value)
    assert start == expected


@pytest.mark.parametrize(("start", "keys"), [({"a": "s"}, ("a", "b")), ({"a": {}}, ("a", 0)), ({"a": [1]}, ("a", "b"))])
def test_write_conflict(start: dict[str, Any], keys: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError, match="cannot set"):
        write_value(start, keys, 1)
