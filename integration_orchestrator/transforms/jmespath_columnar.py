"""JMESPath compiled to Polars expressions over one batch, for the subset that maps exactly.

The per-record engine (:mod:`.jmespath_inline`) is the reference: this compiler only has
to agree with it on the rows it claims. Every value is typed statically from the batch's
schema (a column is one JSON type or null per row), so JMESPath's rules become static
choices: equality is strict by type (numbers of any kind compare by exact value, a
boolean never equals a number), ordering is defined between two numbers or two strings
and is null otherwise, truthiness follows :func:`.contracts.truthy`.

Where the columnar form could differ from Python on some rows (a function given a null,
a float ``NaN``, an int beyond 2**53 compared with a float, a decimal text that is not
plain ``-123.45``), the compiler adds a *guard*: a boolean expression true on the rows
it is exact for. The caller runs the other rows through the per-record engine. What has
no exact form for this schema at all raises :class:`Unsupported` (the whole batch then
runs per record).

A value may differ in type from row to row only through ``&&``/``||``: such a value is a
:data:`Union` of branches ``(condition, Val)`` (exclusive conditions), collapsed to one
expression where a single type is needed. Static truthiness (``'gold'`` is truthy, the
left side of ``&&`` on its false branch is falsy) prunes branches, so the idiom
``A && 'x' || 'y'`` collapses to a string.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

import polars as pl

from integration_orchestrator.transforms.jmespath_columnar_values import (
    _DECIMAL_TEXT,
    _FLOAT_EXACT_INT,
    _INT64,
    _NUMBERS,
    _ORDERING,
    DECIMAL,
    NODES,
    NULL,
    Branch,
    Node,
    Union,
    Unsupported,
    Val,
    _and_cond,
    collapse,
    supported,
    truth,
    union_truth,
    val_of,
)

__all__ = [
    "DECIMAL",
    "NODES",
    "Compiler",
    "Union",
    "Unsupported",
    "Val",
    "collapse",
    "supported",
    "truth",
    "union_truth",
]

class Compiler:
    """Compiles nodes against one batch's columns; ``guards`` collect the exact-row conditions."""

    def __init__(self, schema: Mapping[str, pl.DataType], logical: Mapping[str, str]) -> None:
        self.columns = {name: val_of(dtype, pl.col(name), logical.get(name)) for name, dtype in schema.items()}
        self.guards: list[pl.Expr] = []

    def guard(self, exact: pl.Expr) -> None:
        self.guards.append(exact)

    def exact(self) -> pl.Expr:
        return pl.all_horizontal(self.guards) if self.guards else pl.lit(True)

    def record(self) -> Val:
        fields = tuple((name, ((None, v),)) for name, v in self.columns.items())
        return Val("record", truth=bool(fields), fields=fields)

    # -- nodes ---------------------------------------------------------------------------

    def value(self, node: Node) -> Union:
        kind = node["type"]
        if kind == "and_expression":
            return self._and(self.value(node["children"][0]), self.value(node["children"][1]))
        if kind == "or_expression":
            return self._or(self.value(node["children"][0]), self.value(node["children"][1]))
        return ((None, self.single(node)),)

    def single(self, node: Node) -> Val:
        kind = node["type"]
        if kind in ("current", "identity"):
            return self.record()
        if kind == "field":
            return self.columns.get(node["value"], NULL)
        if kind == "subexpression":
            return self._path(node["children"])
        if kind == "literal":
            return _literal(node["value"])
        if kind == "comparator":
            left, right = (collapse(self.value(c)) for c in node["children"])
            return self._compare(node["value"], left, right)
        if kind == "not_expression":
            return Val("bool", ~union_truth(self.value(node["children"][0])))
        if kind == "multi_select_dict":
            fields = tuple((c["value"], self.value(c["children"][0])) for c in node["children"])
            return Val("obj", truth=bool(fields), fields=fields)
        if kind in ("and_expression", "or_expression"):
            return collapse(self.value(node))
        if kind == "function_expression":
            from integration_orchestrator.transforms.jmespath_columnar_functions import call

            return call(self, node["value"], node["children"])
        raise Unsupported(kind)

    def _path(self, children: list[Node]) -> Val:
        current = self.single(children[0])
        for child in children[1:]:
            if child["type"] != "field":
                raise Unsupported("a subexpression other than a field path")
            current = _member(current, child["value"])
        return current

    # -- && || ----------------------------------------------------------------------------

    def _and(self, left: Union, right: Union) -> Union:
        out: list[Branch] = []
        for cond, v in left:
            if v.truth is False:
                out.append((cond, v))
                continue
            t = None if v.truth else truth(v)
            out.extend((_and_cond(_and_cond(cond, t), rc), rv) for rc, rv in right)
            if t is not None:
                out.append((_and_cond(cond, ~t), replace(v, truth=False)))
        return tuple(out)

    def _or(self, left: Union, right: Union) -> Union:
        out: list[Branch] = []
        for cond, v in left:
            if v.truth is True:
                out.append((cond, v))
                continue
            t = None if v.truth is False else truth(v)
            if t is not None:
                out.append((_and_cond(cond, t), replace(v, truth=True)))
            out.extend((_and_cond(_and_cond(cond, None if t is None else ~t), rc), rv) for rc, rv in right)
        return tuple(out)

    # -- comparisons -----------------------------------------------------------------------

    def _compare(self, op: str, a: Val, b: Val) -> Val:
        if op in _ORDERING:
            return self._order(op, a, b)
        eq = self._equal(a, b)
        return Val("bool", eq if op == "eq" else ~eq)

    def _equal(self, a: Val, b: Val) -> pl.Expr:
        if a.kind == "null" or b.kind == "null":
            return _is_null(a) & _is_null(b)
        if "record" in (a.kind, b.kind) or {a.kind, b.kind} & {"obj", "list", "opaque"}:
            raise Unsupported("equality of objects, lists or passed-through values")
        if a.kind in _NUMBERS and b.kind in _NUMBERS:
            ea, eb = self.numbers(a, b)
            return ea.eq_missing(eb)
        if a.kind == b.kind:
            assert a.expr is not None and b.expr is not None
            return a.expr.eq_missing(b.expr)
        return _is_null(a) & _is_null(b)

    def _order(self, op: str, a: Val, b: Val) -> Val:
        if any(v.kind == "opaque" and v.logical == "json" for v in (a, b)):
            raise Unsupported("ordering of exact-JSON values")
        ea: pl.Expr | None
        eb: pl.Expr | None
        if a.kind in _NUMBERS and b.kind in _NUMBERS:
            ea, eb = self.numbers(a, b)
        elif a.kind == b.kind == "str":
            ea, eb = a.expr, b.expr
        elif {a.kind, b.kind} <= _NUMBERS | {"str"}:  # a number and a string: TypeError where both are set
            assert a.expr is not None and b.expr is not None
            self.guard(a.expr.is_null() | b.expr.is_null())
            return NULL
        else:  # booleans, nulls, objects, lists, dates: not comparable, null
            return NULL
        assert ea is not None and eb is not None
        compared = {"lt": ea < eb, "lte": ea <= eb, "gt": ea > eb, "gte": ea >= eb}[op]
        return Val("bool", compared)

    def numbers(self, a: Val, b: Val) -> tuple[pl.Expr, pl.Expr]:
        """Two numbers as expressions Polars compares exactly as Python does (guards added)."""
        if "dec" in (a.kind, b.kind):
            return self._decimal(a), self._decimal(b)
        if a.kind == b.kind:
            for v in (a, b):
                if v.kind == "float" and v.const is None:
                    self.guard(~v.expr.is_nan().fill_null(False))  # type: ignore[union-attr]
            return a.expr, b.expr  # type: ignore[return-value]
        return self._float(a), self._float(b)

    def _float(self, v: Val) -> pl.Expr:
        assert v.expr is not None
        if v.kind == "float":
            if v.const is None:
                self.guard(~v.expr.is_nan().fill_null(False))
            return v.expr
        if v.const is not None:
            if abs(v.const) > _FLOAT_EXACT_INT:
                raise Unsupported("an integer literal beyond 2**53 compared with a float")
            return pl.lit(float(v.const), pl.Float64)
        self.guard(v.expr.abs().le(_FLOAT_EXACT_INT).fill_null(True))
        return v.expr.cast(pl.Float64)

    def _decimal(self, v: Val) -> pl.Expr:
        assert v.expr is not None
        if v.const is not None:
            exact = Decimal(v.const)
            exponent = exact.as_tuple().exponent
            if not isinstance(exponent, int) or exponent < -18 or abs(exact) >= Decimal(10) ** 20:
                raise Unsupported("a number literal with no exact Decimal(38, 18) form")
            return pl.lit(exact).cast(DECIMAL)
        if v.kind == "float":
            raise Unsupported("a decimal compared with a float column")
        if v.kind == "dec":
            self.guard(v.expr.str.contains(_DECIMAL_TEXT).fill_null(True))
            return v.expr.cast(DECIMAL, strict=False)
        return v.expr.cast(DECIMAL)


