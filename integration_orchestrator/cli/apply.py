"""``apply -f FILE… [--plan]``: create or update integrations from YAML/JSON files.

The plan (what will change, per object, with field diffs) is printed first; then the
rows are written and checked the way the code location loads them, all in one
transaction. ``--plan`` stops after the check and rolls back: nothing changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import psycopg

from integration_orchestrator.ascode import Document, Plan, apply_documents, load_document, render_plan
from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url

__all__ = ["register", "rows_problems"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "apply", help="create or update integrations from YAML/JSON files (shows the plan first)"
    )
    parser.add_argument("-f", "--file", dest="files", type=Path, action="extend", nargs="+", required=True,
                        metavar="FILE", help="an integration file (YAML or JSON); repeatable")
    parser.add_argument("--plan", action="store_true", help="show the plan and check it; change nothing")
    parser.add_argument("--organization", default=None, metavar="ORG",
                        help="id, slug or name, for files without `organization` (default: the only one)")
    add_organization_option(parser)
    parser.set_defaults(handler=_apply)


def rows_problems(
    conn: psycopg.Connection[Any], organization_id: str, plan: Plan
) -> list[tuple[Document, tuple[str | int, ...], str]]:
    """Invalid rows (as ``validate`` reports them) of the integrations ``plan`` wrote,
    read in the open tenant transaction."""
    from integration_orchestrator.assembly import check_snapshot
    from integration_orchestrator.factory.load import TABLE_QUERIES
    from integration_orchestrator.factory.snapshot import normalize_rows, snapshot_from_rows

    tables = {attribute: normalize_rows(conn.execute(query).fetchall()) for attribute, query in TABLE_QUERIES.items()}
    snapshot = snapshot_from_rows(tables, organization_id=organization_id)
    configs = {c.row_id: c for c in plan.changes if c.table.table == "integration_configs" and c.document}
    written = {c.row_id: c for c in plan.changes if c.document is not None}
    problems = []
    for row in check_snapshot(snapshot).invalid:
        if row.config_id not in configs:
            continue
        change = written.get(row.row_id or "") or configs.get(row.config_id or "")
        if change is not None and change.document is not None:
            problems.append((change.document, change.path, row.message))
    return problems


def _apply(args: argparse.Namespace) -> int:
    documents = [load_document(path) for path in args.files]
    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        applied = apply_documents(conn, documents, organization=args.organization, scope=scope(conn, args),
                                  plan_only=args.plan,
                                  show=lambda plan: print(render_plan(plan), flush=True), check=rows_problems)
    if args.plan:
        print("Nothing changed (--plan).")
    elif applied.committed:
        print("Applied.")
    else:
        print("No changes.")
    return EXIT_OK
