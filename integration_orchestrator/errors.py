"""One exception root for the whole package.

Every error a user can cause carries its context as attributes (which row, which
field) and builds its message from them, so the CLI, the Dagster UI and the logs all
say the same thing: ``In mapping `orders_to_erp` (row 3f2a...), field `source_path`: ...``.
This module is free of Dagster: the factory turns errors raised inside ops into its own
``dagster.Failure`` subclass (``factory.failures.IntegrationRunFailure``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ConfigurationError",
    "DatabaseUnavailableError",
    "IntegrationOrchestratorError",
    "MaskedError",
    "MigrationError",
    "RowError",
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


class MaskedError(IntegrationOrchestratorError):
    """An error whose message showed a secret or masked value, re-raised with it redacted."""

    def __init__(self, description: str, metadata: Mapping[str, Any] | None = None) -> None:
        self.description = description
        self.metadata = dict(metadata or {})
        super().__init__(description)
