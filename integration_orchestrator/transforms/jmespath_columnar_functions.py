"""The JMESPath functions of the columnar subset (see :mod:`.jmespath_columnar`).

Each takes the arguments' static types: a call whose types the function rejects on
every row raises :class:`Unsupported`; a null argument where the function rejects one
(``jmespath`` raises ``invalid-type``) becomes a guard, so that row runs per record and
fails with the library's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import polars as pl

from integration_orchestrator.transforms.jmespath_columnar_values import (
    NULL,
    Node,
    Union,
    Unsupported,
    Val,
    collapse,
)


class Compiler(Protocol):
    """What a function needs of :class:`.jmespath_columnar.Compiler`: its arguments' values
    and a place to put the guards of the rows it is exact on."""

    def value(self, node: Node) -> Union: ...

    def guard(self, exact: pl.Expr) -> None: ...

__all__ = ["call"]


def call(compiler: Compiler, name: str, children: list[Node]) -> Val:
    """The value of ``name(children…)``."""
    function = _FUNCTIONS.get(name)
    if function is None:
        raise Unsupported(f"function {name}()")
    return function(compiler, children)


def _args(compiler: Compiler, children: list[Node], count: int) -> list[Val]:
    if len(children) != count:
        raise Unsupported("wrong number of arguments")
    return [collapse(compiler.value(c)) for c in children]


def _set(compiler: Compiler, v: Val, *kinds: str) -> pl.Expr:
    """``v``'s expression, guarded non-null; Unsupported unless its type is one of ``kinds``."""
    if v.kind not in kinds or v.expr is None:
        raise Unsupported(f"a {v.kind} argument")
    if v.const is None:
        compiler.guard(v.expr.is_not_null())
    return v.expr


def _length(compiler: Compiler, children: list[Node]) -> Val:
    (v,) = _args(compiler, children, 1)
    if v.fields is not None:
        return Val("int", pl.lit(len(v.fields), pl.Int64), truth=True)
    if v.kind == "obj" and v.struct is not None:
        _set(compiler, v, "obj")
        return Val("int", pl.lit(len(v.struct), pl.Int64), truth=True)
    e = _set(compiler, v, "str", "list")
    size = e.str.len_chars() if v.kind == "str" else e.list.len()
    return Val("int", size.cast(pl.Int64), truth=True)


def _strings(name: str) -> Callable[[Compiler, list[Node]], Val]:
    def function(compiler: Compiler, children: list[Node]) -> Val:
        subject, search = (_set(compiler, v, "str") for v in _args(compiler, children, 2))
        if name == "contains":
            return Val("bool", subject.str.contains(search, literal=True))
        if name == "starts_with":
            return Val("bool", subject.str.starts_with(search))
        return Val("bool", subject.str.ends_with(search))

    return function


def _to_string(compiler: Compiler, children: list[Node]) -> Val:
    (v,) = _args(compiler, children, 1)
    if v.kind == "null":
        return Val("str", pl.lit("null", pl.String), truth=True)
    e = v.expr
    assert e is not None
    if v.kind == "str":
        return Val("str", e.fill_null("null"), truth=v.truth)
    if v.kind == "int":
        return Val("str", e.cast(pl.String).fill_null("null"), truth=True)
    if v.kind == "bool":
        text = pl.when(e).then(pl.lit("true")).otherwise(pl.lit("false"))
        return Val("str", pl.when(e.is_null()).then(pl.lit("null")).otherwise(text), truth=True)
    if v.kind == "dec":  # json.dumps(Decimal, default=str): the text, quoted
        quoted = pl.concat_str([pl.lit('"'), e, pl.lit('"')])
        return Val("str", quoted.fill_null("null"), truth=True)
    raise Unsupported(f"to_string of {v.kind}")


def _not_null(compiler: Compiler, children: list[Node]) -> Val:
    if not children:
        raise Unsupported("not_null()")
    values = [collapse(compiler.value(c)) for c in children]
    typed = [v for v in values if v.kind != "null"]
    kinds = {(v.kind, v.logical) for v in typed}
    if not kinds:
        return NULL
    if len(kinds) > 1 or next(iter(kinds))[0] in ("obj", "record", "list"):
        raise Unsupported("not_null of different types")
    first = typed[0]
    return Val(first.kind, pl.coalesce([v.expr for v in typed if v.expr is not None]), logical=first.logical)


def _join(compiler: Compiler, children: list[Node]) -> Val:
    if len(children) != 2 or children[1]["type"] != "multi_select_list":
        raise Unsupported("join over anything but a [a, b, …] list")
    separator = collapse(compiler.value(children[0]))
    if separator.kind != "str" or separator.const is None:
        raise Unsupported("join with a separator that is not a string literal")
    items = [_set(compiler, collapse(compiler.value(c)), "str") for c in children[1]["children"]]
    return Val("str", pl.concat_str(items, separator=separator.const))


def _merge(compiler: Compiler, children: list[Node]) -> Val:
    if not children:
        raise Unsupported("merge()")
    merged: dict[str, Union] = {}
    for child in children:
        v = collapse(compiler.value(child))
        merged.update(object_fields(compiler, v))
    return Val("obj", truth=bool(merged), fields=tuple(merged.items()))


def object_fields(compiler: Compiler, v: Val) -> dict[str, Union]:
    """The keys of an object value in order (a struct guarded non-null); Unsupported for others."""
    if v.fields is not None:
        return dict(v.fields)
    if v.kind == "obj" and v.struct is not None and v.expr is not None:
        compiler.guard(v.expr.is_not_null())
        from integration_orchestrator.transforms.jmespath_columnar_values import val_of

        return {name: ((None, val_of(dtype, v.expr.struct.field(name))),) for name, dtype in v.struct.items()}
    raise Unsupported(f"an object expected, got {v.kind}")


_FUNCTIONS: dict[str, Callable[[Compiler, list[Node]], Val]] = {
    "length": _length,
    "contains": _strings("contains"),
    "starts_with": _strings("starts_with"),
    "ends_with": _strings("ends_with"),
    "to_string": _to_string,
    "not_null": _not_null,
    "join": _join,
    "merge": _merge,
}
