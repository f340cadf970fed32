"""Built-in test cases: ``test_cases = {"cases": [{"name", "input", "expected"}]}``.

Cases run through ``CompiledTransformation.apply``, the same sandboxed path as
production. ``input`` is one record or a list of records; ``expected`` matches it in
kind:

- map/enrich: the output record (one input record) or the list of output records;
- filter: ``true``/``false`` (one record: kept or not) or the list of kept records;
- validate: ``true``/``false`` (valid or not), or the list of valid records;
- aggregate/custom: the list of output records;
- any type: ``{"error": "<substring>"}`` expects the (first) failure to contain it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integration_orchestrator.transforms.compiled import CompiledTransformation
from integration_orchestrator.transforms.errors import TransformationDefinitionError, TransformationExecutionError

__all__ = ["CaseResult", "parse_cases", "run_test_cases"]


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    message: str
    actual: Any = None


def parse_cases(compiled: CompiledTransformation) -> list[Mapping[str, Any]]:
    """The row's cases, checked for shape (``TransformationDefinitionError`` when wrong)."""
    row = compiled.row
    raw = row.test_cases or {}
    cases = raw.get("cases", [])
    if not isinstance(cases, list):
        raise row.error("test_cases.cases", "must be a list of {name, input, expected}")
    for i, case in enumerate(cases):
        if not isinstance(case, Mapping) or "input" not in case or "expected" not in case:
            raise row.error(f"test_cases.cases[{i}]", "must be an object with input and expected")
        items = case["input"] if isinstance(case["input"], list) else [case["input"]]
        if not all(isinstance(item, dict) for item in items):
            raise row.error(f"test_cases.cases[{i}].input", "must be a record (object) or a list of records")
    return cases


def _actual(compiled: CompiledTransformation, single: bool, expected: Any, outcome: Any) -> Any:
    kind = compiled.row.transformation_type
    if single and isinstance(expected, bool) and kind in ("filter", "validate"):
        return bool(outcome.records)
    if single and kind in ("map", "enrich") and isinstance(expected, Mapping):
        return outcome.records[0] if len(outcome.records) == 1 else outcome.records
    return outcome.records


def _run_case(compiled: CompiledTransformation, index: int, case: Mapping[str, Any]) -> CaseResult:
    name = str(case.get("name") or f"case {index + 1}")
    single = not isinstance(case["input"], list)
    records = [case["input"]] if single else list(case["input"])
    expected = case["expected"]
    wants_error = isinstance(expected, Mapping) and set(expected) == {"error"}
    try:
        outcome = compiled.apply(records)
    except (TransformationExecutionError, TransformationDefinitionError) as exc:
        if wants_error and str(expected["error"]) in str(exc):
            return CaseResult(name, True, "failed as expected", str(exc))
        return CaseResult(name, False, f"raised: {exc}", str(exc))
    if wants_error:
        messages = [e.message for e in outcome.errors]
        ok = any(str(expected["error"]) in m for m in messages)
        detail = f"errors {messages!r}" if messages else "no error"
        return CaseResult(
            name,
            ok,
            "failed as expected" if ok else f"expected an error containing {expected['error']!r}, got {detail}",
            messages,
        )
    if outcome.errors and compiled.row.transformation_type != "validate":
        return CaseResult(
            name, False, f"record error: {outcome.errors[0].message}", [e.message for e in outcome.errors]
        )
    actual = _actual(compiled, single, expected, outcome)
    if actual == expected:
        return CaseResult(name, True, "ok", actual)
    return CaseResult(name, False, f"expected {expected!r}, got {actual!r}", actual)


def run_test_cases(compiled: CompiledTransformation) -> list[CaseResult]:
    """Run every case of the row; a failing case never stops the others."""
    return [_run_case(compiled, i, case) for i, case in enumerate(parse_cases(compiled))]
