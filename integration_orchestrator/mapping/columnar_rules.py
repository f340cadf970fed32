"""``transformation_rules`` and ``validation_rules`` as columnar stages (see :mod:`.columnar`).

Each rule kind maps a :class:`Col` to the next, exact only where the per-record rule in
:mod:`.rule_kinds` is certainly identical (read there; the differential test proves it).
``STATIC_KINDS`` are the kinds that have a columnar form at all; a plan using another
(jmespath, transformation, cast with ``format``) runs per record.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl

from integration_orchestrator.mapping.columnar_values import (
    CANONICAL_DECIMAL,
    TRUE,
    Col,
    coerce,
    kind_of,
    navigate,
    never,
    nullable,
)
from integration_orchestrator.mapping.columnar_values import Node as _Node
from integration_orchestrator.mapping.paths import compile_path

__all__ = ["apply_rules", "has_columnar_form", "schema_mask"]

_COLUMNAR_KINDS = frozenset({"direct", "cast", "lookup", "template", "concat", "split", "date_format", "chain"})
_STRINGABLE = ("str", "int", "bool")


def has_columnar_form(rule: Any) -> bool:
    """Whether ``rule`` (a valid ``transformation_rules`` object or None) has a columnar form."""
    if rule is None:
        return True
    kind = rule.get("type")
    if kind not in _COLUMNAR_KINDS or (kind == "cast" and rule.get("format") is not None):
        return False
    if kind == "chain":
        return all(has_columnar_form(step) for step in rule["steps"])
    return True


def apply_rules(col: Col, rule: Mapping[str, Any] | None, tz: dt.tzinfo) -> Col:
    """``col`` through ``rule`` (None: unchanged)."""
    if rule is None:
        return col
    kind = rule["type"]
    if kind == "chain":
        for step in rule["steps"]:
            col = apply_rules(col, step, tz)
        return col
    if kind == "direct":
        return col
    if col.nullable:  # a rule after a lookup to null: only non-null rows are known
        col = col.where(col.expr.is_not_null(), col.expr, col.kind, col.dtype, col.logical)
    if col.kind in ("other", "null"):
        return never(col)
    if kind == "cast":
        return coerce(col, rule["to"], tz)
    return _RULES[kind](col, rule, tz)


def _as_text(col: Col) -> pl.Expr | None:
    """``to_string`` of a str/int/bool column (None for other kinds)."""
    if col.kind == "str":
        return col.expr
    if col.kind in ("int", "bool"):
        return col.expr.cast(pl.String)
    return None


def _lookup(col: Col, rule: Mapping[str, Any], tz: dt.tzinfo) -> Col:
    key = _as_text(col)
    table = dict(rule["values"])
    has_default = "default" in rule
    values = [*table.values(), *([rule["default"]] if has_default else [])]
    dtype = _common_dtype(values)
    if key is None or dtype is None:
        return never(col)
    default = rule.get("default") if has_default else None
    mapped = key.replace_strict(list(table), list(table.values()), default=default, return_dtype=dtype)
    found = TRUE if has_default else key.is_in(list(table))
    result = col.where(found, mapped, _KIND[dtype], dtype)
    return nullable(result) if None in values else result


_KIND = {pl.String: "str", pl.Int64: "int", pl.Boolean: "bool", pl.Null: "null"}


def _common_dtype(values: list[Any]) -> Any:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pl.Null
    if len(kinds) > 1:
        return None
    kind = kinds.pop()
    if kind is int and not all(-(2**63) <= v < 2**63 for v in values if v is not None):
        return None
    return {str: pl.String, int: pl.Int64, bool: pl.Boolean}.get(kind)


def _template(col: Col, rule: Mapping[str, Any], tz: dt.tzinfo) -> Col:
    pieces: list[pl.Expr] = []
    ok = TRUE
    for literal, name, spec, _conversion in string.Formatter().parse(rule["template"]):
        if literal:
            pieces.append(pl.lit(literal, pl.String))
        if name is None:
            continue
        keys = compile_path(name).keys
        if spec or not keys or not all(isinstance(k, str) for k in keys):
            return never(col)
        item = _placeholder(col, tuple(str(k) for k in keys))
        if item is None:
            return never(col)
        text, present = item
        ok = ok & present
        pieces.append(text.fill_null(""))
    expr = pl.concat_str(pieces) if pieces else pl.lit("", pl.String)
    return col.where(ok, expr, "str", pl.String)


def _placeholder(col: Col, keys: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr] | None:
    """A placeholder's text and where it is present (a MISSING one fails the rule)."""
    if col.kind == "struct":
        node = navigate(_Node(col.expr, col.dtype, None, TRUE), keys)
    elif keys[0] == "value":
        node = navigate(_Node(pl.struct(col.expr.alias("value")), pl.Struct({"value": col.dtype}), None, TRUE), keys)
        if col.logical is not None and len(keys) == 1:
            node = _Node(col.expr, col.dtype, col.logical, TRUE)
    else:
        return None
    item = None if node is None else node.col()
    if node is None or item is None:
        return None
    text = _as_text(item)
    if item.kind == "decimal" and len(keys) == 1:
        return item.expr, node.present & (item.expr.is_null() | item.expr.str.contains(CANONICAL_DECIMAL))
    if item.kind == "null":
        return pl.lit(None, pl.String), node.present
    if text is None:
        return None
    return text, node.present


