"""The value model of the JMESPath → Polars compiler (:mod:`.jmespath_columnar`): typed
values, unions of branches and JMESPath truthiness, shared with its functions
(:mod:`.jmespath_columnar_functions`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

__all__ = [
    "DECIMAL",
    "FUNCTIONS",
    "NODES",
    "NULL",
    "Branch",
    "Node",
    "Union",
    "Unsupported",
    "Val",
    "collapse",
    "supported",
    "truth",
    "union_truth",
    "val_of",
]

#: Decimal text compares as this type: 20 integer and 18 fractional digits, exactly.
DECIMAL = pl.Decimal(38, 18)
_DECIMAL_TEXT = r"^-?[0-9]{1,20}(\.[0-9]{1,18})?$"
_FLOAT_EXACT_INT = 2**53
_INT64 = (-(2**63), 2**63 - 1)

#: AST node types the compiler knows (any other keeps the step per record).
NODES = frozenset({
    "field", "current", "identity", "subexpression", "literal", "comparator", "and_expression", "or_expression",
    "not_expression", "multi_select_dict", "key_val_pair", "multi_select_list", "function_expression",
})
FUNCTIONS = frozenset({"length", "contains", "starts_with", "ends_with", "to_string", "not_null", "join", "merge"})
_ORDERING = frozenset({"lt", "lte", "gt", "gte"})
_NUMBERS = frozenset({"int", "float", "dec"})

Node = Mapping[str, Any]


class Unsupported(Exception):
    """No exact columnar form for this expression over this schema."""


@dataclass(frozen=True)
class Val:
    """A typed value per row: ``kind`` is the JSON type of every non-null row.

    kinds: str int float dec bool null obj list opaque record. ``dec`` is decimal text
    (``io.logical=decimal``); ``opaque`` a value only passed through (dates, datetimes,
    exact JSON: ``logical`` says which); ``record`` the whole input record. An ``obj`` is a
    struct expression (``struct`` names its fields' dtypes) or keys built by a multiselect
    or ``merge`` (``fields``). ``truth`` is the truthiness when known statically;
    ``const`` the Python value of a literal.
    """

    kind: str
    expr: pl.Expr | None = None
    truth: bool | None = None
    const: Any = None
    struct: Mapping[str, Any] | None = None
    fields: tuple[tuple[str, Union], ...] | None = None
    logical: str | None = None


Branch = tuple["pl.Expr | None", Val]
Union = tuple[Branch, ...]

NULL = Val("null", pl.lit(None), truth=False)


def supported(node: Node) -> bool:
    """Whether every node of ``node`` is in the compiled subset (schema aside)."""
    if node.get("type") not in NODES:
        return False
    if node["type"] == "function_expression" and node["value"] not in FUNCTIONS:
        return False
    return all(supported(c) for c in node.get("children", []) if isinstance(c, Mapping))


def val_of(dtype: Any, expr: pl.Expr, logical: str | None = None) -> Val:
    """The value of a column (or struct field) of ``dtype``."""
    if dtype == pl.String:
        if logical is None:
            return Val("str", expr)
        return Val("dec", expr) if logical == "decimal" else Val("opaque", expr, logical=logical)
    if dtype.is_integer():
        return Val("int", expr)
    if dtype.is_float():
        return Val("float", expr)
    if dtype == pl.Boolean:
        return Val("bool", expr)
    if dtype == pl.Null:
        return NULL
    if isinstance(dtype, pl.Struct):
        return Val("obj", expr, struct={f.name: f.dtype for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return Val("list", expr)
    return Val("opaque", expr, logical=str(dtype))


def truth(v: Val) -> pl.Expr:
    """JMESPath truthiness of ``v`` per row, never null."""
    if v.truth is not None:
        return pl.lit(v.truth)
    e = v.expr
    assert e is not None
    if v.kind == "str":
        return e.str.len_bytes().gt(0).fill_null(False)
    if v.kind == "bool":
        return e.fill_null(False)
    if v.kind == "list":
        return e.list.len().gt(0).fill_null(False)
    if v.kind == "obj" and v.struct:
        return e.is_not_null()
    if v.kind in _NUMBERS or (v.kind == "opaque" and v.logical != "json"):
        return e.is_not_null()
    raise Unsupported(f"truthiness of {v.kind}")


def union_truth(u: Union) -> pl.Expr:
    if len(u) == 1:
        return truth(u[0][1])
    return _chain([(c, truth(v)) for c, v in u])


def _chain(pairs: list[tuple[pl.Expr | None, pl.Expr]]) -> pl.Expr:
    """``when(c1).then(e1).when(c2)…otherwise(last)`` over exclusive, exhaustive conditions."""
    *first, (_, last) = pairs
    if not first:
        return last
    chained: Any = pl
    for cond, expr in first:
        assert cond is not None
        chained = chained.when(cond).then(expr)
    result: pl.Expr = chained.otherwise(last)
    return result


def _and_cond(a: pl.Expr | None, b: pl.Expr | None) -> pl.Expr | None:
    if a is None:
        return b
    return a if b is None else a & b


def collapse(u: Union) -> Val:
    """One value for a union whose branches share a type (null branches fit any)."""
    if len(u) == 1:
        return u[0][1]
    kinds = {(v.kind, v.logical) for _, v in u if v.kind != "null"}
    if not kinds:
        return NULL
    if len(kinds) > 1 or next(iter(kinds))[0] in ("obj", "record", "list", "opaque"):
        raise Unsupported("a value of different types per row")
    kind, _ = kinds.pop()
    truths = {v.truth for _, v in u}
    expr = _chain([(c, v.expr if v.expr is not None else pl.lit(None)) for c, v in u])
    return Val(kind, expr, truth=truths.pop() if len(truths) == 1 else None)
