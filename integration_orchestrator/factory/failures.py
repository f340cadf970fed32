"""The Dagster failure type of the integration ops, and masked errors turned into it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from integration_orchestrator.errors import IntegrationOrchestratorError, MaskedError
from integration_orchestrator.masking import Masker, masked_errors

__all__ = ["IntegrationRunFailure", "masked_failures"]


class IntegrationRunFailure(dg.Failure, IntegrationOrchestratorError):
    """An error inside an op that Dagster should show as a failure with metadata."""

    def __init__(self, description: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(description=description, metadata=metadata or {})


@contextmanager
def masked_failures(masker: Masker, *records: Any) -> Iterator[None]:
    """:func:`~integration_orchestrator.masking.masked_errors`, raising an :class:`IntegrationRunFailure`."""
    try:
        with masked_errors(masker, *records):
            yield
    except MaskedError as error:
        raise IntegrationRunFailure(error.description, metadata=error.metadata) from None
