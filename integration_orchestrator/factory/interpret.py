"""One pipeline interpreter for ``pipeline preview`` and ``dead-letters replay``.

It walks the integration's nodes the way its job's graph does (§6.5): mappings, then the
steps in order; for a hybrid pipeline each step reads the concatenated outputs of the
steps it depends on (or the mapped records) and the result is the outputs of the steps
nothing depends on. Each node runs :func:`~.dataplane.map_batch` / :func:`~.dataplane.step_batch`,
the functions the job's ops run, so a preview or a replay gives what a run would.
Replay starts at the step a letter failed in and runs only that step and what depends
on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.errors import IntegrationOrchestratorError
from integration_orchestrator.factory.dataplane import (
    CompiledMappings,
    compile_mappings,
    compile_step,
    concat_batches,
    map_batch,
    step_batch,
)
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.pipelines import terminal_steps
from integration_orchestrator.model import FailedRecord, Integration, StepRecord
from integration_orchestrator.model.rows import Record

__all__ = ["Interpreter", "NodeRun", "downstream_steps"]


@dataclass(frozen=True)
class NodeRun:
    """What one node did: its input count, its output batch and its failed records."""

    name: str
    records_in: int
    output: pa.RecordBatch
    failures: list[FailedRecord]

    @property
    def records(self) -> list[Record]:
        return batch_to_records(self.output)


def downstream_steps(steps: tuple[StepRecord, ...], start: str, hybrid: bool) -> list[StepRecord]:
    """``start`` and the steps after it: every later step in order, or (hybrid) its descendants."""
    names = [s.name for s in steps]
    if start not in names:
        raise LookupError(f"step `{start}` is no longer in the pipeline")
    if not hybrid:
        return list(steps[names.index(start):])
    reached = {start}
    for step in steps:  # topologically ordered
        if any(d in reached for d in step.depends_on):
            reached.add(step.name)
    return [s for s in steps if s.name in reached]


class Interpreter:
    """An integration's nodes compiled once, run over records as often as needed."""

    def __init__(self, integration: Integration, engines: Engines, *, start: str | None = None) -> None:
        self.integration = integration
        self.engines = engines
        self.start = None if start in (None, "source", "mappings") else start
        steps = integration.settings.steps if integration.settings else ()
        pipeline = integration.pipeline
        self.hybrid = pipeline is not None and pipeline.pipeline_type == "hybrid"
        self.plan: CompiledMappings | None = None
        if self.start is None and integration.mappings:
            self.plan = compile_mappings(engines, integration)
        self.steps = list(steps) if self.start is None else downstream_steps(steps, self.start, self.hybrid)
        self.terminal = {s.name for s in terminal_steps(steps)}
        ops = [s for s in self.steps if s.op is not None]
        if ops:  # a data team's op needs its Dagster context and resources: only a run has them
            raise IntegrationOrchestratorError(
                f"step `{ops[0].name}` runs op `{ops[0].op}`, which only a run of the job executes "
                "(preview and replay run transformation steps only)")
        self.compiled = {s.name: compile_step(engines, s) for s in self.steps}

    def run(self, records: list[Record]) -> tuple[list[Record], list[NodeRun]]:
        """The final records and every node's run."""
        batch = records_to_batch(records)
        runs: list[NodeRun] = []
        if self.plan is not None:
            out, failures = map_batch(self.engines, self.plan, batch, 0)
            runs.append(NodeRun("mappings", batch.num_rows, out, failures))
            batch = out
        outputs: dict[str, pa.RecordBatch] = {}
        current = batch
        for step in self.steps:
            if self.hybrid:
                deps = [outputs[d] for d in step.depends_on if d in outputs]
                current = concat_batches(deps) if deps and step.name != self.start else batch
            out, failures = step_batch(self.compiled[step.name], current, 0)
            runs.append(NodeRun(step.name, current.num_rows, out, failures))
            outputs[step.name] = current = out
        if self.hybrid and self.steps:
            current = concat_batches(outputs[s.name] for s in self.steps if s.name in self.terminal)
        return batch_to_records(current), runs
