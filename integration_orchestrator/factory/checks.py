"""Mapping tests become asset checks.

Declared: one ``AssetCheckSpec`` named ``mapping_<slug>`` per mapping with active tests,
on the integration's asset (blocking when the mapping ``is_required``), so the UI lists
them. Evaluated: inside the integration's own run, by its ``checks`` op, which runs the
mapping's tests (ARCHITECTURE.md §6.3 semantics), writes each test row back (as ``mappings test``
does: :func:`~integration_orchestrator.mapping.testing.write_test_results`) and yields one
``AssetCheckEvaluation`` per mapping; a failed blocking check stops the sink.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import dagster as dg

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.model.rows import MappingRow

if TYPE_CHECKING:
    from integration_orchestrator.factory.resources import IntegrationDatabase
    from integration_orchestrator.factory.translator import IntegrationDefinitionSpec
    from integration_orchestrator.model import Integration

__all__ = ["check_specs", "evaluate_mapping_checks", "run_mapping_tests_from_snapshot"]


def check_specs(
    asset_key: dg.AssetKey, mappings: Sequence[MappingRow], check_names: Mapping[str, str]
) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=check_names[m.id],
            asset=asset_key,
            description=f"Tests of mapping `{m.mapping_name}`"
            + (" (required: blocks the write)" if m.is_required else ""),
            blocking=m.is_required,
            metadata={"mapping_id": m.id},
        )
        for m in mappings
        if m.id in check_names
    ]


def run_mapping_tests_from_snapshot(record: Integration, mapping: MappingRow) -> tuple[list[Any], Decimal]:
    """The mapping engine's own test runner, fed from the snapshot (no query)."""
    from integration_orchestrator.mapping.testing import run_tests_for_mapping

    tests = [
        {"id": t.id, "test_name": t.test_name, "test_type": t.row.get("test_type", "unit"),
         "test_direction": t.row.get("test_direction"),
         "input_data": t.row.get("input_data") or {}, "expected_output": t.row.get("expected_output") or {}}
        for t in record.tests.get(mapping.id, ())
    ]
    return run_tests_for_mapping(
        list(record.mappings), mapping.id, tests,
        timezone=record.config.timezone, transformations=record.transformation_rows(),
    )


def evaluate_mapping_checks(
    record: Integration, spec: IntegrationDefinitionSpec, db: IntegrationDatabase
) -> Iterator[tuple[dg.AssetCheckEvaluation, bool]]:
    """One evaluation per tested mapping (and whether it blocks), test rows written back."""
    from integration_orchestrator.mapping.testing import write_test_results

    with db.connection() as conn:
        for mapping in record.mappings:
            check_name = spec.check_names.get(mapping.id)
            if check_name is None:
                continue
            results, coverage = run_mapping_tests_from_snapshot(record, mapping)
            with tenant_transaction(conn, record.config.organization_id):
                write_test_results(conn, mapping.id, results, coverage)
            failed = [f"{r.test_name}: {r.error_message}" for r in results if not r.passed]
            evaluation = dg.AssetCheckEvaluation(
                asset_key=spec.asset_spec.key,
                check_name=check_name,
                passed=not failed,
                severity=dg.AssetCheckSeverity.ERROR if mapping.is_required else dg.AssetCheckSeverity.WARN,
                description=("all tests passed" if not failed else "; ".join(failed))[:2000],
                metadata={"tests": len(results), "failed": len(failed), "coverage_percent": float(coverage),
                          "mapping_id": mapping.id},
            )
            yield evaluation, mapping.is_required
