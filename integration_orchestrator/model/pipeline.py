"""``pipeline_steps`` and ``performance_config`` parsed and checked (ARCHITECTURE.md §6.5).

``{"steps": [{"name", "order", "transformation_id" | "transformation": {inline row} | "op": <registered op>, "config"},
"depends_on": [names], "when": <JMESPath over the record>}]}``. Every problem is a
:class:`RowError` naming the pipeline row, the JSON path and what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.enums import ERROR_STRATEGIES, PIPELINE_TYPES
from integration_orchestrator.model.retry import RetrySettings, parse_retry
from integration_orchestrator.model.rows import PipelineRecord, TransformationRecord
from integration_orchestrator.model.slugs import slugify

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PipelineSettings",
    "StepRecord",
    "parse_pipeline",
]

DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class StepRecord:
    """One step: ``transformation`` is the full row (referenced or inline)."""

    name: str
    op_suffix: str
    order: int
    transformation: Mapping[str, Any]
    transformation_id: str | None
    depends_on: tuple[str, ...]
    when: str | None
    #: a data team's op (``integration_orchestrator.ops``): its registered name and its
    #: config; the step then has no transformation (``transformation`` is empty)
    op: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineSettings:
    """The pipeline's steps in execution order (topological for hybrid) and its knobs."""

    steps: tuple[StepRecord, ...]
    batch_size: int
    parallelism: int | None
    retry: RetrySettings | None


def _error(pipeline: PipelineRecord, field: str, reason: str) -> RowError:
    return RowError("pipeline", pipeline.pipeline_name, reason, row_id=pipeline.id, field=field)


