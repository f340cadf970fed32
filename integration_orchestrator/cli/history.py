"""``history ROW_ID``, ``history diff ROW_ID V1 V2`` and ``diff ROW_ID V1 V2``: configuration history.

Read as the application role inside one organization (``--organization``, default:
``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID``, else the only one), so the history of
another organization's rows is not found. Values shown are masked (sensitive-looking
keys and ``$secret`` references' neighbours never print in clear; see
:mod:`integration_orchestrator.masking`).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import UsageError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    history = subparsers.add_parser(
        "history", help="configuration history of a row: history ROW_ID | history diff ROW_ID V1 V2",
        description="Every version of a configuration row (version, operation, who, when, changed fields); "
                    "`history diff ROW_ID V1 V2` shows the field-level diff of two versions.",
    )
    history.add_argument("words", nargs="+", metavar="ROW_ID | diff ROW_ID V1 V2")
    _common(history)
    history.set_defaults(handler=_history)
    diff = subparsers.add_parser("diff", help="field-level diff of two versions of a configuration row")
    diff.add_argument("row_id", metavar="ROW_ID")
    diff.add_argument("v1", metavar="V1", type=int)
    diff.add_argument("v2", metavar="V2", type=int)
    _common(diff)
    diff.set_defaults(handler=_diff)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organization", default=None, metavar="ORG",
                        help="id, slug or name of the organization (default: $INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID,"
                             " else the only one)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _history(args: argparse.Namespace) -> int:
    words = list(args.words)
    if words[0] == "diff":
        if len(words) != 4:
            raise UsageError("usage: history diff ROW_ID V1 V2")
        try:
            v1, v2 = int(words[2]), int(words[3])
        except ValueError:
            raise UsageError(f"versions must be integers, got {words[2]!r} {words[3]!r}") from None
        return _run_diff(args, words[1], v1, v2)
    if len(words) != 1:
        raise UsageError("usage: history ROW_ID | history diff ROW_ID V1 V2")
    return _run_history(args, words[0])


def _diff(args: argparse.Namespace) -> int:
    return _run_diff(args, args.row_id, args.v1, args.v2)


def _entries(args: argparse.Namespace, row_id: str) -> list[Any]:
    from integration_orchestrator.cli._organization import reference_or_environment
    from integration_orchestrator.history import read_history
    from integration_orchestrator.templates.instantiate import resolve_organization

    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        organization = resolve_organization(conn, reference_or_environment(conn, args.organization))
        return read_history(conn, row_id, organization)


def _run_history(args: argparse.Namespace, row_id: str) -> int:
    from integration_orchestrator.history import changed_fields

    entries = _entries(args, row_id)
    rows = [
        {"version": e.version, "operation": e.operation, "changed_by": e.who,
         "changed_at": e.changed_at.isoformat(), "changed_fields": changed_fields(e)}
        for e in entries
    ]
    if args.json:
        print(json.dumps({"table": entries[0].table_name, "row_id": entries[0].row_id, "name": entries[-1].name,
                          "versions": rows}, indent=2))
        return EXIT_OK
    print(entries[-1].label)
    print(f"{'VERSION':>7}  {'OPERATION':<9}  {'CHANGED_AT':<32}  {'CHANGED_BY':<30}  CHANGED_FIELDS")
    for row in rows:
        fields = ", ".join(row["changed_fields"]) or {"insert": "(created)", "delete": "(deleted)"}.get(
            row["operation"], "-"
        )
        print(f"{row['version']:>7}  {row['operation']:<9}  {row['changed_at']:<32}  {row['changed_by']:<30}  {fields}")
    return EXIT_OK


def _run_diff(args: argparse.Namespace, row_id: str, v1: int, v2: int) -> int:
    from integration_orchestrator.history import diff_versions
    from integration_orchestrator.masking import mask_change

    entries = _entries(args, row_id)
    changes = [mask_change(c) for c in diff_versions(entries, v1, v2)]
    if args.json:
        print(json.dumps({"table": entries[0].table_name, "row_id": entries[0].row_id, "from": v1, "to": v2,
                          "changes": [c.as_json() for c in changes]}, indent=2, default=str))
        return EXIT_OK
    print(f"{entries[-1].label}: version {v1} -> {v2}, {len(changes)} change(s)")
    for change in changes:
        if change.kind == "added":
            print(f"+ {change.path}: {_show(change.new)}")
        elif change.kind == "removed":
            print(f"- {change.path}: {_show(change.old)}")
        else:
            print(f"~ {change.path}: {_show(change.old)} -> {_show(change.new)}")
    return EXIT_OK


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 200 else text[:199] + "…"
