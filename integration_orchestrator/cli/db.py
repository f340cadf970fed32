"""``db upgrade`` and ``db url``."""

from __future__ import annotations

import argparse

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.db import resolve_database_url, upgrade
from integration_orchestrator.db.urls import mask_url

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = subparsers.add_parser("db", help="the platform database")
    commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = commands.add_parser("upgrade", help="apply pending migrations (idempotent)")
    up.set_defaults(handler=_upgrade)
    url = commands.add_parser("url", help="print where the platform database is")
    url.set_defaults(handler=_url)


def _upgrade(args: argparse.Namespace) -> int:
    url = resolve_database_url(args.database_url)
    applied = upgrade(url)
    for migration in applied:
        print(f"applied {migration.filename}")
    print(f"{len(applied)} migration(s) applied; schema is up to date at {mask_url(url)}")
    return EXIT_OK


def _url(args: argparse.Namespace) -> int:
    print(mask_url(resolve_database_url(args.database_url)))
    return EXIT_OK
