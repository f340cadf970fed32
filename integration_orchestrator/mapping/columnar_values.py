"""Columnar values of the vectorized mapping path: reading source paths, target coercion.

A :class:`Col` is a Polars expression for a value together with ``ok``: a boolean
expression that is true on the rows where the expression is *certainly* what the
per-record engine computes (see :mod:`.columnar`). Every function here is conservative:
when it cannot prove a form exact for a kind of value, it returns :func:`never`, whose
rows all go through the per-record engine. ``kind`` names what the values are in the
per-record world (``str``, ``int``, ``bool``, ``float``, ``decimal`` (text holding
``str(Decimal)``), ``json``, ``adt`` (aware datetime text), ``date``, ``ts``, ``struct``,
``list``, ``null``, ``other``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

__all__ = [
    "CANONICAL_DATE",
    "CANONICAL_DECIMAL",
    "Col",
    "Node",
    "coerce",
    "kind_of",
    "literal",
    "navigate",
    "never",
    "root",
    "source_check",
]

# Strings whose value the per-record engine returns unchanged, verified by reading types.py:
# str(Decimal(s)) == s (no exponent: integer part without leading zeros, no more than 6
# leading fractional zeros), int(s) fits int64, date.fromisoformat(s).isoformat() == s.
CANONICAL_DECIMAL = r"^-?(?:[1-9][0-9]*(?:\.[0-9]+)?|0(?:\.(?:0{0,5}[1-9][0-9]*|0{1,6}))?)$"
CANONICAL_INTEGER = r"^-?[0-9]{1,18}$"
CANONICAL_DATE = r"^(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-[0-9]{2}-[0-9]{2}$"
_NAIVE_DATETIME = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
_OFFSET_DATETIME = (
    r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(?:\+(?:[01][0-9]|2[0-3]):[0-5][0-9]|-(?:0[0-9]|1[0-9]|2[0-3]):(?:0[1-9]|[1-5][0-9])"
    r"|-(?:0[1-9]|1[0-9]|2[0-3]):00)$"
)
_BOOLEANS = {"true": True, "1": True, "yes": True, "y": True, "t": True, "on": True,
             "false": False, "0": False, "no": False, "n": False, "f": False, "off": False}
TRUE = pl.lit(True)
FALSE = pl.lit(False)


@dataclass(frozen=True)
class Col:
    """A value column: ``expr`` (exact where ``ok``), its ``kind`` and Polars ``dtype``."""

    expr: pl.Expr
    ok: pl.Expr
    kind: str
    dtype: Any = None
    logical: str | None = None
    nullable: bool = False  # a rule may have produced null (a lookup to null)

    def where(self, condition: pl.Expr, expr: pl.Expr, kind: str, dtype: Any = None,
              logical: str | None = None) -> Col:
        """The next stage: ``expr`` exact where this stage was and ``condition`` holds."""
        return Col(expr, self.ok & condition, kind, dtype, logical, self.nullable)


def never(col: Col | None = None) -> Col:
    """A value no row of which is known exact (all rows go per record)."""
    return Col(pl.lit(None), FALSE, "other")


def _null_or(col: Col, condition: pl.Expr) -> pl.Expr:
    """``condition``, and null values (from a lookup) pass: coercion skips null."""
    return col.expr.is_null() | condition if col.nullable else condition


def kind_of(dtype: Any, logical: str | None) -> str:
    if logical in ("decimal", "json"):
        return logical
    if logical == "datetime":
        return "adt"
    if dtype == pl.String:
        return "str"
    if dtype.is_integer():
        return "int"
    if dtype == pl.Boolean:
        return "bool"
    if dtype.is_float():
        return "float"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return "ts"
    if isinstance(dtype, pl.Struct):
        return "struct"
    if isinstance(dtype, pl.List):
        return "list"
    if dtype == pl.Null:
        return "null"
    return "other"


@dataclass(frozen=True)
class Node:
    """A place in the source record: its value and where it is present (not MISSING)."""

    expr: pl.Expr
    dtype: Any
    logical: str | None
    present: pl.Expr
    fields: dict[str, Any] | None = None  # the root: column name -> dtype
    logicals: dict[str, str] | None = None

    def col(self) -> Col | None:
        """The node as a value column (None: no exact columnar form)."""
        if self.fields is not None:
            if self.logicals:
                return None
            return Col(pl.struct(list(self.fields)), TRUE, "struct", pl.Struct(self.fields))
        return Col(self.expr, TRUE, kind_of(self.dtype, self.logical), self.dtype, self.logical)


def root(schema: dict[str, Any], logical: dict[str, str]) -> Node:
    """The record itself (source path ``$``)."""
    return Node(pl.lit(True), None, None, TRUE, fields=dict(schema), logicals=dict(logical))


_ABSENT = Node(pl.lit(None), pl.Null, None, FALSE)


def navigate(node: Node, keys: tuple[str, ...]) -> Node | None:
    """The node at ``keys`` below ``node`` as the per-record readers see it (None: unknown)."""
    for key in keys:
        if node.fields is not None:
            if key not in node.fields:
                return _ABSENT
            node = Node(pl.col(key), node.fields[key], (node.logicals or {}).get(key), TRUE)
            continue
        if node.logical == "json":
            return None  # dicts inside exact JSON text: per record
        if node.logical is None and isinstance(node.dtype, pl.Struct):
            child = {f.name: f.dtype for f in node.dtype.fields}
            if key not in child:
                return _ABSENT
            node = Node(node.expr.struct.field(key), child[key], None, node.present & node.expr.is_not_null())
            continue
        return _ABSENT  # a scalar or list in the way: the reader's TypeError, MISSING
    return node


def literal(value: Any) -> Col | None:
    """A typed default value as a column (None: not representable exactly)."""
    if type(value) is str:
        return Col(pl.lit(value, pl.String), TRUE, "str", pl.String)
    if type(value) is bool:
        return Col(pl.lit(value, pl.Boolean), TRUE, "bool", pl.Boolean)
    if type(value) is int and -(2**63) <= value < 2**63:
        return Col(pl.lit(value, pl.Int64), TRUE, "int", pl.Int64)
    if type(value).__name__ == "Decimal" and value.is_finite():
        return Col(pl.lit(str(value), pl.String), TRUE, "decimal", pl.String, "decimal")
    return None


def source_check(col: Col, source_type: str | None) -> Col:
    """``source_data_type``: rows whose value is certainly of the type pass."""
    if not source_type:
        return col
    passes = {
        "string": ("str",), "integer": ("int",), "number": ("int", "float", "decimal"),
        "boolean": ("bool",), "object": ("struct",), "array": ("list",),
    }
    if col.kind in passes.get(source_type, ()):
        return col
    if source_type == "date" and col.kind == "str":
        return col.where(_real_date(col.expr), col.expr, col.kind, col.dtype)
    return never(col)


def _real_date(expr: pl.Expr) -> pl.Expr:
    return expr.str.contains(CANONICAL_DATE) & expr.str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()


def coerce(col: Col, to: str | None, tz: dt.tzinfo) -> Col:
    """The target coercion (and ``cast`` rule) to ``to``, exact on the canonical subset."""
    if not to:
        return col
    kind, expr = col.kind, col.expr
    if kind == "null":
        return col
    if to == "string":
        if kind == "str":
            return col
        if kind in ("int", "bool"):
            return col.where(TRUE, expr.cast(pl.String), "str", pl.String)
        if kind == "decimal":
            return col.where(_null_or(col, expr.str.contains(CANONICAL_DECIMAL)), expr, "str", pl.String)
    elif to == "integer":
        if kind == "int":
            return col
        if kind == "str":
            return col.where(_null_or(col, expr.str.contains(CANONICAL_INTEGER)),
                             expr.str.to_integer(strict=False), "int", pl.Int64)
    elif to == "number":
        if kind == "decimal":
            return col.where(_null_or(col, expr.str.contains(r"^-?[0-9]")), expr, "decimal", pl.String, "decimal")
        if kind == "str":
            return col.where(_null_or(col, expr.str.contains(CANONICAL_DECIMAL)), expr, "decimal", pl.String,
                             "decimal")
        if kind == "int":
            return col.where(TRUE, expr.cast(pl.String), "decimal", pl.String, "decimal")
    elif to == "boolean":
        if kind == "bool":
            return col
        if kind == "str":
            mapped = expr.replace_strict(list(_BOOLEANS), list(_BOOLEANS.values()), default=None,
                                         return_dtype=pl.Boolean)
            return col.where(_null_or(col, expr.is_in(list(_BOOLEANS))), mapped, "bool", pl.Boolean)
        if kind == "int":
            return col.where(_null_or(col, expr.is_in([0, 1])), expr == 1, "bool", pl.Boolean)
    elif to == "date":
        if kind == "str":
            return col.where(_null_or(col, _real_date(expr)), expr, "str", pl.String)
    elif to == "datetime":
        if kind == "str":
            return _to_datetime(col, tz)
    elif (to == "object" and kind == "struct") or (to == "array" and kind == "list"):
        return col
    return never(col)


def _to_datetime(col: Col, tz: dt.tzinfo) -> Col:
    expr = col.expr
    real = expr.str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False).is_not_null()
    aware = expr.str.contains(_OFFSET_DATETIME) & real
    if tz is not dt.UTC:
        return col.where(_null_or(col, aware), expr, "str", pl.String)
    naive = expr.str.contains(_NAIVE_DATETIME) & real
    value = pl.when(naive).then(expr + "+00:00").otherwise(expr)
    return col.where(_null_or(col, aware | naive), value, "str", pl.String)


def nullable(col: Col) -> Col:
    return replace(col, nullable=True)
