"""``transformations test [ID]``: run transformations' built-in test cases."""

from __future__ import annotations

import argparse
import uuid

from integration_orchestrator.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import NotFoundError, UsageError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("transformations", help="integration_transformations rows")
    commands = group.add_subparsers(dest="transformations_command", metavar="ACTION", required=True)
    test = commands.add_parser("test", help="run built-in test_cases through the sandboxed engines")
    test.add_argument("id", nargs="?", default=None, help="one transformation id (default: every row with test cases)")
    add_organization_option(test)
    test.set_defaults(handler=_test, errors_on_stdout=(UsageError, NotFoundError))


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a UUID") from None


def _test(args: argparse.Namespace) -> int:
    from integration_orchestrator.cli._organization import scope
    from integration_orchestrator.tenancy import per_organization, require_visible
    from integration_orchestrator.transforms.suite import SuiteTally, rows_to_test, run_transformation_tests

    ids = None if args.id is None else [_uuid(args.id, "transformation id")]
    with connect(resolve_database_url(args.database_url)) as conn:  # each organization as its application role
        org = scope(conn, args)
        require_visible(conn, org, "integration_transformations", [str(i) for i in ids or []], "transformation")
        rows = rows_to_test(conn, per_organization(conn, org), ids)
    if ids is not None and not rows:
        raise NotFoundError("transformation", args.id, by="id")
    tally = SuiteTally()
    for run in run_transformation_tests(rows):
        tally.add(run)
        if run.error is not None:
            print(f"ERROR {run.label}: {run.error}")
        elif not run.results:
            print(f"SKIP  {run.label}: no test cases")
        for result in run.results:
            print(f"{'PASS' if result.passed else 'FAIL'}  {run.label} / {result.name}: {result.message}")
    print(f"{tally.passed} passed, {tally.failed} failed, {tally.invalid} invalid transformation(s)")
    if tally.failed:
        return EXIT_FAILED
    return EXIT_BAD_INPUT if tally.invalid else EXIT_OK
