"""The op graph of one integration, by ``pipeline_type`` (ARCHITECTURE.md §6.5).

Nodes ``source`` → ``mappings`` → ``step_<slug>``... → ``sink``, plus a ``checks`` node (mapping tests) feeding the sink
when the integration has tested mappings:

- linear / conditional: the steps in ``order`` (``when`` routes records inside a step);
- parallel: the mapped records split into batches of ``performance_config.batch_size``
  (Dagster dynamic outputs), every step mapped over the batches, collected in order;
- hybrid: a DAG by ``depends_on`` (steps without dependencies read the mapped records,
  a step with several dependencies reads their outputs concatenated, the sink reads the
  outputs of the steps nothing depends on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg

from integration_orchestrator.factory.custom_ops import custom_step_op
from integration_orchestrator.factory.ops import (
    IntegrationJob,
    checks_op,
    collect_op,
    mapping_op,
    sink_op,
    source_op,
    split_op,
    step_op,
)
from integration_orchestrator.model.pipeline import StepRecord

__all__ = ["compose_pipeline", "terminal_steps"]


def terminal_steps(steps: tuple[StepRecord, ...]) -> list[StepRecord]:
    """Steps no other step depends on, in ``order``."""
    needed = {d for s in steps for d in s.depends_on}
    return sorted((s for s in steps if s.name not in needed), key=lambda s: s.order)


def _step(step: StepRecord, inputs: int, pool: str | None) -> dg.OpDefinition:
    """A transformation step's shared op, or the registered op of an ``op`` step."""
    return custom_step_op(step.op, inputs, pool) if step.op is not None else step_op(inputs, pool)


def _node(job: IntegrationJob, op: dg.OpDefinition, name: str, *, retry: bool = True) -> Any:
    """``op`` as node ``name`` of ``job`` with the job's op tags and retry policy (a failing op
    marks the run's execution itself: ``factory/failure_marks.py``)."""
    node = op.alias(name).tag(dict(job.spec.op_tags))
    if retry and job.spec.retry_policy is not None:
        node = node.with_retry_policy(job.spec.retry_policy)
    return node


def compose_pipeline(job: IntegrationJob) -> Callable[[], Any]:
    """The composition function (for ``dagster.graph``) of ``job``'s op graph; it returns the
    sink's output, which is the integration's asset (see ``factory.assets``)."""
    record = job.record
    pool = job.spec.pool
    pipeline_type = record.pipeline.pipeline_type if record.pipeline else "linear"
    steps = record.settings.steps if record.settings else ()
    source, mappings = _node(job, source_op(pool), "source"), _node(job, mapping_op(pool), "mappings")
    checks = _node(job, checks_op(pool), "checks", retry=False) if job.spec.check_names else None

    def sink_kwargs(finals: list[Any]) -> dict[str, Any]:
        kwargs = {f"in_{i}": out for i, out in enumerate(finals)}
        if checks is not None:
            kwargs["checks_blocked"] = checks()
        return kwargs

    if pipeline_type == "parallel":
        split = _node(job, split_op(pool), "split", retry=False)
        collect = _node(job, collect_op(pool), "collect", retry=False)
        mapped_steps = [_node(job, _step(s, 1, pool), f"step_{s.op_suffix}") for s in steps]
        sink = _node(job, sink_op(1, checks is not None, pool), "sink")

        def parallel() -> Any:
            parts = split(in_0=mappings(in_0=source()))
            for op in mapped_steps:
                parts = parts.map(lambda batch, op=op: op(in_0=batch))
            return sink(**sink_kwargs([collect(batches=parts.collect())]))

        return parallel

    if pipeline_type == "hybrid":
        ops = {s.name: _node(job, _step(s, max(1, len(s.depends_on)), pool), f"step_{s.op_suffix}") for s in steps}
        finals = terminal_steps(steps)
        sink = _node(job, sink_op(max(1, len(finals)), checks is not None, pool), "sink")

        def hybrid() -> Any:
            mapped = mappings(in_0=source())
            outputs: dict[str, Any] = {}
            for s in steps:  # already topologically ordered
                inputs = [outputs[d] for d in s.depends_on] or [mapped]
                outputs[s.name] = ops[s.name](**{f"in_{i}": x for i, x in enumerate(inputs)})
            return sink(**sink_kwargs([outputs[s.name] for s in finals] or [mapped]))

        return hybrid

    ordered_ops = [_node(job, _step(s, 1, pool), f"step_{s.op_suffix}") for s in steps]
    sink = _node(job, sink_op(1, checks is not None, pool), "sink")

    def linear() -> Any:
        batch = mappings(in_0=source())
        for op in ordered_ops:
            batch = op(in_0=batch)
        return sink(**sink_kwargs([batch]))

    return linear