def _positive_int(pipeline: PipelineRecord, field: str, value: Any, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _error(pipeline, field, f"must be a positive integer, not {value!r}")
    return value


def _parse_step(
    pipeline: PipelineRecord,
    index: int,
    raw: Any,
    transformations: Mapping[str, TransformationRecord],
) -> StepRecord:
    path = f"pipeline_steps.steps[{index}]"
    if not isinstance(raw, Mapping):
        raise _error(pipeline, path, "must be an object {name, order, transformation_id | transformation}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _error(pipeline, f"{path}.name", "must be a non-empty string")
    order = raw.get("order", index + 1)
    if isinstance(order, bool) or not isinstance(order, int):
        raise _error(pipeline, f"{path}.order", f"must be an integer, not {order!r}")
    has_id, has_inline, has_op = "transformation_id" in raw, "transformation" in raw, "op" in raw
    if has_id + has_inline + has_op != 1:
        raise _error(pipeline, path, "needs exactly one of `transformation_id`, `transformation` (inline row) "
                     "or `op` (a registered op)")
    op, config = _parse_op(pipeline, path, raw) if has_op else (None, {})
    transformation: Mapping[str, Any]
    if has_op:
        transformation_id, transformation = None, {}
    elif has_id:
        transformation_id = str(raw["transformation_id"])
        found = transformations.get(transformation_id)
        if found is None:
            raise _error(
                pipeline, f"{path}.transformation_id", f"no transformation with id {transformation_id} is visible"
            )
        transformation = found.row
    else:
        inline = raw["transformation"]
        if not isinstance(inline, Mapping):
            raise _error(pipeline, f"{path}.transformation", "must be an inline transformation object")
        transformation_id = None
        transformation = {"transformation_name": f"{pipeline.pipeline_name}.{name}", **inline}
    depends_on = raw.get("depends_on", [])
    if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
        raise _error(pipeline, f"{path}.depends_on", "must be a list of step names")
    when = raw.get("when")
    if when is not None:
        if not isinstance(when, str) or not when.strip():
            raise _error(pipeline, f"{path}.when", "must be a JMESPath expression (a string)")
        try:
            jmespath.compile(when)
        except JMESPathError as exc:
            raise _error(pipeline, f"{path}.when", f"is not valid JMESPath: {exc}") from None
    return StepRecord(
        name=name,
        op_suffix=slugify(name, "step"),
        order=order,
        transformation=transformation,
        transformation_id=transformation_id,
        depends_on=tuple(depends_on),
        when=when,
        op=op,
        config=config,
    )


def _parse_op(pipeline: PipelineRecord, path: str, raw: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """``op`` (a registered op's name) and its ``config`` (checked against the op's schema by the factory)."""
    op, config = raw["op"], raw.get("config", {})
    if not isinstance(op, str) or not op.strip():
        raise _error(pipeline, f"{path}.op", "must be the name of a registered op (a string)")
    if not isinstance(config, Mapping):
        raise _error(pipeline, f"{path}.config", f"must be an object (the config of op `{op}`)")
    if raw.get("when") is not None:
        raise _error(pipeline, f"{path}.when", f"is not supported on an op step (op `{op}` gets every record)")
    return op, dict(config)


def _ordered(pipeline: PipelineRecord, steps: Sequence[StepRecord]) -> tuple[StepRecord, ...]:
    by_name = {s.name: s for s in steps}
    for i, step in enumerate(steps):
        for dep in step.depends_on:
            if dep not in by_name:
                raise _error(pipeline, f"pipeline_steps.steps[{i}].depends_on", f"names unknown step {dep!r}")
            if dep == step.name:
                raise _error(pipeline, f"pipeline_steps.steps[{i}].depends_on", "a step cannot depend on itself")
    if pipeline.pipeline_type != "hybrid":
        return tuple(sorted(steps, key=lambda s: s.order))
    graph = {s.name: s.depends_on for s in sorted(steps, key=lambda s: s.order)}
    try:
        names = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise _error(pipeline, "pipeline_steps.steps", f"depends_on has a cycle: {cycle}") from None
    return tuple(by_name[n] for n in names)


def parse_pipeline(
    pipeline: PipelineRecord, transformations: Mapping[str, TransformationRecord]
) -> PipelineSettings:
    """Check the pipeline row and return its steps in execution order and its settings."""
    if pipeline.pipeline_type not in PIPELINE_TYPES:
        raise _error(pipeline, "pipeline_type", f"must be one of {', '.join(PIPELINE_TYPES)}")
    if pipeline.error_handling_strategy not in ERROR_STRATEGIES:
        raise _error(pipeline, "error_handling_strategy", f"must be one of {', '.join(ERROR_STRATEGIES)}")
    body = pipeline.pipeline_steps
    if not isinstance(body, Mapping) or not isinstance(body.get("steps"), list):
        raise _error(pipeline, "pipeline_steps", 'must be an object {"steps": [...]}')
    steps = [_parse_step(pipeline, i, raw, transformations) for i, raw in enumerate(body["steps"])]
    names: set[str] = set()
    suffixes: set[str] = set()
    for i, step in enumerate(steps):
        if step.name in names:
            raise _error(pipeline, f"pipeline_steps.steps[{i}].name", f"step name {step.name!r} is used twice")
        if step.op_suffix in suffixes:
            raise _error(
                pipeline, f"pipeline_steps.steps[{i}].name", f"step name {step.name!r} slugs like another step's name"
            )
        names.add(step.name)
        suffixes.add(step.op_suffix)
    perf = pipeline.performance_config
    if not isinstance(perf, Mapping):
        raise _error(pipeline, "performance_config", "must be a JSON object")
    batch_size = _positive_int(pipeline, "performance_config.batch_size", perf.get("batch_size"), DEFAULT_BATCH_SIZE)
    parallelism = _positive_int(pipeline, "performance_config.parallelism", perf.get("parallelism"), None)
    retry = None
    if perf.get("retry") is not None:
        retry = parse_retry(
            perf["retry"], kind="pipeline", name=pipeline.pipeline_name, row_id=pipeline.id,
            field="performance_config.retry",
        )
    return PipelineSettings(
        steps=_ordered(pipeline, steps), batch_size=batch_size or DEFAULT_BATCH_SIZE,
        parallelism=parallelism, retry=retry,
    )
