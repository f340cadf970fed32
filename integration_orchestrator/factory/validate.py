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
from dataclasses import dataclass
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.factory.custom_ops import check_op_step
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.model import (
    ConfigRecord,
    Integration,
    InvalidRow,
    MappingRow,
    PipelineRecord,
    PipelineSettings,
    Snapshot,
    TransformationRecord,
    parse_pipeline,
    resolve_retry,
)

__all__ = ["ValidationResult", "validate_snapshot"]

@dataclass(frozen=True)
class ValidationResult:
    integrations: tuple[Integration, ...]
    invalid: tuple[InvalidRow, ...]


def _group(items: Sequence[Any], attr: str) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        grouped[str(getattr(item, attr))].append(item)
    return grouped


def _check_config(
    config: ConfigRecord,
    mappings: list[MappingRow],
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
            list(mappings), direction="inbound", timezone=config.timezone,
            transformations={tid: t.row for tid, t in transformations.items()},
        )
    except Exception as error:  # noqa: BLE001 - any failure is reported against the row
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
                if step.op is not None:
                    check_op_step(step)
                else:
                    engines.compile_transformation(step.transformation)
            except Exception as error:  # noqa: BLE001 - any failure is reported against the row
                raise RowError(
                    "pipeline", pipeline.pipeline_name, f"step `{step.name}`: {error}",
                    row_id=pipeline.id, field="pipeline_steps",
                ) from None
        return settings
    except Exception as error:  # noqa: BLE001 - any failure is reported against the row
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

    integrations: list[Integration] = []
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
        pipelines = pipelines_by_config.get(config.id, [])
        if not pipelines:
            integrations.append(Integration(config, None, None, tuple(mappings), tests, schedules, transformations))
            continue
        for pipeline in pipelines:
            checked = _check_pipeline(pipeline, transformations, engines)
            if isinstance(checked, InvalidRow):
                invalid.append(checked)
                continue
            retry = resolve_retry(pipeline.error_handling_strategy, checked, schedules)
            integrations.append(
                Integration(config, pipeline, checked, tuple(mappings), tests, schedules, transformations, retry)
            )
    return ValidationResult(tuple(integrations), tuple(invalid))
