"""Mapping tests (``integration_mapping_tests``): run through the production plan code.

A test applies its mapping alone (with its children) to ``input_data``:

- ``expected_output`` ``{"dropped": true}``: the record must be dropped (error_handling skip);
- ``{"error": "<substring>"}``: the record must fail with a message containing it;
- anything else: the output object must equal it (numbers compare by exact value, so
  ``19.99`` matches ``Decimal("19.99")``; booleans never equal numbers).

``test_coverage`` of a mapping is the share (percent) of its behaviours that its active
tests exercised: value present; value missing or null; each rule branch (every rule
applied and failed, lookup hit and miss); coercion failure (when a target type is set);
pre/post validation failure (when set); its error policy. A mapping with no test gets 0.

:func:`write_test_results` writes ``test_status``, ``actual_output``, ``execution_time_ms``,
``error_message``, ``last_run`` and the mapping's ``test_coverage`` back; the ``mappings
test`` command (:func:`run_mapping_tests`) and the factory's asset checks both use it, one
transaction per mapping. :func:`run_tests_for_mapping` runs tests without a database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from psycopg.types.json import Jsonb

from integration_orchestrator.mapping.compiler import compile_mapping
from integration_orchestrator.mapping.errors import MappingDefinitionError
from integration_orchestrator.mapping.loading import config_timezone, load_transformations
from integration_orchestrator.mapping.plan import MappingPlan, RecordResult
from integration_orchestrator.mapping.records import load_mapping_rows
from integration_orchestrator.mapping.roundtrip import canonical
from integration_orchestrator.mapping.types import json_dumps, json_ready
from integration_orchestrator.model.rows import MappingRow

__all__ = [
    "MappingTestReport",
    "MappingTestResult",
    "direction_of_test",
    "evaluate_test",
    "policy_warnings",
    "run_mapping_tests",
    "run_tests_for_mapping",
    "write_test_results",
]


@dataclass
class MappingTestResult:
    """The outcome of one mapping test, as written back to its row."""

    test_id: Any
    test_name: str
    test_type: str
    mapping_id: Any
    mapping_name: str
    status: str
    actual_output: dict[str, Any]
    execution_time_ms: int
    error_message: str | None = None
    behaviours: frozenset[str] = frozenset()

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass
class MappingTestReport:
    """All results of a run, and the coverage (percent) computed per mapping id."""

    results: list[MappingTestResult] = field(default_factory=list)
    coverage: dict[str, Decimal] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[MappingTestResult]:
        return [r for r in self.results if not r.passed]

    @property
    def ok(self) -> bool:
        return not self.failed


def _actual(result: RecordResult) -> dict[str, Any]:
    if result.dropped:
        reason = str(result.drop_reason) if result.drop_reason else "dropped"
        return {"dropped": True, "reason": reason}
    if result.errors:
        return {"error": _message(result), "errors": [e.as_dict() for e in result.errors]}
    return result.output


def _message(result: RecordResult) -> str:
    return "; ".join(str(error) for error in result.errors)


def _verdict(expected: Any, result: RecordResult) -> str | None:
    """``None`` when the result meets ``expected``, else why not."""
    if isinstance(expected, Mapping) and set(expected) == {"dropped"} and expected["dropped"] is True:
        if result.dropped:
            return None
        outcome = "failed: " + _message(result) if result.errors else "was mapped"
        return f"expected the record to be dropped, but it {outcome}"
    if isinstance(expected, Mapping) and set(expected) == {"error"} and isinstance(expected["error"], str):
        if result.errors:
            message = _message(result)
            return (
                None
                if expected["error"] in message
                else f"expected an error containing {expected['error']!r}, got: {message}"
            )
        outcome = "dropped" if result.dropped else "mapped"
        return f"expected an error containing {expected['error']!r}, but the record was {outcome}"
    if result.dropped:
        return f"the record was dropped: {result.drop_reason}"
    if result.errors:
        return f"the record failed: {_message(result)}"
    if canonical(result.output) != canonical(expected):
        return f"output differs: expected {json_dumps(expected)}, got {json_dumps(result.output)}"
    return None


def evaluate_test(plan: MappingPlan, test: Mapping[str, Any], mapping: MappingRow) -> MappingTestResult:
    """Run one test row (``input_data``, ``expected_output``) through ``plan``."""
    start = time.perf_counter()
    result = plan.apply(test["input_data"])
    elapsed = time.perf_counter() - start
    reason = _verdict(test["expected_output"], result)
    return MappingTestResult(
        test_id=test.get("id"),
        test_name=test.get("test_name", ""),
        test_type=test.get("test_type", "unit"),
        mapping_id=mapping.id,
        mapping_name=mapping.mapping_name,
        status="passed" if reason is None else "failed",
        actual_output=json_ready(_actual(result)),
        execution_time_ms=int(elapsed * 1000),
        error_message=reason,
    )


def run_tests_for_mapping(
    rows: Sequence[MappingRow | Mapping[str, Any]],
    mapping: Any,
    tests: Sequence[Mapping[str, Any]],
    *,
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
) -> tuple[list[MappingTestResult], Decimal]:
    """Run ``tests`` of one mapping (id or name among ``rows``); return results and coverage.

    A test's ``test_direction`` (``None``: the mapping's own direction) chooses the plan it
    runs through; a bidirectional mapping's ``outbound`` tests run its derived inverse.
    """
    tracer: set[str] = set()
    by_direction: dict[str | None, list[tuple[int, Mapping[str, Any]]]] = {}
    for index, test in enumerate(tests):
        by_direction.setdefault(test.get("test_direction"), []).append((index, test))
    row = _find(rows, mapping)
    results: dict[int, MappingTestResult] = {}
    exercised: set[str] = set()
    behaviours: set[str] = set()
    for direction, group in by_direction.items():
        try:
            plan, own = compile_mapping(
                rows, mapping, timezone=timezone, transformations=transformations, tracer=tracer,
                direction=direction,
            )
        except MappingDefinitionError as exc:
            results.update((i, _definition_failure(test, row, exc)) for i, test in group)
            continue
        behaviours |= set(own)
        for index, test in group:
            tracer.clear()  # the plan's closures hold this very set
            result = evaluate_test(plan, test, row)
            result.behaviours = frozenset(tracer)
            exercised |= tracer
            results[index] = result
    ordered = [results[i] for i in range(len(tests))]
    if not behaviours or not tests:
        return ordered, Decimal("0.00")
    share = Decimal(len(exercised & behaviours) * 100) / Decimal(len(behaviours))
    return ordered, share.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def policy_warnings(row: MappingRow, results: Sequence[MappingTestResult]) -> list[str]:
    """Warnings when no edge_case test of the mapping exercises its error policy."""
    edge = [r for r in results if r.test_type == "edge_case"]
    policy = f"error policy {row.error_handling}"
    if any(policy in r.behaviours for r in edge):
        return []
    if not edge:
        return [
            f"mapping `{row.mapping_name}`: no edge_case test"
            f" (edge cases must cover error_handling `{row.error_handling}`)"
        ]
    return [f"mapping `{row.mapping_name}`: no edge_case test exercises error_handling `{row.error_handling}`"]


def _find(rows: Sequence[MappingRow | Mapping[str, Any]], mapping: Any) -> MappingRow:
    for row in rows:
        record = row if isinstance(row, MappingRow) else MappingRow.from_dict(row)
        if str(record.id) == str(mapping) or record.mapping_name == str(mapping):
            return record
    return MappingRow(mapping_name=str(mapping), source_path="$", target_path="unknown")


def _definition_failure(test: Mapping[str, Any], row: MappingRow, error: Exception) -> MappingTestResult:
    return MappingTestResult(
        test_id=test.get("id"),
        test_name=test.get("test_name", ""),
        test_type=test.get("test_type", "unit"),
        mapping_id=row.id,
        mapping_name=row.mapping_name,
        status="failed",
        actual_output={"error": str(error)},
        execution_time_ms=0,
        error_message=f"invalid mapping definition: {error}",
    )


_TESTS_QUERY = """
SELECT t.id, t.mapping_id, t.test_name, t.test_type::text AS test_type, t.test_direction,
       t.input_data::text AS input_text, t.expected_output::text AS expected_text
  FROM integration_mapping_tests t
 WHERE t.is_active AND t.mapping_id = ANY(%s::uuid[])
 ORDER BY t.created_at, t.test_name, t.id
