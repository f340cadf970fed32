"""The failed-record type: one record that a mapping, a step or a sink could not process."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["FailedRecord"]


@dataclass(frozen=True)
class FailedRecord:
    """A record that failed: its index in the input batch, the record, why, and details.

    ``details`` is the error object (shaped by a transformation's ``error_output_schema``
    when it has one); ``step`` names the pipeline step once the factory knows it.
    """

    index: int
    record: Any
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""

    def at(self, step: str, index: int | None = None) -> FailedRecord:
        """The same failure, attributed to ``step`` (and moved to ``index``)."""
        return replace(self, step=step, index=self.index if index is None else index)
