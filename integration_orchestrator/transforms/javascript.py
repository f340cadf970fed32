"""JavaScript engine (QuickJS): ``{"code"}`` defining ``transform(record)`` or ``transformBatch(records)``.

QuickJS has no host access (no ``require``, ``fs``, ``process``, network or timers). Each
transformation gets its own context in a sandbox worker, with QuickJS's memory, stack and
time limits; the time limit does not stop regular-expression backtracking, so the worker
pool's timeout (the worker is killed) is the fence for that. Promise jobs are never run:
a transform returning a Promise fails, and callbacks left queued never execute.

Per-record types call ``transform(record)``; aggregate/custom call ``transformBatch(records)``
(or ``transform(records)`` when only ``transform`` is defined).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from integration_orchestrator.transforms.base import PER_RECORD_TYPES, Engine, LogicError, Program, RecordFailure

__all__ = ["JavaScriptEngine", "js_error_kind"]

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
            result = orjson.loads(fn(orjson.dumps(records).decode()))
            if not per_record:
                return result
            return [RecordFailure(item["e"]) if "e" in item else item["v"] for item in result]

        return run
