"""``integration-orchestrator`` command line.

Each sibling module (not starting with ``_``) defines ``register(subparsers)`` and adds
one command group; handlers take the parsed namespace and return the exit status:
0 success, 1 a failed test or run, 2 bad input (the message names the row). A handler
reports an error by raising the package's errors; :func:`main` prints ``error: ...``
(to stderr, or to stdout for the error types a command lists in its
``errors_on_stdout`` default) and exits with the status :func:`exit_status` gives.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from integration_orchestrator.errors import IntegrationOrchestratorError, OperationFailedError

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "build_parser",
    "exit_status",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

_EXIT_STATUSES: tuple[tuple[type[IntegrationOrchestratorError], int], ...] = (
    (OperationFailedError, EXIT_FAILED),
    (IntegrationOrchestratorError, EXIT_BAD_INPUT),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="integration-orchestrator",
        description="Integrations defined as rows in PostgreSQL, run by Dagster.",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="platform database (default: $INTEGRATION_ORCHESTRATOR_DATABASE_URL, else embedded)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    package = importlib.import_module(__name__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(subparsers)
    return parser


def exit_status(error: IntegrationOrchestratorError) -> int:
    """The exit status for an error a handler raised."""
    return next(status for kind, status in _EXIT_STATUSES if isinstance(error, kind))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except IntegrationOrchestratorError as exc:
        on_stdout = isinstance(exc, tuple(getattr(args, "errors_on_stdout", ())))
        print(f"error: {exc}", file=sys.stdout if on_stdout else sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
