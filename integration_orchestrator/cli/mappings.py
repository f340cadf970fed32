"""``mappings test [--config-id ID] [--mapping-id ID] [--direction D] [--organization-id ID]``: run mapping
tests, write results back."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Sequence

from integration_orchestrator.cli import EXIT_FAILED, EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import UsageError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    mappings = subparsers.add_parser("mappings", help="field mappings")
    commands = mappings.add_subparsers(dest="mappings_command", metavar="ACTION", required=True)
    test = commands.add_parser("test", help="run active mapping tests and write the results back")
    test.add_argument("--config-id", default=None, help="only the mappings of this integration config")
    test.add_argument("--mapping-id", default=None, help="only this mapping")
    test.add_argument(
        "--direction", choices=["inbound", "outbound"], default=None,
        help="only the tests that run in this direction (their test_direction, else the mapping's own);"
             " the coverage of such a subset is not written",
    )
    add_organization_option(test)
    test.set_defaults(handler=_test)


def _uuid_arg(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise UsageError(f"{value!r} is not a UUID", argument=option) from None


def _test(args: argparse.Namespace) -> int:
    from integration_orchestrator.mapping.suite import run_every_organization

    config_id = _uuid_arg(args.config_id, "--config-id")
    mapping_id = _uuid_arg(args.mapping_id, "--mapping-id")
    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        report = run_every_organization(
            conn, config_id, mapping_id, organization_id=scope(conn, args), direction=args.direction
        )
    rows = [
        (r.mapping_name, r.test_name, r.status, str(r.execution_time_ms), _one_line(r.error_message or ""))
        for r in report.results
    ]
    _print_table(("mapping", "test", "status", "ms", "error"), rows)
    for warning in report.warnings:
        print(f"warning: {warning}")
    passed = len(report.results) - len(report.failed)
    print(f"\n{len(report.results)} test(s): {passed} passed, {len(report.failed)} failed")
    return EXIT_OK if report.ok else EXIT_FAILED


def _one_line(text: str, width: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) if rows else len(header[i]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
