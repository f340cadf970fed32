"""JMESPath compiled to Python closures, for expressions whose cost per record is bounded.

The sandbox pool exists to stop tenant logic that runs too long or grows too big. Most
JMESPath steps cannot do either: without a way to duplicate a value they have already
built, an expression of ``n`` nodes visits each node once per record (or once per element
of a list it projects over), so its work is polynomial in ``n`` and the record size. The
one way JMESPath amplifies is feeding a value that reads its input twice (``[@, @]``,
``{a: @, b: @}``) into another expression that does the same (``[@, @] | [@, @] | ...``,
``x.[@, @].[@, @]``): 2^k values from k stages, which ``to_string`` or a projection then
walks. :func:`fence` refuses exactly that, plus the functions that take expression
references (``map``, ``sort_by``, ``min_by``, ``max_by``), very large or deep expressions
and anything it does not know; a refused expression keeps running in the sandbox.

:func:`compile_inline` turns an accepted expression into nested closures with the
semantics of ``jmespath`` 1.1's ``TreeInterpreter`` (the differential tests compare them
on a matrix of expressions and records). Function calls whose arguments have the types
the function requires take a direct path; any other call goes through ``jmespath``'s own
``Functions.call_function``, so errors carry the library's messages.
"""

from __future__ import annotations

import copy
import functools
import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import jmespath
from jmespath import functions as _functions
from jmespath.visitor import (  # type: ignore[attr-defined]  # types-jmespath omits these private helpers
    _equals,
    _is_actual_number,
    _is_comparable,
)

from integration_orchestrator.compose import compose
from integration_orchestrator.transforms.contracts import truthy

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_NODES", "compile_inline", "copies", "fence"]

Node = Mapping[str, Any]
Evaluator = Callable[[Any], Any]

MAX_NODES = 256
MAX_DEPTH = 48

#: Functions allowed in-process: each costs at most O(n log n) in the size of its arguments.
FUNCTIONS = frozenset({
    "abs", "avg", "ceil", "contains", "ends_with", "floor", "join", "keys", "length", "max", "merge", "min",
    "not_null", "reverse", "sort", "starts_with", "sum", "to_array", "to_number", "to_string", "type", "values",
})

_LEAVES = frozenset({"field", "current", "identity", "index", "slice"})
_SUMMED = frozenset({
    "comparator", "and_expression", "or_expression", "not_expression", "multi_select_dict", "multi_select_list",
    "key_val_pair", "function_expression",
})
_CHAINS = frozenset(
    {"subexpression", "pipe", "index_expression", "projection", "value_projection", "filter_projection"}
)
_ORDERING = {"lt": operator.lt, "gt": operator.gt, "lte": operator.le, "gte": operator.ge}
_LIBRARY = _functions.Functions()


def fence(parsed: Node) -> str | None:
    """Why ``parsed`` (a ``jmespath`` AST) must run in the sandbox, or None when it may run inline."""
    try:
        _reads(parsed, 0, [0])
    except _Refused as refused:
        return str(refused)
    return None


@functools.lru_cache(maxsize=512)
def copies(expression: str) -> int:
    """How many times an accepted expression can copy one part of its input into its result
    (``{a: @, b: @, c: @}``: 3; ``{a: x, b: y}``: 1): its output is at most this many times its
    input, plus its literals. 0 for an expression the fence refuses."""
    try:
        paths = _reads(jmespath.compile(expression).parsed, 0, [0])
    except _Refused:
        return 0
    return max((sum(1 for q in paths if p[: len(q)] == q[: len(p)]) for p in paths), default=1)


class _Refused(Exception):
    pass


Path = tuple[str, ...]


