"""``reload``: make a running Dagster (``dev`` or a deployed webserver) re-read the rows.

The same as the UI's "Reload" button on the code location: the location is loaded
again (one query per integration table, a new snapshot for run workers), so changed
rows show up without restarting Dagster.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

__all__ = ["DEFAULT_LOCATION", "DEFAULT_URL", "register", "reload_location"]

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_LOCATION = "integration_orchestrator"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("reload", help="make a running Dagster pick up changed integration rows")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"Dagster webserver (default {DEFAULT_URL})")
    parser.add_argument("--location", default=DEFAULT_LOCATION, help="code location name (workspace.yaml)")
    parser.set_defaults(handler=_reload)


def reload_location(url: str, location: str) -> tuple[bool, str]:
    """Reload ``location`` through the webserver's GraphQL API: (ok, message)."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus

    parts = urlsplit(url)
    client = DagsterGraphQLClient(
        parts.hostname or "127.0.0.1", port_number=parts.port, use_https=parts.scheme == "https",
        path_prefix=parts.path.rstrip("/"), timeout=600,
    )
    try:
        info = client.reload_repository_location(location)
    except (DagsterGraphQLClientError, Exception) as exc:  # noqa: BLE001 - refused, DNS, ... → one clear line
        cause = exc.__cause__ or exc.__context__ or exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        return False, f"cannot reload `{location}` through the Dagster webserver at {url} (is it running?): {reason}"
    if info.status == ReloadRepositoryLocationStatus.SUCCESS:
        return True, f"reloaded code location `{location}` at {url}"
    return False, f"code location `{location}` failed to load: {info.message}"


def _reload(args: argparse.Namespace) -> int:
    ok, message = reload_location(args.url, args.location)
    print(message if ok else f"error: {message}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1
