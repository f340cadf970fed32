"""``validate``: every invalid integration row, with the reason (exit 2 if any)."""

from __future__ import annotations

import argparse

from integration_orchestrator.assembly import check_snapshot
from integration_orchestrator.cli import EXIT_BAD_INPUT, EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.factory.load import load_snapshot_from_url

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "validate", help="list every invalid integration row with the reason (what Dagster would skip)"
    )
    add_organization_option(parser)
    parser.set_defaults(handler=_validate)


def _validate(args: argparse.Namespace) -> int:
    url = resolve_database_url(args.database_url)
    with connect(url, autocommit=True) as conn:
        organization = scope(conn, args)
    snapshot = load_snapshot_from_url(url, organization)
    result = check_snapshot(snapshot, args.database_url)
    invalid = result.invalid
    for row in invalid:
        print(f"invalid: {row.message}")
    print(f"{len(result.jobs)} integration job(s) valid, {len(invalid)} invalid row(s)")
    for job in result.jobs:
        print(f"  job {job.name} -> asset {job.spec.asset_spec.key.to_user_string()}")
    return EXIT_BAD_INPUT if invalid else EXIT_OK
