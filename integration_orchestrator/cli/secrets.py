"""``secrets set | list | rotate | keygen``: encrypted credentials; values are never printed.

``set`` and ``list`` keep to ``--organization-id`` (else ``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID``)
when given; ``rotate`` is platform-wide (the owner re-encrypts every organization's secrets);
``keygen`` prints a ready ``id:key`` entry (id from the date) and, on stderr, how to add it.

``secrets set CONFIG NAME`` reads the value from standard input when it is not a terminal
(one trailing newline removed), else prompts without echo; never from an argument, so it
stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import sys
from typing import Any

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.cli._organization import add_organization_option, scope
from integration_orchestrator.credentials import (
    KEYS_ENV,
    SecretError,
    find_config,
    generate_key,
    list_secrets,
    load_keyring,
    rotate_secrets,
    set_secret,
)
from integration_orchestrator.db import connect, resolve_database_url, tenant_transaction
from integration_orchestrator.errors import NotFoundError
from integration_orchestrator.tenancy import not_in_organization

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = subparsers.add_parser("secrets", help="encrypted credentials (values are never printed)")
    commands = group.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)

    put = commands.add_parser("set", help="store a secret for an integration config (value from stdin or a prompt)")
    put.add_argument("config", metavar="CONFIG", help="integration config id or integration_name")
    put.add_argument("name", metavar="NAME", help='secret name, referenced as {"$secret": "NAME"}')
    put.add_argument(
        "--org-wide",
        action="store_true",
        help="store it for the config's whole organization instead of this config only",
    )
    add_organization_option(put)
    put.set_defaults(handler=_set)

    show = commands.add_parser("list", help="names, key ids and rotation dates (never values)")
    show.add_argument("--config", metavar="CONFIG", default=None, help="only this config's secrets")
    add_organization_option(show)
    show.set_defaults(handler=_list)

    rotate = commands.add_parser("rotate", help="re-encrypt every secret under the newest key (one transaction)")
    rotate.set_defaults(handler=_rotate)

    keygen = commands.add_parser(
        "keygen", help="print a new `id:key` entry for INTEGRATION_ORCHESTRATOR_SECRET_KEYS (id from today's date)"
    )
    keygen.set_defaults(handler=_keygen)


def _read_value(name: str) -> str:
    if sys.stdin is not None and not sys.stdin.isatty():
        value = sys.stdin.read()
        if value.endswith("\n"):
            value = value[:-1]
            if value.endswith("\r"):
                value = value[:-1]
        return value
    return getpass.getpass(f"Value of secret `{name}` (not echoed): ")


def _set(args: argparse.Namespace) -> int:
    load_keyring()  # a missing/malformed key fails before anything is read or written
    with connect(resolve_database_url(args.database_url)) as conn:
        config = _config_in_scope(conn, args, args.config)
        conn.rollback()
        value = _read_value(args.name)
        if not value:
            raise SecretError(args.name, "the value is empty; nothing stored")
        config_id = None if args.org_wide else config.id
        with tenant_transaction(conn, config.organization_id):
            info = set_secret(conn, args.name, value, organization_id=config.organization_id, config_id=config_id)
    scope = "its organization" if args.org_wide else "this config"
    print(
        f"stored secret `{info.name}` for {scope} (integration config `{config.integration_name}`, "
        f"id {config.id}), encrypted under key `{info.key_id}`"
    )
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    with connect(resolve_database_url(args.database_url)) as conn:
        organization = scope(conn, args)
        config_id = _config_in_scope(conn, args, args.config).id if args.config else None
        if organization is None:
            infos = list_secrets(conn, config_id=config_id)
        else:
            with tenant_transaction(conn, organization):
                infos = list_secrets(conn, organization_id=organization, config_id=config_id)
    if not infos:
        print("no secrets stored")
        return EXIT_OK
    header = ("organization", "config", "name", "key_id", "updated_at", "rotated_at")
    table = [
        (
            str(i.organization_id),
            i.config_name or "(organization-wide)",
            i.name,
            i.key_id,
            i.updated_at.isoformat(timespec="seconds"),
            i.rotated_at.isoformat(timespec="seconds") if i.rotated_at else "-",
        )
        for i in infos
    ]
    widths = [max(len(row[c]) for row in [header, *table]) for c in range(len(header))]
    for row in [header, *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _config_in_scope(conn: Any, args: argparse.Namespace, reference: str) -> Any:
    """The config ``reference`` names, looked up as the organization's application role when one is given."""
    organization = scope(conn, args)
    if organization is None:
        return find_config(conn, reference)
    try:
        with tenant_transaction(conn, organization):
            return find_config(conn, reference)
    except NotFoundError:
        raise not_in_organization("integration config", reference) from None


def _rotate(args: argparse.Namespace) -> int:
    keyring = load_keyring()
    with connect(resolve_database_url(args.database_url)) as conn:
        count = rotate_secrets(conn, keyring=keyring)
        conn.commit()
    print(f"re-encrypted {count} secret(s) under key `{keyring.newest_id}`")
    return EXIT_OK


def key_id_for(now: dt.datetime) -> str:
    """A key id derived from the date and time (UTC): ``k20261208t2356``."""
    return now.astimezone(dt.UTC).strftime("k%Y%m%dt%H%M")


def _keygen(args: argparse.Namespace) -> int:
    entry = f"{key_id_for(dt.datetime.now(dt.UTC))}:{generate_key()}"
    print(entry)
    print(
        f"# add it first (the newest key encrypts):\n"
        f'#   export {KEYS_ENV}="{entry},${KEYS_ENV}"\n'
        f"# keep the old entries until `integration-orchestrator secrets rotate` has re-encrypted every secret",
        file=sys.stderr,
    )
    return EXIT_OK