def _reads(node: Node, depth: int, counter: list[int]) -> list[Path]:
    """The parts of its input ``node`` copies into its result: field paths, ``()`` for all of it.

    Raise :class:`_Refused` when a value already built is fed to an expression that
    copies a part of it twice.
    """
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise _Refused(f"more than {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise _Refused(f"nested deeper than {MAX_DEPTH}")
    kind = node["type"]
    children = [c for c in node.get("children", []) if isinstance(c, Mapping)]
    if kind == "literal":
        return []
    if kind == "field":
        return [(node["value"],)]
    if kind in _LEAVES:
        return [()]
    if kind == "function_expression" and node["value"] not in FUNCTIONS:
        raise _Refused(f"function {node['value']}() runs in the sandbox")
    if kind in _SUMMED:
        return [path for c in children for path in _reads(c, depth + 1, counter)]
    if kind == "flatten":
        return _reads(children[0], depth + 1, counter)
    if kind in _CHAINS:
        return _chain_reads(kind, children, depth, counter)
    raise _Refused(f"{kind} runs in the sandbox")


def _chain_reads(kind: str, children: list[Node], depth: int, counter: list[int]) -> list[Path]:
    paths = _reads(children[0], depth + 1, counter)
    rest = children[1:]
    if kind == "filter_projection":  # [left, right, condition]: the condition yields only a truth value
        _reads(rest.pop(), depth + 1, counter)
    for child in rest:
        step = _reads(child, depth + 1, counter)
        if _overlapping(step):
            raise _Refused(f"the right side of a {kind} copies a part of its input twice")
        if kind == "subexpression" and len(paths) == 1 and len(step) == 1:
            paths = [paths[0] + step[0]]
    return paths


def _overlapping(paths: list[Path]) -> bool:
    return any(a[: len(b)] == b[: len(a)] for i, a in enumerate(paths) for b in paths[i + 1 :])


@functools.lru_cache(maxsize=512)
def compile_inline(expression: str) -> Evaluator | None:
    """A function ``record -> value`` equal to ``jmespath.search(expression, record)``, or None if fenced out."""
    parsed = jmespath.compile(expression).parsed
    if fence(parsed) is not None:
        return None
    return _compile(parsed)


_PLAIN = (str, type(None), dict, list)
_COMPARABLE = frozenset({int, float, str, Decimal})


def _fast_equals(x: Any, y: Any) -> bool:
    """``jmespath``'s equality; its number/boolean special case only concerns numbers."""
    if type(x) in _PLAIN or type(y) in _PLAIN:
        return bool(x == y)
    return bool(_equals(x, y))


def _fast_comparable(x: Any) -> bool:
    kind = type(x)
    return kind in _COMPARABLE or (kind is not bool and _is_comparable(x))


def _compile(node: Node) -> Evaluator:
    return _BUILDERS[node["type"]](node)


def _field(node: Node) -> Evaluator:
    name = node["value"]

    def field(value: Any) -> Any:
        try:
            return value.get(name)
        except AttributeError:
            return None

    return field


def _current(node: Node) -> Evaluator:
    return lambda value: value


def _literal(node: Node) -> Evaluator:
    constant = node["value"]
    if isinstance(constant, (dict, list)):
        return lambda value: copy.deepcopy(constant)
    return lambda value: constant


def _index(node: Node) -> Evaluator:
    position = node["value"]

    def index(value: Any) -> Any:
        if not isinstance(value, list):
            return None
        try:
            return value[position]
        except IndexError:
            return None

    return index


def _slice(node: Node) -> Evaluator:
    bounds = slice(*node["children"])
    return lambda value: value[bounds] if isinstance(value, list) else None


def _chain(node: Node) -> Evaluator:
    chained = compose([_compile(c) for c in node["children"]])
    assert chained is not None
    return chained


def _comparator(node: Node) -> Evaluator:
    left, right = (_compile(c) for c in node["children"])
    op = node["value"]
    if op == "eq":
        return lambda value: _fast_equals(left(value), right(value))
    if op == "ne":
        return lambda value: not _fast_equals(left(value), right(value))
    compare = _ORDERING[op]

    def ordering(value: Any) -> Any:
        a, b = left(value), right(value)
        if not (_fast_comparable(a) and _fast_comparable(b)):
            return None
        return compare(a, b)

    return ordering


def _and(node: Node) -> Evaluator:
    left, right = (_compile(c) for c in node["children"])

    def and_(value: Any) -> Any:
        matched = left(value)
        return right(value) if truthy(matched) else matched

    return and_


def _or(node: Node) -> Evaluator:
    left, right = (_compile(c) for c in node["children"])

    def or_(value: Any) -> Any:
        matched = left(value)
        return matched if truthy(matched) else right(value)

    return or_


def _not(node: Node) -> Evaluator:
    child = _compile(node["children"][0])

    def not_(value: Any) -> bool:
        result = child(value)
        if _is_actual_number(result) and result == 0:
            return False
        return not result

    return not_


def _multi_dict(node: Node) -> Evaluator:
    pairs = [(c["value"], _compile(c["children"][0])) for c in node["children"]]

    if len(pairs) == 1:
        ((only_key, only),) = pairs
        return lambda value: None if value is None else {only_key: only(value)}

    def multi_dict(value: Any) -> Any:
        if value is None:
            return None
        return {key: evaluate(value) for key, evaluate in pairs}

    return multi_dict


def _multi_list(node: Node) -> Evaluator:
    items = [_compile(c) for c in node["children"]]

    def multi_list(value: Any) -> Any:
        if value is None:
            return None
        return [evaluate(value) for evaluate in items]

    return multi_list


def _projection(node: Node) -> Evaluator:
    base, each = (_compile(c) for c in node["children"])

    def projection(value: Any) -> Any:
        elements = base(value)
        if not isinstance(elements, list):
            return None
        return [out for out in map(each, elements) if out is not None]

    return projection


def _value_projection(node: Node) -> Evaluator:
    base, each = (_compile(c) for c in node["children"])

    def value_projection(value: Any) -> Any:
        try:
            elements = base(value).values()
        except AttributeError:
            return None
        return [out for out in map(each, elements) if out is not None]

    return value_projection


def _filter_projection(node: Node) -> Evaluator:
    base, each, condition = (_compile(c) for c in node["children"])

    def filter_projection(value: Any) -> Any:
        elements = base(value)
        if not isinstance(elements, list):
            return None
        collected = []
        for element in elements:
            if truthy(condition(element)):
                out = each(element)
                if out is not None:
                    collected.append(out)
        return collected

    return filter_projection


def _flatten(node: Node) -> Evaluator:
    base = _compile(node["children"][0])

    def flatten(value: Any) -> Any:
        elements = base(value)
        if not isinstance(elements, list):
            return None
        merged: list[Any] = []
        for element in elements:
            if isinstance(element, list):
                merged.extend(element)
            else:
                merged.append(element)
        return merged

    return flatten


_DICT, _STR = {dict}, {str}


def _merge(args: list[Any]) -> Any:
    if args and set(map(type, args)) <= _DICT:
        merged: dict[str, Any] = {}
        for arg in args:
            merged.update(arg)
        return merged
    return _LIBRARY.call_function("merge", args)


def _join(args: list[Any]) -> Any:
    if len(args) == 2 and type(args[0]) is str and type(args[1]) is list and set(map(type, args[1])) <= _STR:
        return args[0].join(args[1])
    return _LIBRARY.call_function("join", args)


def _length(args: list[Any]) -> Any:
    if len(args) == 1 and type(args[0]) in (str, list, dict):
        return len(args[0])
    return _LIBRARY.call_function("length", args)


_DIRECT: dict[str, Callable[[list[Any]], Any]] = {"merge": _merge, "join": _join, "length": _length}


def _function(node: Node) -> Evaluator:
    name = node["value"]
    arguments = [_compile(c) for c in node["children"]]
    call = _DIRECT.get(name) or (lambda args: _LIBRARY.call_function(name, args))
    if len(arguments) == 1:
        (only,) = arguments
        return lambda value: call([only(value)])
    if len(arguments) == 2:
        first, second = arguments
        return lambda value: call([first(value), second(value)])
    return lambda value: call([evaluate(value) for evaluate in arguments])


_BUILDERS: dict[str, Callable[[Node], Evaluator]] = {
    "field": _field,
    "current": _current,
    "identity": _current,
    "literal": _literal,
    "index": _index,
    "slice": _slice,
    "subexpression": _chain,
    "pipe": _chain,
    "index_expression": _chain,
    "comparator": _comparator,
    "and_expression": _and,
    "or_expression": _or,
    "not_expression": _not,
    "multi_select_dict": _multi_dict,
    "multi_select_list": _multi_list,
    "projection": _projection,
    "value_projection": _value_projection,
    "filter_projection": _filter_projection,
    "flatten": _flatten,
    "function_expression": _function,
}
