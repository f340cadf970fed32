"""Snapshot → valid integration records + the invalid rows with their reasons.

Pure: the same snapshot always gives the same result (run again on reconstruction).
One bad row never takes the others down: a bad config skips that integration, a bad
mapping skips its config (running without it would write wrong data), a bad pipeline
skips that pipeline's job only. Every skip is an :class:`InvalidRow` naming the row,
the field and the problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.records import (
    ConfigRecord,
    MappingRecord,
    MappingTestRecord,
    PipelineRecord,
    ScheduleRecord,
    Snapshot,
    TransformationRecord,
)
from integration_orchestrator.factory.steps import PipelineSettings, RetrySettings, parse_pipeline, parse_retry

__all__ = ["IntegrationRecord", "InvalidRow", "ValidationResult", "validate_snapshot"]

_DEFAULT_RETRY = RetrySettings(max_retries=3, delay_seconds=1.0, backoff="exponential", jitter=False)


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
    def from_error(cls, table: str, error: Exception, *, config_id: str | None, fallback: tuple[str, str]) -> InvalidRow:
        if isinstance(error, RowError):
            row_id = None if error.row_id is None else str(error.row_id)
            return cls(table, row_id or fallback[0], error.name or fallback[1], error.field, error.reason, str(error), config_id)
        reason = f"{type(error).__name__}: {error}"
        message = f"In {table} `{fallback[1]}` (id {fallback[0]}): {reason}"
        return cls(table, fallback[0], fallback[1], None, reason, message, config_id)


@dataclass(frozen=True)
class IntegrationRecord:
    """One runnable integration: a config and (optionally) one of its pipelines.

    This is what :class:`~integration_orchestrator.factory.translator.IntegrationTranslator`
    receives. ``mappings`` are the active mappings of the config (the plan is compiled
    with ``direction="inbound"``),
    ``tests`` the active mapping tests by mapping id.
    """

    config: ConfigRecord
    pipeline: PipelineRecord | None
    settings: PipelineSettings | None
    mappings: tuple[MappingRecord, ...]
    tests: Mapping[str, tuple[MappingTestRecord, ...]]
    schedules: tuple[ScheduleRecord, ...]
    transformations: Mapping[str, TransformationRecord] = field(repr=False)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.config.id, self.pipeline.id if self.pipeline else None)

    @property
    def strategy(self) -> str:
        return self.pipeline.error_handling_strategy if self.pipeline else "fail_fast"

    @property
    def retry(self) -> RetrySettings | None:
        """Op retry settings when the strategy is ``retry``: pipeline's, else a schedule's."""
        if self.strategy != "retry":
            return None
        if self.settings and self.settings.retry:
            return self.settings.retry
        for schedule in self.schedules:
            if schedule.retry_policy:
                return parse_retry(
                    schedule.retry_policy, kind="schedule", name=schedule.schedule_name,
                    row_id=schedule.id, field="retry_policy",
                )
        return _DEFAULT_RETRY

    def transformation_rows(self) -> dict[str, Mapping[str, Any]]:
        return {tid: t.row for tid, t in self.transformations.items()}


@dataclass(frozen=True)
class ValidationResult:
    integrations: tuple[IntegrationRecord, ...]
    invalid: tuple[InvalidRow, ...]


def _group(items: Sequence[Any], attr: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        grouped[str(getattr(item, attr))].append(item)
    return grouped


def _check_config(
    config: ConfigRecord,
    mappings: list[MappingRecord],
    transformations: Mapping[str, TransformationRecord],
    engines: Engines,
) -> InvalidRow | None:
    try:
        engines.check_connection(config.row)
    except Exception as error:  # noqa: BLE001 - any failure is reported against the row
        return InvalidRow.from_error(
            "integration_configs", error, config_id=config.id, fallback=(config.id, config.integration_name)
        )
    if not mappings:
        return None
    try:
        engines.compile_plan(
            [m.row for m in mappings], direction="inbound", timezone=config.timezone,
            transformations={tid: t.row for tid, t in transformations.items()},
        )
    except Exception as error:  # noqa: BLE001
        first = mappings[0]
        bad = InvalidRow.from_error(
            "integration_mappings", error, config_id=config.id, fallback=(first.id, first.mapping_name)
        )
        return InvalidRow(
            bad.table, bad.row_id, bad.name, bad.field, bad.reason,
            f"{bad.message} (integration `{config.integration_name}` is not loaded until this is fixed)",
            config.id,
        )
    return None


def _check_pipeline(
    pipeline: PipelineRecord, transformations: Mapping[str, TransformationRecord], engines: Engines
) -> PipelineSettings | InvalidRow:
    try:
        settings = parse_pipeline(pipeline, transformations)
        for step in settings.steps:
            try:
                engines.compile_transformation(step.transformation)
            except Exception as error:  # noqa: BLE001
                raise RowError(
                    "pipeline", pipeline.pipeline_name, f"step `{step.name}`: {error}",
                    row_id=pipeline.id, field="pipeline_steps",
                ) from None
        return settings
    except Exception as error:  # noqa: BLE001
        return InvalidRow.from_error(
            "integration_pipeline_definitions", error, config_id=pipeline.config_id,
            fallback=(pipeline.id, pipeline.pipeline_name),
        )


def validate_snapshot(snapshot: Snapshot, engines: Engines) -> ValidationResult:
    """Split the snapshot into runnable integrations and invalid rows (with reasons)."""
    transformations_by_org: dict[str, dict[str, TransformationRecord]] = defaultdict(dict)
    for t in snapshot.transformations:
        transformations_by_org[str(t.row.get("organization_id"))][t.id] = t
    mappings_by_config = _group(snapshot.mappings, "config_id")
    tests_by_mapping = _group(snapshot.mapping_tests, "mapping_id")
    pipelines_by_config = _group(snapshot.pipelines, "config_id")
    schedules_by_config = _group(snapshot.schedules, "config_id")

    integrations: list[IntegrationRecord] = []
    invalid: list[InvalidRow] = []
    for config in snapshot.configs:
        transformations = transformations_by_org.get(config.organization_id, {})
        mappings = mappings_by_config.get(config.id, [])
        problem = _check_config(config, mappings, transformations, engines)
        if problem is not None:
            invalid.append(problem)
            continue
        tests = {m.id: tuple(tests_by_mapping[m.id]) for m in mappings if tests_by_mapping.get(m.id)}
        schedules = tuple(schedules_by_config.get(config.id, []))
        common = dict(config=config, mappings=tuple(mappings), tests=tests, schedules=schedules,
                      transformations=transformations)
        pipelines = pipelines_by_config.get(config.id, [])
        if not pipelines:
            integrations.append(IntegrationRecord(pipeline=None, settings=None, **common))  # type: ignore[arg-type]
            continue
        for pipeline in pipelines:
            checked = _check_pipeline(pipeline, transformations, engines)
            if isinstance(checked, InvalidRow):
                invalid.append(checked)
                continue
            record = IntegrationRecord(pipeline=pipeline, settings=checked, **common)  # type: ignore[arg-type]
            try:
                record.retry  # noqa: B018 - validates the schedule's retry_policy when it is used
            except RowError as error:
                invalid.append(InvalidRow.from_error(
                    "integration_schedules", error, config_id=config.id, fallback=(pipeline.id, pipeline.pipeline_name)
                ))
                continue
            integrations.append(record)
    return ValidationResult(tuple(integrations), tuple(invalid))
