"""Mapping tests become asset checks.

Declared: one ``AssetCheckSpec`` named ``mapping_<slug>`` per mapping with active tests,
on the integration's asset (blocking when the mapping ``is_required``), so the UI lists
them. Evaluated: inside the integration's own run, by its ``checks`` op, which runs the
mapping's tests (DESIGN.md §6 semantics), writes each test row back and yields one
``AssetCheckEvaluation`` per mapping; a failed blocking check stops the sink.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.factory.records import MappingRecord, MappingTestRecord

if TYPE_CHECKING:
    from integration_orchestrator.factory.ops import IntegrationJob
    from integration_orchestrator.factory.resources import IntegrationDatabase

__all__ = ["TestOutcome", "check_specs", "evaluate_mapping_checks", "run_mapping_test"]


def check_specs(asset_key: dg.AssetKey, mappings: Sequence[MappingRecord], check_names: Mapping[str, str]) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=check_names[m.id],
            asset=asset_key,
            description=f"Tests of mapping `{m.mapping_name}`" + (" (required: blocks the write)" if m.is_required else ""),
            blocking=m.is_required,
            metadata={"mapping_id": m.id},
        )
        for m in mappings
        if m.id in check_names
    ]


class TestOutcome(dict[str, Any]):
    """``status`` passed/failed, ``actual`` (object), ``error`` (str | None), ``ms`` (int)."""


def _contains(actual: Any, expected: Any) -> bool:
    """Expected is a sub-object of actual (every expected key present with equal value)."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return all(k in actual and _contains(actual[k], v) for k, v in expected.items())
    return bool(actual == expected)


def run_mapping_test(job: IntegrationJob, mapping: MappingRecord, test: MappingTestRecord) -> TestOutcome:
    """Apply ``mapping`` alone to the test's ``input_data`` and compare (DESIGN.md §6)."""
    started = time.perf_counter()
    expected = test.row.get("expected_output") or {}
    try:
        plan = job.compiled(f"test-plan:{mapping.id}", lambda: job.engines.compile_plan(
            [mapping.row], direction="inbound", timezone=job.record.config.timezone, transformations=job.record.transformation_rows()))
        result = plan.apply_batch([test.row.get("input_data") or {}]).results[0]
        if result.dropped:
            actual: dict[str, Any] = {"dropped": True}
            error = str(result.drop_reason) if result.drop_reason else None
        elif result.errors:
            error = "; ".join(str(e) for e in result.errors)
            actual = {"error": error}
        else:
            actual, error = result.output, None
    except Exception as exc:  # noqa: BLE001 - a broken test is a failed test, not a crashed run
        error = f"{type(exc).__name__}: {exc}"
        actual = {"error": error}
    if "error" in expected and isinstance(expected["error"], str):
        passed = error is not None and expected["error"] in error and "dropped" not in actual
    elif expected.get("dropped") is True:
        passed = actual.get("dropped") is True
    else:
        passed = error is None and _contains(actual, expected) and actual.get("dropped") is not True
    reason = None if passed else f"expected {expected!r}, got {actual!r}"
    ms = int((time.perf_counter() - started) * 1000)
    return TestOutcome(status="passed" if passed else "failed", actual=actual, error=reason, ms=ms)


def _write_back(conn: Any, organization_id: str, test: MappingTestRecord, outcome: TestOutcome) -> None:
    with tenant_transaction(conn, organization_id):
        conn.execute(
            "UPDATE integration_mapping_tests SET test_status = %s, actual_output = %s, execution_time_ms = %s,"
            " error_message = %s, last_run = now() WHERE id = %s",
            (outcome["status"], Jsonb(outcome["actual"]), outcome["ms"], outcome["error"], test.id),
        )


def evaluate_mapping_checks(job: IntegrationJob, db: IntegrationDatabase) -> Iterator[tuple[dg.AssetCheckEvaluation, bool]]:
    """One evaluation per tested mapping (and whether it blocks), test rows written back."""
    record = job.record
    with db.connection() as conn:
        for mapping in record.mappings:
            check_name = job.spec.check_names.get(mapping.id)
            if check_name is None:
                continue
            tests = record.tests.get(mapping.id, ())
            outcomes = [(t, run_mapping_test(job, mapping, t)) for t in tests]
            for test, outcome in outcomes:
                _write_back(conn, record.config.organization_id, test, outcome)
            failed = [f"{t.test_name}: {o['error']}" for t, o in outcomes if o["status"] != "passed"]
            evaluation = dg.AssetCheckEvaluation(
                asset_key=job.spec.asset_spec.key,
                check_name=check_name,
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR if mapping.is_required else dg.AssetCheckSeverity.WARN,
                description=("all tests passed" if not failed else "; ".join(failed))[:2000],
                metadata={"tests": len(outcomes), "failed": len(failed), "mapping_id": mapping.id},
            )
            yield evaluation, mapping.is_required
