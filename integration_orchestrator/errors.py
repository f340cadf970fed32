"""One exception root for the whole package.

Every error a user can cause carries its context as attributes (which row, which
field) and builds its message from them, so the CLI, the Dagster UI and the logs all
say the same thing: ``In mapping `orders_to_erp` (row 3f2a...), field `source_path`: ...``.
This module is free of Dagster: the factory turns errors raised inside ops into its own
``dagster.Failure`` subclass (``factory.failures.IntegrationRunFailure``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AmbiguousReferenceError",
    "ConfigurationError",
    "DatabaseUnavailableError",
    "IntegrationOrchestratorError",
    "MaskedError",
    "MigrationError",
    "NotFoundError",
    "OperationFailedError",
    "RowError",
    "UsageError",
]


class IntegrationOrchestratorError(Exception):
    """Root of every error raised by integration-orchestrator."""


class ConfigurationError(IntegrationOrchestratorError):
    """The environment or a setting is wrong (not a database row)."""


class DatabaseUnavailableError(IntegrationOrchestratorError):
    """The platform database cannot be reached."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"Cannot reach the integration database at {url}: {reason}")


class MigrationError(IntegrationOrchestratorError):
    """A migration file could not be applied, or an applied one was edited."""

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"In migration `{filename}`: {reason}")


class RowError(IntegrationOrchestratorError):
    """A row of an integration table is invalid.

    ``kind`` is the human name of the table ("mapping", "pipeline", ...), ``name`` the
    row's human name, ``row_id`` its id, ``field`` the offending column or JSON path
    inside it, and ``reason`` what is wrong.
    """

    def __init__(
        self,
        kind: str,
        name: str | None,
        reason: str,
        *,
        row_id: Any = None,
        field: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.row_id = row_id
        self.field = field
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        where = f"In {self.kind}"
        if self.name:
            where += f" `{self.name}`"
        if self.row_id is not None:
            where += f" (id {self.row_id})"
        if self.field:
            where += f", field `{self.field}`"
        return f"{where}: {self.reason}"


class UsageError(IntegrationOrchestratorError):
    """A command was given an argument it cannot use; ``argument`` names the option, if one."""

    def __init__(self, reason: str, *, argument: str | None = None) -> None:
        self.argument = argument
        self.reason = reason
        super().__init__(f"{argument}: {reason}" if argument else reason)


class NotFoundError(IntegrationOrchestratorError):
    """No row matches what the user named.

    ``kind`` is the human name of the row ("integration config"), ``reference`` what the
    user gave, ``by`` how it was looked up ("id"), ``argument`` the option that gave it;
    ``quote`` shows the reference in backticks, as names are shown.
    """

    def __init__(
        self,
        kind: str,
        reference: Any,
        *,
        by: str | None = None,
        argument: str | None = None,
        quote: bool = False,
    ) -> None:
        self.kind = kind
        self.reference = reference
        self.by = by
        self.argument = argument
        shown = f"`{reference}`" if quote else str(reference)
        message = f"no {kind}" + (f" with {by}" if by else "") + f" {shown}"
        super().__init__(f"{argument}: {message}" if argument else message)


class AmbiguousReferenceError(IntegrationOrchestratorError):
    """A name matches several rows (``ids``); the user must give the id."""

    def __init__(self, kind: str, reference: str, ids: Sequence[Any]) -> None:
        self.kind = kind
        self.reference = reference
        self.ids = tuple(ids)
        shown = ", ".join(str(i) for i in self.ids)
        super().__init__(f"{len(self.ids)} {kind}s are named `{reference}` (ids {shown}); give the id")


class OperationFailedError(IntegrationOrchestratorError):
    """What the user asked for was valid but did not succeed (a run, a test, a remote call)."""


class MaskedError(IntegrationOrchestratorError):
    """An error whose message showed a secret or masked value, re-raised with it redacted."""

    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        self.description = description
        self.metadata = dict(metadata or {})
        super().__init__(description)
