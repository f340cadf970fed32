"""A template's test suite, run through the real mapping code.

Semantics are ARCHITECTURE.md §6.3 (mapping tests): the test's mapping is compiled and applied
*alone* (with its nested child mappings, if any) to ``input_data``; ``expected_output``
is the target object that mapping writes, ``{"dropped": true}`` when the record must be
dropped, or ``{"error": "<substring of the message>"}`` when it must fail.

A suite that cannot even compile (bad mapping definition) is a failed suite: every test
of the broken mapping fails with the compile error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from integration_orchestrator.templates.model import TemplateDocument

__all__ = ["OutcomeTotals", "SuiteResult", "TestOutcome", "outcome_from", "run_test_suite"]


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
            text += f": {self.error or 'output differs'}"
        return text


class OutcomeTotals:
    """Counts over ``self.outcomes`` (a suite or an instance's tests); passed = all, and some."""

    outcomes: list[TestOutcome]

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed_count(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)


@dataclass(frozen=True)
class SuiteResult(OutcomeTotals):
    template: str
    version: str
    outcomes: list[TestOutcome] = field(default_factory=list)
    coverage: dict[str, Decimal] = field(default_factory=dict)

    @property
    def failures(self) -> list[TestOutcome]:
        return [o for o in self.outcomes if not o.passed]


def outcome_from(result: Any, expected: Mapping[str, Any]) -> TestOutcome:
    """A :class:`TestOutcome` from the mapping engine's ``MappingTestResult``."""
    return TestOutcome(
        mapping=result.mapping_name,
        name=result.test_name,
        test_type=result.test_type,
        passed=result.passed,
        expected=dict(expected),
        actual=dict(result.actual_output),
        error=result.error_message,
        elapsed_ms=result.execution_time_ms,
    )


def run_test_suite(document: TemplateDocument) -> SuiteResult:
    """Run every test of the template through the mapping engine's own test code
    (:func:`integration_orchestrator.mapping.testing.run_tests_for_mapping`, what
    ``mappings test`` and the asset checks use); never raises for a failing or broken
    mapping. Also returns each mapping's test coverage (percent)."""
    from integration_orchestrator.mapping import MappingRow
    from integration_orchestrator.mapping.testing import run_tests_for_mapping
    from integration_orchestrator.templates.checks import mapping_rows

    rows = [MappingRow.from_dict(row) for row in mapping_rows(document.mappings)]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for test in document.tests:
        grouped.setdefault(test["mapping"], []).append(
            {
                "test_name": test["name"],
                "test_type": test["test_type"],
                "input_data": test["input_data"],
                "expected_output": test["expected_output"],
            }
        )
    outcomes: list[TestOutcome] = []
    coverage: dict[str, Decimal] = {}
    for mapping in document.mappings:
        tests = grouped.get(mapping["name"], [])
        if not tests:
            continue
        results, share = run_tests_for_mapping(rows, mapping["name"], tests)
        coverage[mapping["name"]] = share
        outcomes += [outcome_from(r, t["expected_output"]) for r, t in zip(results, tests, strict=True)]
    outcomes += _library_outcomes(document)
    return SuiteResult(document.template_name, document.version, outcomes, coverage)


def _library_outcomes(document: TemplateDocument) -> list[TestOutcome]:
    """The built-in test cases of the library's transformations (sandboxed engines)."""
    from integration_orchestrator.transforms import TransformationRow, compile_transformation, run_test_cases
    from integration_orchestrator.transforms.errors import TransformationDefinitionError

    outcomes: list[TestOutcome] = []
    for row in document.transformation_library.get("transformations") or []:
        label = f"transformation {row.get('transformation_name')}"
        cases = (row.get("test_cases") or {}).get("cases") or []
        try:
            results = run_test_cases(compile_transformation(TransformationRow.from_mapping(row)))
        except TransformationDefinitionError as exc:
            outcomes.append(TestOutcome(label, "compile", "unit", False, {}, {}, str(exc)))
            continue
        for result, case in zip(results, cases, strict=False):
            expected = case.get("expected")
            outcomes.append(
                TestOutcome(
                    label, result.name, "unit", result.passed,
                    expected if isinstance(expected, dict) else {"expected": expected},
                    {"actual": result.actual}, None if result.passed else result.message,
                )
            )
    return outcomes