def _concat(col: Col, rule: Mapping[str, Any], tz: dt.tzinfo) -> Col:
    separator = rule.get("separator", "")
    names = rule.get("fields")
    if names is not None:
        if col.kind != "struct":
            return never(col)
        fields = {f.name: f.dtype for f in col.dtype.fields}
        items: list[pl.Expr] = []
        for name in names:
            if name not in fields:
                continue  # value.get(name) is None: left out
            item = Col(col.expr.struct.field(name), TRUE, _kind(fields[name]), fields[name])
            text = _as_text(item)
            if text is None and item.kind != "null":
                return never(col)
            if text is not None:
                items.append(text)
        expr = pl.concat_str(items, separator=separator, ignore_nulls=True) if items else pl.lit("", pl.String)
        return col.where(TRUE, expr, "str", pl.String)
    if col.kind != "list" or _kind(col.dtype.inner) not in (*_STRINGABLE, "null"):
        return never(col)
    expr = col.expr.list.eval(pl.element().cast(pl.String)).list.join(separator, ignore_nulls=True)
    return col.where(TRUE, expr, "str", pl.String)


def _kind(dtype: Any) -> str:
    return kind_of(dtype, None)


def _split(col: Col, rule: Mapping[str, Any], tz: dt.tzinfo) -> Col:
    if col.kind != "str":
        return never(col)
    separator = rule.get("separator", ",")
    names = rule.get("fields")
    if names is None:
        if rule.get("maxsplit", -1) != -1:
            return never(col)
        return col.where(TRUE, col.expr.str.split(separator), "list", pl.List(pl.String))
    if rule.get("maxsplit", len(names) - 1) != len(names) - 1:
        return never(col)
    enough = col.expr.str.count_matches(separator, literal=True) >= len(names) - 1
    parts = col.expr.str.splitn(separator, len(names)).struct.rename_fields(list(names))
    return col.where(enough, parts, "struct", pl.Struct(dict.fromkeys(names, pl.String)))


_DIRECTIVES = {"Y": r"[1-9][0-9]{3}", "m": "[0-9]{2}", "d": "[0-9]{2}", "H": "[0-9]{2}", "M": "[0-9]{2}",
               "S": "[0-9]{2}", "%": "%"}
_OUT_DIRECTIVES = frozenset("YmdHMSyj%")


def _format_regex(fmt: str) -> str | None:
    """A regex of the strings strptime(fmt) reads exactly like Polars (None: unsupported)."""
    out, index = ["^"], 0
    while index < len(fmt):
        char = fmt[index]
        if char == "%":
            directive = fmt[index + 1: index + 2]
            if directive not in _DIRECTIVES:
                return None
            out.append(_DIRECTIVES[directive])
            index += 2
            continue
        if char.isspace():
            return None  # strptime's whitespace rules differ
        out.append(re.escape(char))
        index += 1
    return "".join([*out, "$"])


