"""JMESPath engine: ``{"expression": "..."}`` evaluated on each record (or the batch)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jmespath as _jmespath
from jmespath.exceptions import JMESPathError

from integration_orchestrator.transforms.base import PER_RECORD_TYPES, Engine, LogicError, Program, RecordFailure
from integration_orchestrator.transforms.jmespath_inline import compile_inline, copies
from integration_orchestrator.transforms.jmespath_output import capped

__all__ = ["JMESPathEngine"]


def _expression(logic: Mapping[str, Any]) -> str:
    expression = logic.get("expression")
    if not isinstance(expression, str) or not expression.strip():
        raise LogicError("expression", "must be a non-empty JMESPath expression string")
    return expression


class JMESPathEngine(Engine):
    """map/filter/enrich/validate: the expression runs on each record; aggregate/custom: on the list.

    Per-record expressions inside the fence of :mod:`.jmespath_inline` run in the calling
    process as compiled closures, their output capped by :mod:`.jmespath_output`; the
    others, and the batch types, in the sandbox.
    """

    language = "jmespath"
    sandboxed = True

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        try:
            _jmespath.compile(_expression(logic))
        except JMESPathError as exc:
            raise LogicError("expression", f"invalid JMESPath: {' '.join(str(exc).split())}") from None
        except RecursionError:
            raise LogicError("expression", "invalid JMESPath: nested too deeply") from None

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        parsed = _jmespath.compile(_expression(logic))
        if transformation_type not in PER_RECORD_TYPES:
            return parsed.search
        return _per_record(parsed.search)

    def inline(self, logic: Mapping[str, Any], transformation_type: str) -> Program | None:
        if transformation_type not in PER_RECORD_TYPES:
            return None
        expression = _expression(logic)
        evaluate = compile_inline(expression)
        return None if evaluate is None else _per_record(capped(evaluate, copies(expression)))


_ERRORS = (JMESPathError, RecursionError, TypeError, ValueError)


def _per_record(evaluate: Callable[[Any], Any]) -> Program:
    def run(records: list[dict[str, Any]]) -> list[Any]:
        try:
            return [evaluate(record) for record in records]
        except _ERRORS:
            pass
        out: list[Any] = []
        for record in records:
            try:
                out.append(evaluate(record))
            except _ERRORS as exc:
                out.append(RecordFailure(f"JMESPath error: {exc}"))
        return out

    return run