"""


def run_mapping_tests(
    conn: Any, config_id: Any = None, *, mapping_id: Any = None, direction: str | None = None
) -> MappingTestReport:
    """Run the active tests of active mappings (of one config, one mapping, or all) and write back.

    ``conn`` is a psycopg connection with dict rows. Each mapping's test rows and its
    ``test_coverage`` are updated in one transaction. ``direction`` runs only the tests
    that run in it (their ``test_direction``, else their mapping's own direction); the
    coverage of such a subset is not written.
    """
    report = MappingTestReport()
    for config in _configs(conn, config_id, mapping_id):
        rows = load_mapping_rows(conn, config)
        timezone = config_timezone(conn, config)
        transformations = load_transformations(conn, rows)
        selected = [r for r in rows if mapping_id is None or str(r.id) == str(mapping_id)]
        tests = conn.execute(_TESTS_QUERY, ([str(r.id) for r in selected],)).fetchall()
        for row in selected:
            own = [_test_dict(t) for t in tests if str(t["mapping_id"]) == str(row.id)]
            if direction is not None:
                own = [t for t in own if direction_of_test(t, row) == direction]
            results, coverage = run_tests_for_mapping(
                rows, row.id, own, timezone=timezone, transformations=transformations
            )
            with conn.transaction():
                write_test_results(conn, row.id, results, coverage if direction is None else None)
            report.results.extend(results)
            if own:
                report.warnings.extend(policy_warnings(row, results))
            report.coverage[str(row.id)] = coverage
    return report


def _configs(conn: Any, config_id: Any, mapping_id: Any) -> list[Any]:
    if mapping_id is not None:
        found = conn.execute("SELECT config_id FROM integration_mappings WHERE id = %s", (mapping_id,)).fetchone()
        return [found["config_id"]] if found else []
    if config_id is not None:
        return [config_id]
    rows = conn.execute(
        "SELECT DISTINCT config_id FROM integration_mappings WHERE is_active ORDER BY config_id"
    ).fetchall()
    return [r["config_id"] for r in rows]


def _test_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "test_name": row["test_name"],
        "test_type": row["test_type"],
        "test_direction": row.get("test_direction"),
        "input_data": json.loads(row["input_text"], parse_float=Decimal),
        "expected_output": json.loads(row["expected_text"], parse_float=Decimal),
    }


def direction_of_test(test: Mapping[str, Any], row: MappingRow) -> str:
    """The direction ``test`` runs in: its ``test_direction``, else its mapping's own."""
    declared = test.get("test_direction")
    if declared:
        return str(declared)
    return "outbound" if row.mapping_direction == "outbound" else "inbound"


def write_test_results(
    conn: Any, mapping_id: Any, results: Sequence[MappingTestResult], coverage: Decimal | None
) -> None:
    """Write each test row's outcome back, then the mapping's coverage if it changed (``None``: not).

    The caller owns the transaction (one per mapping).
    """
    for result in results:
        conn.execute(
            """UPDATE integration_mapping_tests
                  SET test_status = %s, actual_output = %s, execution_time_ms = %s,
                      error_message = %s, last_run = now()
                WHERE id = %s""",
            (
                result.status,
                Jsonb(result.actual_output, dumps=json_dumps),
                result.execution_time_ms,
                result.error_message,
                result.test_id,
            ),
        )
    if coverage is None:
        return
    conn.execute(
        "UPDATE integration_mappings SET test_coverage = %s WHERE id = %s AND test_coverage IS DISTINCT FROM %s",
        (coverage, mapping_id, coverage),
    )
