"""``transformations test [ID]``: run transformations' built-in test cases."""

from __future__ import annotations

import argparse
import uuid

from integration_orchestrator.db import connect, resolve_database_url

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("transformations", help="integration_transformations rows")
    commands = group.add_subparsers(dest="transformations_command", metavar="ACTION", required=True)
    test = commands.add_parser("test", help="run built-in test_cases through the sandboxed engines")
    test.add_argument("id", nargs="?", default=None, help="one transformation id (default: every row with test cases)")
    test.add_argument("--organization-id", default=None, help="only this organization's transformations")
    test.set_defaults(handler=_test)


def _uuid(value: str, what: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        print(f"error: {what} {value!r} is not a UUID")
        return None


def _test(args: argparse.Namespace) -> int:
    from integration_orchestrator.transforms import TransformationDefinitionError, compile_transformation, load_transformation_rows
    from integration_orchestrator.transforms.testing import run_test_cases

    ids = None
    if args.id is not None:
        one = _uuid(args.id, "transformation id")
        if one is None:
            return 2
        ids = [one]
    org = _uuid(args.organization_id, "organization id") if args.organization_id else None
    if args.organization_id and org is None:
        return 2
    from integration_orchestrator.tenancy import per_organization

    with connect(resolve_database_url(args.database_url)) as conn:  # each organization as its application role
        rows = [row for organization in per_organization(conn, str(org) if org else None)
                for row in load_transformation_rows(conn, ids=ids, organization_id=uuid.UUID(organization))]
    rows.sort(key=lambda r: (r.transformation_name, str(r.id)))
    if ids is not None and not rows:
        print(f"error: no transformation with id {args.id}")
        return 2
    passed = failed = bad = 0
    for row in rows:
        if ids is None and not (row.test_cases or {}).get("cases"):
            continue
        label = f"{row.transformation_name} ({row.id})"
        try:
            results = run_test_cases(compile_transformation(row))
        except TransformationDefinitionError as exc:
            print(f"ERROR {label}: {exc}")
            bad += 1
            continue
        if not results:
            print(f"SKIP  {label}: no test cases")
        for result in results:
            print(f"{'PASS' if result.passed else 'FAIL'}  {label} / {result.name}: {result.message}")
            passed += result.passed
            failed += not result.passed
    print(f"{passed} passed, {failed} failed, {bad} invalid transformation(s)")
    if failed:
        return 1
    return 2 if bad else 0
