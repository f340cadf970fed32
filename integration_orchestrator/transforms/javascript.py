"""JavaScript engine (QuickJS): ``{"code"}`` defining ``transform(record)`` or ``transformBatch(records)``.

QuickJS has no host access (no ``require``, ``fs``, ``process``, network or timers). Each
transformation gets its own context in a sandbox worker, with QuickJS's memory, stack and
time limits; the time limit does not stop regular-expression backtracking, so the worker
pool's timeout (the worker is killed) is the fence for that. Promise jobs are never run:
a transform returning a Promise fails, and callbacks left queued never execute.

Per-record types call ``transform(record)``; aggregate/custom call ``transformBatch(records)``
(or ``transform(records)`` when only ``transform`` is defined).

JavaScript has no decimal or date type, so exact values cross as follows (see
:func:`js_value`): a ``Decimal`` with at most 15 significant digits arrives as a number
(the double that prints as the same decimal), any other ``Decimal`` as its exact text
(``"12345678901234567.89"``); dates and datetimes arrive as ISO 8601 text. A value the
script returns at the same field path as the number or text it arrived as comes back as
the original ``Decimal``/``date``/``datetime``, scale and offset kept
(:mod:`.exact`); what the script computes comes back as JSON numbers and strings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson

from integration_orchestrator.transforms.base import PER_RECORD_TYPES, Engine, LogicError, Program, RecordFailure
from integration_orchestrator.transforms.exact import Originals, Path

__all__ = ["JavaScriptEngine", "js_error_kind", "js_value"]

MEMORY_LIMIT = 256 * 1024 * 1024
STACK_LIMIT = 512 * 1024

_RUNNER = r"""
(function () {
  const T = typeof transform === "function" ? transform : null;
  const B = typeof transformBatch === "function" ? transformBatch : null;
  const asyncError = "returned a Promise; transformations must be synchronous";
  const isThenable = (v) => v !== null && typeof v === "object" && typeof v.then === "function";
  const message = (e) => (e instanceof Error ? e.name + ": " + e.message : "thrown: " + String(e));
  globalThis.__ioRecords = function (json) {
    if (T === null) throw new TypeError("the code must define function transform(record)");
    const rs = JSON.parse(json);
    const out = new Array(rs.length);
    for (let i = 0; i < rs.length; i++) {
      try {
        const v = T(rs[i]);
        out[i] = isThenable(v) ? { e: "transform " + asyncError } : { v: v === undefined ? null : v };
      } catch (e) {
        if (e instanceof InternalError && (e.message === "interrupted" || e.message === "out of memory")) throw e;
        out[i] = { e: message(e) };
      }
    }
    return JSON.stringify(out);
  };
  globalThis.__ioBatch = function (json) {
    const fn = B !== null ? B : T;
    if (fn === null) throw new TypeError("the code must define function transformBatch(records) or transform(records)");
    const v = fn(JSON.parse(json));
    if (isThenable(v)) throw new TypeError("transformBatch " + asyncError);
    return JSON.stringify(v === undefined ? null : v);
  };
})();
"""


_SAFE_DIGITS = 15  # every decimal of at most 15 significant digits survives a double round trip
_SAFE_EXPONENT = 300
_SAFE_INTEGER = 2**53


def _js_decimal(value: Decimal) -> int | float | str:
    """The number that prints as ``value`` when there is one, else ``value``'s exact text."""
    if not value.is_finite():
        return str(value)
    digits = value.as_tuple().digits
    if not any(digits):
        return 0
    significant = len(digits)
    while digits[significant - 1] == 0:
        significant -= 1
    if significant > _SAFE_DIGITS or abs(value.adjusted()) > _SAFE_EXPONENT:
        return str(value)
    if value == value.to_integral_value():
        integer = int(value)
        if abs(integer) < _SAFE_INTEGER:
            return integer
    return float(value)


def js_value(value: Any, originals: Originals, path: Path = ()) -> Any:
    """``value`` as JSON types for QuickJS; each exact value sent is noted in ``originals``."""
    kind = type(value)
    if kind is dict:
        return {k: js_value(v, originals, (*path, k)) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [js_value(v, originals, path) for v in value]
    if isinstance(value, Decimal):
        sent: Any = _js_decimal(value)
    elif isinstance(value, dt.date):  # and datetime
        sent = value.isoformat()
    else:
        return value
    originals.add(path, sent, value)
    return sent


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def js_error_kind(exc: BaseException) -> str:
    """``timeout``, ``memory`` or ``runtime`` for an exception escaping a QuickJS call."""
    text = str(exc)
    if "InternalError: interrupted" in text:
        return "timeout"
    if "out of memory" in text:
        return "memory"
    return "runtime"


def _code(logic: Mapping[str, Any]) -> str:
    code = logic.get("code")
    if not isinstance(code, str) or not code.strip():
        raise LogicError("code", "must be a non-empty JavaScript source string")
    return code


class JavaScriptEngine(Engine):
    language = "javascript"
    sandboxed = True
    needs_seccomp = True

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        """Parse (never run) the code: ``new Function(code)`` compiles the body only."""
        import quickjs

        code = _code(logic)
        ctx = quickjs.Context()
        ctx.set_memory_limit(64 * 1024 * 1024)
        ctx.set_time_limit(2)
        try:
            ctx.eval(f"new Function({orjson.dumps(code).decode()}); null")
        except quickjs.JSException as exc:
            raise LogicError("code", f"JavaScript syntax error: {_first_line(exc)}") from None
        names = ("transform", "transformBatch") if transformation_type not in PER_RECORD_TYPES else ("transform",)
        if not any(name in code for name in names):
            raise LogicError("code", f"must define {' or '.join(f'{n}(...)' for n in names)}")

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        import quickjs

        ctx = quickjs.Context()
        ctx.set_memory_limit(MEMORY_LIMIT)
        ctx.set_max_stack_size(STACK_LIMIT)
        ctx.set_time_limit(max(1, int(timeout_seconds + 0.999)))
        ctx.eval(_code(logic))
        ctx.eval(_RUNNER)
        per_record = transformation_type in PER_RECORD_TYPES
        fn = ctx.get("__ioRecords" if per_record else "__ioBatch")

        def run(records: list[dict[str, Any]]) -> Any:
            if not per_record:
                batch = Originals()
                sent = js_value(records, batch)
                return batch.restore(orjson.loads(fn(orjson.dumps(sent).decode())))
            originals = [Originals() for _ in records]
            sent = [js_value(record, originals[i]) for i, record in enumerate(records)]
            result = orjson.loads(fn(orjson.dumps(sent).decode()))
            return [
                RecordFailure(item["e"]) if "e" in item else originals[i].restore(item["v"])
                for i, item in enumerate(result)
            ]

        return run
