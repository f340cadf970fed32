"""Errors of the transformation engines.

Definition problems (bad logic, bad schema, unknown language) are :class:`RowError`
subclasses naming the row, the field and the problem. Problems while a batch runs
(timeout, sandbox violation, a batch-level exception) name the transformation too.
"""

from __future__ import annotations

from typing import Any

from integration_orchestrator.errors import IntegrationOrchestratorError, RowError
from integration_orchestrator.transforms.base import LogicError

__all__ = [
    "LogicError",
    "SandboxUnavailableError",
    "TransformationDefinitionError",
    "TransformationExecutionError",
    "TransformationRuntimeError",
    "TransformationSandboxError",
    "TransformationTimeoutError",
]


class TransformationDefinitionError(RowError):
    """A transformation row is invalid (syntax, shape, schema, language)."""

    def __init__(self, name: str | None, reason: str, *, row_id: Any = None, field: str | None = None) -> None:
        super().__init__("transformation", name, reason, row_id=row_id, field=field)


class TransformationExecutionError(IntegrationOrchestratorError):
    """A batch could not be transformed; the message names the transformation."""

    def __init__(self, name: str | None, reason: str, *, row_id: Any = None) -> None:
        self.name = name
        self.row_id = row_id
        self.reason = reason
        where = "In transformation"
        if name:
            where += f" `{name}`"
        if row_id is not None:
            where += f" (id {row_id})"
        super().__init__(f"{where}: {reason}")


class TransformationRuntimeError(TransformationExecutionError):
    """The tenant code failed for the batch as a whole (or returned the wrong shape)."""


class TransformationTimeoutError(TransformationExecutionError):
    """The batch exceeded ``timeout_seconds``; the worker was killed and replaced."""


class TransformationSandboxError(TransformationExecutionError):
    """The sandbox stopped the code (memory, CPU, forbidden system call) or the worker died."""


class SandboxUnavailableError(TransformationSandboxError):
    """The sandbox cannot be established on this host and the operator did not opt in."""
