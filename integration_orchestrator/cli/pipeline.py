"""``pipeline preview ID --input FILE [--direction D] [--organization-id ID]``: dry-run a pipeline's
steps (or, outbound, its mappings' derived inverse), per-step output as JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from integration_orchestrator.cli import EXIT_FAILED, EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import ConfigurationError
from integration_orchestrator.factory.engines import default_engines
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.preview import preview_pipeline_by_id
from integration_orchestrator.tenancy import require_visible

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pipeline = subparsers.add_parser("pipeline", help="integration pipelines")
    commands = pipeline.add_subparsers(dest="pipeline_command", metavar="ACTION", required=True)
    preview = commands.add_parser(
        "preview", help="run a pipeline's mappings and steps on records from a file; nothing is written"
    )
    preview.add_argument("pipeline_id", metavar="ID", help="integration_pipeline_definitions id")
    preview.add_argument(
        "--input", required=True, metavar="FILE",
        help="JSON array of records, a JSON object (one record), or NDJSON; '-' reads stdin",
    )
    preview.add_argument(
        "--direction", choices=["inbound", "outbound"], default="inbound",
        help="inbound (default): mappings then steps; outbound: the records (target shape) through the"
             " outbound mappings back to the source shape",
    )
    add_organization_option(preview)
    preview.set_defaults(handler=_preview)


def read_records(path: str) -> list[dict[str, Any]]:
    """Records from a JSON array/object or NDJSON file (``-``: stdin)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read --input {path}: {exc.strerror}") from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            data = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise ConfigurationError(f"--input {path} is neither JSON nor NDJSON: {exc}") from None
    records = [data] if isinstance(data, dict) else data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ConfigurationError(f"--input {path} must hold records (JSON objects)")
    return records


def _preview(args: argparse.Namespace) -> int:
    records = read_records(args.input)
    engines = default_engines()
    url = resolve_database_url(args.database_url)
    with connect(url, autocommit=True) as conn:
        organization = scope(conn, args)
        require_visible(conn, organization, "integration_pipeline_definitions", [args.pipeline_id], "pipeline")
    snapshot = load_snapshot_from_url(url, organization)
    report = preview_pipeline_by_id(snapshot, args.pipeline_id, records, engines, direction=args.direction)
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")
    return EXIT_OK if report["success"] else EXIT_FAILED
