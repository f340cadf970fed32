"""A template's test suite, run through the real mapping code.

Semantics are DESIGN.md §6 (mapping tests): the test's mapping is compiled and applied
*alone* (with its nested child mappings, if any) to ``input_data``; ``expected_output``
is the target object that mapping writes, ``{"dropped": true}`` when the record must be
dropped, or ``{"error": "<substring of the message>"}`` when it must fail.

A suite that cannot even compile (bad mapping definition) is a failed suite: every test
of the broken mapping fails with the compile error.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.templates.model import TemplateDocument

__all__ = ["SuiteResult", "TestOutcome", "evaluate", "run_mapping_test", "run_test_suite"]


@dataclass(frozen=True)
class TestOutcome:
    """One test: what was expected, what the mapping really did."""

    __test__ = False  # not a pytest class

    mapping: str
    name: str
    test_type: str
    passed: bool
    expected: dict[str, Any]
    actual: dict[str, Any]
    error: str | None = None
    elapsed_ms: int = 0

    def describe(self) -> str:
        text = f"{self.mapping} / {self.name} [{self.test_type}]"
        if not self.passed:
            text += f": expected {self.expected}, got {self.actual}"
            if self.error:
                text += f" ({self.error})"
        return text


@dataclass(frozen=True)
class SuiteResult:
    template: str
    version: str
    outcomes: list[TestOutcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed_count(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def failures(self) -> list[TestOutcome]:
        return [o for o in self.outcomes if not o.passed]


def _with_children(mappings: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The mapping ``name`` and, recursively, the children it names."""
    by_name = {m["name"]: m for m in mappings}
    wanted: list[str] = []
    pending = [name]
    while pending:
        current = pending.pop()
        if current in wanted or current not in by_name:
            continue
        wanted.append(current)
        rules = by_name[current].get("transformation_rules") or {}
        children = rules.get("children") if isinstance(rules, Mapping) else None
        pending.extend(c for c in children or [] if isinstance(c, str))
    return [by_name[n] for n in wanted]


def evaluate(result: Any, expected: Mapping[str, Any]) -> tuple[bool, dict[str, Any], str | None]:
    """Compare a mapping's :class:`RecordResult` with a test's ``expected_output``."""
    from integration_orchestrator.mapping.types import json_ready

    errors = [str(e) for e in result.errors]
    if result.dropped:
        reason = str(result.drop_reason) if result.drop_reason else None
        return expected == {"dropped": True}, {"dropped": True}, reason
    if errors:
        message = "; ".join(errors)
        wanted = expected.get("error") if set(expected) == {"error"} else None
        return isinstance(wanted, str) and wanted in message, {"error": message}, message
    actual = json_ready(result.output)
    return actual == expected, actual, None


def run_mapping_test(plan: Any, test: Mapping[str, Any]) -> TestOutcome:
    started = time.perf_counter()
    result = plan.apply(test["input_data"])
    passed, actual, error = evaluate(result, test["expected_output"])
    return TestOutcome(
        mapping=test["mapping"],
        name=test["name"],
        test_type=test["test_type"],
        passed=passed,
        expected=dict(test["expected_output"]),
        actual=actual,
        error=error,
        elapsed_ms=int((time.perf_counter() - started) * 1000),
    )


def run_test_suite(document: TemplateDocument) -> SuiteResult:
    """Run every test of the template; never raises for a failing or broken mapping."""
    from integration_orchestrator.templates.checks import compile_mappings

    mappings = document.mappings
    plans: dict[str, Any] = {}
    broken: dict[str, str] = {}
    outcomes: list[TestOutcome] = []
    for test in document.tests:
        name = test["mapping"]
        if name not in plans and name not in broken:
            try:
                plans[name] = compile_mappings(_with_children(mappings, name), source=document.source)
            except RowError as exc:
                broken[name] = str(exc)
        if name in broken:
            outcomes.append(
                TestOutcome(name, test["name"], test["test_type"], False, dict(test["expected_output"]), {}, broken[name])
            )
            continue
        outcomes.append(run_mapping_test(plans[name], test))
    return SuiteResult(document.template_name, document.version, outcomes)
