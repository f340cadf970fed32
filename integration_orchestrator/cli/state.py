"""``state show | reset``: an integration's incremental state in its target's load ledger."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import UsageError
from integration_orchestrator.factory.state import reset_integration_state, show_integration_state
from integration_orchestrator.tenancy import require_visible

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("state", help="an integration's incremental state (in its target's load ledger)")
    commands = parser.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    show = commands.add_parser("show", help="the state the next run starts from, and the ledger's last loads")
    show.add_argument("config_id", metavar="CONFIG_ID")
    show.add_argument("--limit", type=int, default=10, help="ledger rows to show (10)")
    show.add_argument("--json", action="store_true", help="print JSON")
    add_organization_option(show)
    show.set_defaults(handler=_show)
    reset = commands.add_parser("reset", help="the next run starts over (or from --to)")
    reset.add_argument("config_id", metavar="CONFIG_ID")
    reset.add_argument("--to", default=None, metavar="JSON",
                       help='the state to start from, e.g. \'{"cursor": "2025-01-01T00:00:00Z"}\' (default: none)')
    add_organization_option(reset)
    reset.set_defaults(handler=_reset)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


def _visible(args: argparse.Namespace) -> str:
    """The platform database URL, once the config is known to be in the organization ``args`` keep to."""
    url = resolve_database_url(args.database_url)
    with connect(url) as conn:
        require_visible(conn, scope(conn, args), "integration_configs", [args.config_id], "integration config")
    return url


def _show(args: argparse.Namespace) -> int:
    report = show_integration_state(_visible(args), args.config_id, args.limit)
    if args.json:
        print(_json({"config_id": report.config_id, "integration": report.integration_name,
                     "target": report.target, "incremental": report.declared, "state": report.state,
                     "loads": report.loads}))
        return EXIT_OK
    print(f"{report.integration_name} ({report.config_id}) -> {report.target}")
    print(f"incremental: {_json(report.declared) if report.declared else '- (not declared)'}")
    print(f"state: {_json(report.state) if report.state is not None else '- (the next run starts from the start)'}")
    for load in report.loads:
        state = _json(load["state"]) if load["state"] is not None else "-"
        print(f"  {load['loaded_at'].isoformat()}  {load['kind']:<5} {load['run_id']}  rows={load['rows_written']}"
              f"  state={state}")
    print(f"{len(report.loads)} ledger row(s)")
    return EXIT_OK


def _reset(args: argparse.Namespace) -> int:
    state = None
    if args.to is not None:
        try:
            state = orjson.loads(args.to)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"is not JSON ({exc})", argument="--to") from None
    ledger_id = reset_integration_state(_visible(args), args.config_id, state)
    shown = _json(state) if state is not None else "the start"
    print(f"reset {args.config_id}: the next run starts from {shown} (ledger row {ledger_id})")
    return EXIT_OK