def _date_format(col: Col, rule: Mapping[str, Any], tz: dt.tzinfo) -> Col:
    source, target = rule.get("from"), rule["to"]
    if col.kind != "str" or not _plain_format(target):
        return never(col)
    expr = col.expr
    if source is None:
        date_only = expr.str.contains(r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$")
        full = expr.str.contains(r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$")
        parsed = pl.when(date_only).then(expr + "T00:00:00").otherwise(expr).str.strptime(
            pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S", strict=False)
        ok = (date_only | full) & parsed.is_not_null()
    else:
        pattern = _format_regex(source)
        if pattern is None or "%Y" not in source:
            return never(col)
        has_time = any(f"%{d}" in source for d in "HMS")
        parsed = expr.str.strptime(pl.Datetime("us") if has_time else pl.Date, source, strict=False)
        ok = expr.str.contains(pattern) & parsed.is_not_null()
        parsed = parsed.cast(pl.Datetime("us"))
    return col.where(ok, parsed.dt.strftime(target), "str", pl.String)


def _plain_format(fmt: str) -> bool:
    index = 0
    while index < len(fmt):
        if fmt[index] == "%":
            if fmt[index + 1: index + 2] not in _OUT_DIRECTIVES:
                return False
            index += 2
        else:
            index += 1
    return True


_RULES = {"lookup": _lookup, "template": _template, "concat": _concat, "split": _split, "date_format": _date_format}

_SCHEMA_KEYS = frozenset({"type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                          "minLength", "maxLength", "$schema", "title", "description"})
_TYPES = {"string": ("str",), "integer": ("int",), "number": ("int", "decimal"), "boolean": ("bool",),
          "object": ("struct",), "array": ("list",)}
_CHECKABLE = frozenset({"str", "int", "bool", "decimal", "struct", "list"})
_SAFE_PATTERN = re.compile(r"^(?:[A-Za-z0-9 ^$.*+?()\[\]{}|,:_/@#=-]|\\[dw.\-+*?()\[\]{}|^$/])*$")


def schema_mask(col: Col, schema: Any) -> Col:
    """Pre/post validation: rows certainly valid pass (the others go per record and fail there)."""
    if schema is True or schema == {}:
        return col.where(col.expr.is_not_null(), col.expr, col.kind, col.dtype, col.logical)
    if not isinstance(schema, Mapping) or set(schema) - _SCHEMA_KEYS or col.kind not in _CHECKABLE:
        return never(col)
    expr, kind = col.expr, col.kind
    ok = expr.is_not_null()
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(kind in _TYPES.get(t, ()) for t in types):
            return never(col)
    if "enum" in schema:
        members = [m for m in schema["enum"] if type(m) is {"str": str, "int": int}.get(kind)]
        if kind not in ("str", "int"):
            return never(col)
        ok = ok & expr.is_in(members)
    if "pattern" in schema and kind == "str":  # the keyword ignores non-strings
        pattern = schema["pattern"]
        if not isinstance(pattern, str) or not _SAFE_PATTERN.match(pattern) or not _compiles(pattern):
            return never(col)
        ok = ok & expr.str.contains(r"^[\x00-\x7f]*$") & expr.str.contains(pattern)
    for key in ("minLength", "maxLength"):
        if key in schema:
            if kind != "str":
                continue
            bound = int(schema[key])
            ok = ok & (expr.str.len_chars() >= bound if key == "minLength" else expr.str.len_chars() <= bound)
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            if kind in ("str", "bool", "struct", "list"):
                continue  # the keyword ignores non-numbers
            limit = _int_bound(schema[key], key)
            if kind != "int" or limit is None:
                return never(col)
            ok = ok & {"minimum": expr >= limit, "maximum": expr <= limit,
                       "exclusiveMinimum": expr > limit, "exclusiveMaximum": expr < limit}[key]
    return col.where(ok, expr, kind, col.dtype, col.logical)


def _compiles(pattern: str) -> bool:
    """Both Python's ``re`` and Polars (Rust ``regex``) accept ``pattern``."""
    try:
        re.compile(pattern)
        pl.Series(["x"]).str.contains(pattern)
    except (re.error, pl.exceptions.PolarsError):
        return False
    return True


def _int_bound(value: Any, key: str) -> int | None:
    """An integer bound equivalent to ``value`` for integer values (None: not exactly)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if number != number.to_integral_value() or abs(number) >= 2**62:
        return None
    return int(number)
