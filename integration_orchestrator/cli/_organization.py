"""The organization scope of operator commands (``--organization-id`` or the variable).

Every command that reads or writes tenant rows takes ``--organization-id`` (else
``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID``): given, it works as that organization's
application role only and refuses another organization's ids; unset, it works through
every organization, each under row-level security (:mod:`integration_orchestrator.tenancy`).
"""

from __future__ import annotations

import argparse
from typing import Any

import psycopg

from integration_orchestrator.tenancy import (
    ORGANIZATION_ENV,
    ORGANIZATION_OPTION,
    given_organization,
    organization_scope,
    require_organization,
)

__all__ = ["add_organization_option", "reference_or_environment", "scope"]


def add_organization_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        ORGANIZATION_OPTION, dest="organization_id", default=None, metavar="ID",
        help=f"keep to this organization (default: ${ORGANIZATION_ENV}; unset: every organization)",
    )


def scope(conn: psycopg.Connection[Any], args: argparse.Namespace) -> str | None:
    """The organization ``args`` keep to (checked), or ``None``."""
    return organization_scope(conn, getattr(args, "organization_id", None))


def reference_or_environment(conn: psycopg.Connection[Any], reference: str | None) -> str | None:
    """``--organization`` (id, slug or name) when given, else the variable's id (checked), else ``None``."""
    if reference:
        return reference
    given = given_organization(None)
    if given is None:
        return None
    require_organization(conn, *given)
    return given[0]