def _is_null(v: Val) -> pl.Expr:
    if v.kind == "null":
        return pl.lit(True)
    if v.expr is None:
        return pl.lit(False)
    return v.expr.is_null()


def _member(current: Val, name: str) -> Val:
    """``current.name``: a struct's field, a built object's key, null for any other value."""
    if current.fields is not None:
        found = dict(current.fields).get(name)
        return NULL if found is None else collapse(found)
    if current.kind == "obj" and current.struct is not None and current.expr is not None:
        dtype = current.struct.get(name)
        return NULL if dtype is None else val_of(dtype, current.expr.struct.field(name))
    if current.kind == "opaque" and current.logical == "json":
        raise Unsupported("a field of an exact-JSON column")
    return NULL


@functools.lru_cache(maxsize=256)
def _literal_cached(kind: str, value: Any) -> Val:
    """The literal's value (cached: a literal in a hot expression is built once)."""
    if kind == "str":
        return Val("str", pl.lit(value, pl.String), truth=bool(value), const=value)
    if kind == "bool":
        return Val("bool", pl.lit(value, pl.Boolean), truth=value, const=value)
    if kind == "int":
        if not _INT64[0] <= value <= _INT64[1]:
            raise Unsupported("an integer literal beyond int64")
        return Val("int", pl.lit(value, pl.Int64), truth=True, const=value)
    if kind == "float":
        return Val("float", pl.lit(value, pl.Float64), truth=True, const=value)
    raise Unsupported(f"a {kind} literal")


def _literal(value: Any) -> Val:
    if value is None:
        return NULL
    if isinstance(value, (dict, list)):
        raise Unsupported("an object or array literal")
    return _literal_cached(type(value).__name__, value)
