"""``dead-letters list | replay``: inspect failed records, replay them through the current pipeline."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from integration_orchestrator.cli import EXIT_FAILED, EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.factory.deadletters import list_dead_letters, replay_dead_letters
from integration_orchestrator.factory.engines import default_engines
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.tenancy import require_visible

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("dead-letters", help="records a pipeline sent to integration_dead_letters")
    commands = parser.add_subparsers(dest="dead_letters_command", metavar="ACTION", required=True)
    listing = commands.add_parser(
        "list", help="list dead letters (pending by default; staged: of runs whose load never committed)")
    listing.add_argument("--status", default="pending", choices=["pending", "staged", "replayed", "discarded", "all"])
    listing.add_argument("--config-id", default=None)
    listing.add_argument("--limit", type=int, default=100)
    add_organization_option(listing)
    listing.set_defaults(handler=_list)
    replay = commands.add_parser(
        "replay",
        help="re-run pending letters from their failed step through the current pipeline, write, mark replayed",
    )
    replay.add_argument("ids", nargs="*", metavar="ID", help="only these letters (default: every pending one)")
    replay.add_argument("--config-id", default=None)
    add_organization_option(replay)
    replay.set_defaults(handler=_replay)


def _list(args: argparse.Namespace) -> int:
    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        organization = scope(conn, args)
        _require_selection(conn, organization, args.config_id, [])
        letters = list_dead_letters(conn, status=None if args.status == "all" else args.status,
                                    config_id=args.config_id, limit=args.limit, organization_id=organization)
    for letter in letters:
        record = orjson.dumps(letter["record"], default=str).decode()
        print(f"{letter['id']}  {letter['status']:<8} {letter['integration_name']} / {letter['pipeline_name'] or '-'}"
              f" / step {letter['step_name'] or '-'}  replays={letter['replay_count']}\n"
              f"    error: {letter['error_message'][:200]}\n    record: {record[:200]}")
    print(f"{len(letters)} dead letter(s)")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    url = resolve_database_url(args.database_url)
    with connect(url, autocommit=True) as conn:
        organization = scope(conn, args)
        _require_selection(conn, organization, args.config_id, args.ids)
    snapshot = load_snapshot_from_url(url, organization)
    with connect(url, autocommit=True) as conn:  # each group of letters commits its own transactions
        report = replay_dead_letters(conn, snapshot, default_engines(), url, config_id=args.config_id,
                                     letter_ids=args.ids, organization_id=organization)
    for reason in report.skipped:
        print(f"skipped: {reason}")
    already = f" (of which {report.already_loaded} already in the target)" if report.already_loaded else ""
    print(f"replayed {report.replayed}{already}, failed again {report.failed_again}, "
          f"audit execution(s): {', '.join(report.executions) or '-'}")
    return EXIT_FAILED if report.failed_again or report.skipped else EXIT_OK


def _require_selection(conn: Any, organization: str | None, config_id: str | None, ids: list[str]) -> None:
    """Refuse a config or letter id the organization cannot see (nothing to check without one)."""
    require_visible(conn, organization, "integration_configs", [config_id] if config_id else [], "integration config")
    require_visible(conn, organization, "integration_dead_letters", ids, "dead letter")
