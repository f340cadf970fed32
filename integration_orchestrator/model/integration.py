"""The validated integration bundle, and the rows the factory had to skip.

:class:`Integration` is what the factory validates out of a snapshot and what a
translator receives: a config, optionally one of its pipelines, with everything parsed
once (pipeline settings, the retry settings in force, schedules, mapping tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.pipeline import PipelineSettings
from integration_orchestrator.model.retry import DEFAULT_RETRY, RetrySettings
from integration_orchestrator.model.rows import (
    ConfigRecord,
    MappingRow,
    MappingTestRecord,
    PipelineRecord,
    TransformationRecord,
)
from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = ["Integration", "InvalidRow", "resolve_retry"]


@dataclass(frozen=True)
class InvalidRow:
    """A row the factory skipped: ``message`` is the full sentence shown to users."""

    table: str
    row_id: str | None
    name: str | None
    field: str | None
    reason: str
    message: str
    config_id: str | None = None

    @classmethod
    def from_error(
        cls, table: str, error: Exception, *, config_id: str | None, fallback: tuple[str, str]
    ) -> InvalidRow:
        if isinstance(error, RowError):
            row_id = None if error.row_id is None else str(error.row_id)
            return cls(table, row_id or fallback[0], error.name or fallback[1], error.field, error.reason, str(error),
                       config_id)
        reason = f"{type(error).__name__}: {error}"
        message = f"In {table} `{fallback[1]}` (id {fallback[0]}): {reason}"
        return cls(table, fallback[0], fallback[1], None, reason, message, config_id)


def resolve_retry(
    strategy: str, settings: PipelineSettings | None, schedules: tuple[ScheduleRecord, ...]
) -> RetrySettings | None:
    """Op retry settings when the strategy is ``retry``: the pipeline's, else a schedule's, else the default."""
    if strategy != "retry":
        return None
    if settings and settings.retry:
        return settings.retry
    for schedule in schedules:
        if schedule.retry is not None:
            return schedule.retry
    return DEFAULT_RETRY


@dataclass(frozen=True)
class Integration:
    """One runnable integration: a config and (optionally) one of its pipelines.

    ``mappings`` are the active mappings of the config (the plan is compiled with
    ``direction="inbound"``), ``tests`` the active mapping tests by mapping id, ``retry``
    the op retry settings in force (None unless the strategy is ``retry``).
    """

    config: ConfigRecord
    pipeline: PipelineRecord | None
    settings: PipelineSettings | None
    mappings: tuple[MappingRow, ...]
    tests: Mapping[str, tuple[MappingTestRecord, ...]]
    schedules: tuple[ScheduleRecord, ...]
    transformations: Mapping[str, TransformationRecord] = field(repr=False)
    retry: RetrySettings | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.config.id, self.pipeline.id if self.pipeline else None)

    @property
    def strategy(self) -> str:
        return self.pipeline.error_handling_strategy if self.pipeline else "fail_fast"

    def transformation_rows(self) -> dict[str, Mapping[str, Any]]:
        return {tid: t.row for tid, t in self.transformations.items()}
