"""``reload``: make a running Dagster (``dev`` or a deployed webserver) re-read the rows.

The same as the UI's "Reload" button on the code location: the location is loaded
again (one query per integration table, a new snapshot for run workers), so changed
rows show up without restarting Dagster.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from integration_orchestrator.cli import EXIT_OK
from integration_orchestrator.errors import OperationFailedError

__all__ = ["DEFAULT_LOCATION", "DEFAULT_URL", "ReloadError", "register", "reload_location"]

DEFAULT_URL = "http://127.0.0.1:3000"
DEFAULT_LOCATION = "integration_orchestrator"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("reload", help="make a running Dagster pick up changed integration rows")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"Dagster webserver (default {DEFAULT_URL})")
    parser.add_argument("--location", default=DEFAULT_LOCATION, help="code location name (workspace.yaml)")
    parser.set_defaults(handler=_reload)


class ReloadError(OperationFailedError):
    """The webserver could not be reached (``reachable`` False) or the location failed to load."""

    def __init__(self, location: str, url: str, reason: str, *, reachable: bool) -> None:
        self.location = location
        self.url = url
        self.reason = reason
        self.reachable = reachable
        if reachable:
            message = f"code location `{location}` failed to load: {reason}"
        else:
            message = f"cannot reload `{location}` through the Dagster webserver at {url} (is it running?): {reason}"
        super().__init__(message)


def reload_location(url: str, location: str) -> str:
    """Reload ``location`` through the webserver's GraphQL API; the message saying it did.

    Raises :class:`ReloadError` when the webserver cannot be reached or the location fails to load.
    """
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
        raise ReloadError(location, url, reason, reachable=False) from None
    if info.status != ReloadRepositoryLocationStatus.SUCCESS:
        raise ReloadError(location, url, str(info.message), reachable=True)
    return f"reloaded code location `{location}` at {url}"


def _reload(args: argparse.Namespace) -> int:
    print(reload_location(args.url, args.location))
    return EXIT_OK
