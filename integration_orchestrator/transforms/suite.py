"""Transformations' built-in test cases over the database, as ``transformations test`` runs them.

Rows are read once per organization while the caller holds that organization's tenant
transaction (row-level security: pass
:func:`~integration_orchestrator.tenancy.per_organization`) and sorted by name. Each row
is compiled and its cases run through :func:`~.testing.run_test_cases`; a row that does
not compile is reported, not raised, so the others still run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from integration_orchestrator.transforms.compiled import compile_transformation
from integration_orchestrator.transforms.errors import TransformationDefinitionError
from integration_orchestrator.transforms.loader import load_transformation_rows
from integration_orchestrator.transforms.row import TransformationRow
from integration_orchestrator.transforms.testing import CaseResult, run_test_cases

__all__ = ["SuiteTally", "TransformationRun", "rows_to_test", "run_transformation_tests"]


@dataclass(frozen=True)
class TransformationRun:
    """One row's cases: ``results``, or ``error`` when the row does not compile."""

    row: TransformationRow
    results: tuple[CaseResult, ...] = ()
    error: TransformationDefinitionError | None = None

    @property
    def label(self) -> str:
        return f"{self.row.transformation_name} ({self.row.id})"


@dataclass
class SuiteTally:
    """Cases passed and failed, and rows that did not compile, over the runs added."""

    passed: int = 0
    failed: int = 0
    invalid: int = 0

    def add(self, run: TransformationRun) -> None:
        self.invalid += run.error is not None
        self.passed += sum(1 for r in run.results if r.passed)
        self.failed += sum(1 for r in run.results if not r.passed)


def rows_to_test(
    conn: psycopg.Connection[Any], organizations: Iterable[str], ids: Sequence[uuid.UUID] | None = None
) -> list[TransformationRow]:
    """The rows ``ids`` (all of them), else every row with test cases, of each organization.

    ``organizations`` yields organization ids, each while its tenant transaction is open.
    """
    rows = [
        row
        for organization in organizations
        for row in load_transformation_rows(conn, ids=ids, organization_id=uuid.UUID(organization))
    ]
    rows.sort(key=lambda r: (r.transformation_name, str(r.id)))
    return rows if ids is not None else [r for r in rows if (r.test_cases or {}).get("cases")]


def run_transformation_tests(rows: Iterable[TransformationRow]) -> Iterator[TransformationRun]:
    """Compile each row and run its cases, one row at a time."""
    for row in rows:
        yield _run(row)


def _run(row: TransformationRow) -> TransformationRun:
    try:
        return TransformationRun(row, tuple(run_test_cases(compile_transformation(row))))
    except TransformationDefinitionError as exc:  # the row, or its test_cases, is malformed
        return TransformationRun(row, error=exc)
