"""The op graph of one integration, by ``pipeline_type`` (DESIGN.md §6).

source → mappings → steps → sink, plus a ``checks`` op (mapping tests) feeding the sink
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
from integration_orchestrator.factory.steps import DEFAULT_BATCH_SIZE, StepRecord

__all__ = ["compose_pipeline", "terminal_steps"]


def terminal_steps(steps: tuple[StepRecord, ...]) -> list[StepRecord]:
    """Steps no other step depends on, in ``order``."""
    needed = {d for s in steps for d in s.depends_on}
    return sorted((s for s in steps if s.name not in needed), key=lambda s: s.order)


def compose_pipeline(job: IntegrationJob) -> Callable[[], None]:
    """The composition function (for ``dagster.job``) of ``job``'s op graph."""
    record = job.record
    pipeline_type = record.pipeline.pipeline_type if record.pipeline else "linear"
    steps = record.settings.steps if record.settings else ()
    source, mappings = source_op(job), mapping_op(job)
    checks = checks_op(job) if job.spec.check_names else None

    def sink_kwargs(finals: list[Any]) -> dict[str, Any]:
        kwargs = {f"in_{i}": out for i, out in enumerate(finals)}
        if checks is not None:
            kwargs["checks_blocked"] = checks()
        return kwargs

    if pipeline_type == "parallel":
        size = record.settings.batch_size if record.settings else DEFAULT_BATCH_SIZE
        split, collect = split_op(job, size), collect_op(job)
        mapped_steps = [step_op(job, s) for s in steps]
        sink = sink_op(job, 1, checks is not None)

        def parallel() -> None:
            parts = split(batch=mappings(batch=source()))
            for op in mapped_steps:
                parts = parts.map(lambda batch, op=op: op(in_0=batch))
            sink(**sink_kwargs([collect(batches=parts.collect())]))

        return parallel

    if pipeline_type == "hybrid":
        ops = {s.name: step_op(job, s, max(1, len(s.depends_on))) for s in steps}
        finals = terminal_steps(steps)
        sink = sink_op(job, max(1, len(finals)), checks is not None)

        def hybrid() -> None:
            mapped = mappings(batch=source())
            outputs: dict[str, Any] = {}
            for s in steps:  # already topologically ordered
                inputs = [outputs[d] for d in s.depends_on] or [mapped]
                outputs[s.name] = ops[s.name](**{f"in_{i}": x for i, x in enumerate(inputs)})
            sink(**sink_kwargs([outputs[s.name] for s in finals] or [mapped]))

        return hybrid

    ordered_ops = [step_op(job, s) for s in steps]
    sink = sink_op(job, 1, checks is not None)

    def linear() -> None:
        batch = mappings(batch=source())
        for op in ordered_ops:
            batch = op(in_0=batch)
        sink(**sink_kwargs([batch]))

    return linear
