"""``mappings test [--config-id ID] [--mapping-id ID]``: run mapping tests, write results back."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from integration_orchestrator.db import connect, resolve_database_url

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mappings = subparsers.add_parser("mappings", help="field mappings")
    commands = mappings.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    test = commands.add_parser("test", help="run active mapping tests and write the results back")
    test.add_argument("--config-id", default=None, help="only the mappings of this integration config")
    test.add_argument("--mapping-id", default=None, help="only this mapping")
    test.set_defaults(handler=_test)


def _uuid_arg(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _BadInput(f"{option}: {value!r} is not a UUID") from None


class _BadInput(Exception):
    pass


def _test(args: argparse.Namespace) -> int:
    from integration_orchestrator.mapping.testing import run_mapping_tests

    try:
        config_id = _uuid_arg(args.config_id, "--config-id")
        mapping_id = _uuid_arg(args.mapping_id, "--mapping-id")
    except _BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        if config_id is not None and not conn.execute("SELECT 1 FROM integration_configs WHERE id = %s", (config_id,)).fetchone():
            print(f"error: --config-id: no integration config {config_id}", file=sys.stderr)
            return 2
        if mapping_id is not None and not conn.execute("SELECT 1 FROM integration_mappings WHERE id = %s", (mapping_id,)).fetchone():
            print(f"error: --mapping-id: no mapping {mapping_id}", file=sys.stderr)
            return 2
        report = _per_organization(conn, config_id, mapping_id)
    rows = [
        (r.mapping_name, r.test_name, r.status, str(r.execution_time_ms), _one_line(r.error_message or ""))
        for r in report.results
    ]
    _print_table(("mapping", "test", "status", "ms", "error"), rows)
    for warning in report.warnings:
        print(f"warning: {warning}")
    passed = len(report.results) - len(report.failed)
    print(f"\n{len(report.results)} test(s): {passed} passed, {len(report.failed)} failed")
    return 0 if report.ok else 1


def _per_organization(conn: Any, config_id: Any, mapping_id: Any) -> Any:
    """Each organization's tests as its application role (row-level security), one report."""
    from integration_orchestrator.mapping.testing import MappingTestReport, run_mapping_tests
    from integration_orchestrator.tenancy import per_organization

    report = MappingTestReport()
    for _organization in per_organization(conn):
        part = run_mapping_tests(conn, config_id, mapping_id=mapping_id)
        report.results.extend(part.results)
        report.warnings.extend(part.warnings)
        report.coverage.update(part.coverage)
    return report


def _one_line(text: str, width: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
