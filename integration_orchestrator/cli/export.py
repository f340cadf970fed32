"""``export ID [-o FILE] [--json]``: one integration as a file ``apply`` takes back."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from integration_orchestrator.ascode import dump_document, export_integration
from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.db import connect, resolve_database_url
from integration_orchestrator.errors import ConfigurationError

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "export", help="print an integration (config, mappings with tests, pipelines, schedules) as a file for apply"
    )
    parser.add_argument("integration", metavar="ID", help="integration_configs id (or a unique integration_name)")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="FILE",
                        help="write to FILE (JSON when it ends in .json) instead of stdout")
    parser.add_argument("--json", action="store_true", help="JSON instead of YAML")
    parser.add_argument("--schema-ref", default=None, metavar="URI",
                        help="what the $schema line points at (default: the installed schema file)")
    add_organization_option(parser)
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    with connect(resolve_database_url(args.database_url), autocommit=True) as conn:
        document = export_integration(conn, args.integration, scope(conn, args))
    as_json = args.json or (args.output is not None and args.output.suffix == ".json")
    text = dump_document(document, as_json=as_json, schema_ref=args.schema_ref)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"wrote {args.output}")
    return EXIT_OK
