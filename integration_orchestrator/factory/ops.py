"""The ops of the integration jobs: source, mappings, steps, split/collect, checks, sink.

The op *definitions* are shared by every integration job (built once per process and
shape, then aliased per node), which keeps a code location with thousands of
integrations cheap to build. What a node does comes from its job's
:class:`IntegrationJob` — the validated record, the translated spec and the engines —
given to the job as the ``integration_job`` resource, and from the node's name
(``step_<slug>``). A run worker that rebuilt the Definitions from the snapshot therefore
has everything without querying the integration tables. Compiled plans and
transformations are cached per process.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from typing import Any

import dagster as dg
import pyarrow as pa

from integration_orchestrator.columnar.store import remove_tree
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.factory.checks import evaluate_mapping_checks
from integration_orchestrator.factory.dataplane import (
    compile_mappings,
    compile_step,
    concat_batches,
    map_batch,
    rebatch,
    source_chunks,
    step_batch,
    stepwise,
    write_batches,
)
from integration_orchestrator.factory.failure_marks import marks_failure
from integration_orchestrator.factory.failures import (
    IntegrationRunFailure,
    masked_failures,
)
from integration_orchestrator.factory.incremental import run_incremental
from integration_orchestrator.factory.integration_job import (
    INTEGRATION_RESOURCE_KEY,
    IntegrationJob,
    db_of,
    handle_failures,
    job_of,
)
from integration_orchestrator.factory.metadata import preview_markdown, steps_markdown
from integration_orchestrator.factory.resources import (
    DATABASE_RESOURCE_KEY,
)
from integration_orchestrator.factory.runtime import (
    BatchStream,
    StepStat,
    merge_streams,
    split_stream,
)
from integration_orchestrator.factory.streaming import (
    BATCH_DIRECTORY,
    Counts,
    open_writer,
    run_batches,
    run_storage,
    source_masker,
)
from integration_orchestrator.factory.writeback import (
    finish_execution,
)
from integration_orchestrator.model import (
    FailedRecord,
    slugify,
)

__all__ = [
    "BATCH_DIRECTORY",
    "INTEGRATION_RESOURCE_KEY",
    "IntegrationJob",
    "checks_op",
    "collect_op",
    "handle_failures",
    "mapping_op",
    "sink_op",
    "source_op",
    "split_op",
    "step_op",
]

_KEYS = {DATABASE_RESOURCE_KEY, INTEGRATION_RESOURCE_KEY}


def _name(base: str, pool: str | None) -> str:
    """Op definition names are unique per repository: a pool gets its own definitions."""
    return base if pool is None else f"{base}__pool_{slugify(pool, 'pool')}"


def _ins(inputs: int) -> dict[str, dg.In]:
    return {f"in_{i}": dg.In(BatchStream) for i in range(inputs)}


@functools.cache
def source_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_source", pool), required_resource_keys=_KEYS, pool=pool, out=dg.Out(BatchStream))
    @marks_failure
    def _source(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = job_of(context)
        counts = Counts()
        url = db_of(context).url()
        with open_writer(context, job) as writer, masked_failures(job.masker):
            incremental = run_incremental(context, job.record, job.engines, url)
            for batch, unreadable in source_chunks(job.engines, job.record, url, job.batch_size, incremental):
                handle_failures(context, job, "source", unreadable, source_masker(job.masker, unreadable))
                counts.records_in += batch.num_rows + len(unreadable)
                counts.records_out += batch.num_rows
                counts.failed += len(unreadable)
                if batch.num_rows:
                    writer.write(batch)
            parts = writer.close()
        stat = counts.stat("source")
        context.log.info(f"source: read {stat.records_out} record(s) in {stat.seconds:.3f}s")
        if incremental is None:
            return BatchStream(parts=parts, stats=(stat,), origin_run_id=context.run_id)
        context.log.info(f"source: incremental from {incremental.state} (window {incremental.window}), fetched "
                         f"{incremental.fetched}; the sink commits {incremental.new_state} with the rows")
        return BatchStream(parts=parts, stats=(stat,), origin_run_id=context.run_id, state=incremental.new_state)

    return _source


@functools.cache
def mapping_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_mappings", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(1),
           out=dg.Out(BatchStream))
    @marks_failure
    def _mappings(context, in_0):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job, stream = job_of(context), in_0
        if not job.record.mappings:
            return stream.with_step(stream.parts, StepStat("mappings", stream.rows, stream.rows, 0, 0.0))
        plan = job.compiled("plan", lambda: compile_mappings(job.engines, job.record))
        return run_batches(context, job, "mappings", stream,
                            lambda batch, offset: map_batch(job.engines, plan, batch, offset))

    return _mappings


@functools.cache
def step_op(inputs: int = 1, pool: str | None = None) -> dg.OpDefinition:
    """A pipeline step (node ``step_<slug>``); ``inputs`` > 1 for a hybrid join."""

    @dg.op(name=_name(f"integration_step_{inputs}", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(inputs),
           out=dg.Out(BatchStream))
    @marks_failure
    def _step(context, **streams):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = job_of(context)
        step = job.step(context.op.name)
        stream = merge_streams([streams[k] for k in sorted(streams)])
        compiled = job.compiled(f"step:{step.name}", lambda: compile_step(job.engines, step))

        def work(batch: pa.RecordBatch, offset: int) -> tuple[pa.RecordBatch, list[FailedRecord]]:
            return step_batch(compiled, batch, offset)

        if not stepwise(step):  # needs every record at once
            whole = concat_batches(stream.batches())
            with open_writer(context, job) as writer:
                if whole.num_rows:
                    writer.write(whole)
                stream = replace(stream, parts=writer.close())
        out = run_batches(context, job, step.name, stream, work)
        return replace(out, index=stream.index)

    return _step


@functools.cache
def split_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_split", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(1),
           out=dg.DynamicOut(BatchStream))
    @marks_failure
    def _split(context, in_0):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = job_of(context)
        size = job.batch_size
        with open_writer(context, job) as writer:  # re-cut into batches of ``size`` records
            for batch in rebatch(in_0.batches(), size):
                writer.write(batch)
            recut = replace(in_0, parts=writer.close())
        parts = split_stream(recut, size)
        context.log.info(f"split {in_0.rows} record(s) into {len(parts)} batch(es) of ≤{size}")
        for part in parts:
            yield dg.DynamicOutput(part, mapping_key=f"batch_{part.index:06d}")

    return _split


@functools.cache
def collect_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(
        name=_name("integration_collect", pool),
        required_resource_keys=_KEYS,
        pool=pool,
        ins={"batches": dg.In(list)},
        out=dg.Out(BatchStream),
    )
    @marks_failure
    def _collect(context, batches):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        return merge_streams(batches)

    return _collect


@functools.cache
def checks_op(pool: str | None = None) -> dg.OpDefinition:
    """Mapping tests → asset check evaluations; outputs whether a blocking check failed."""

    @dg.op(name=_name("integration_checks", pool), required_resource_keys=_KEYS, pool=pool, out=dg.Out(bool))
    @marks_failure
    def _checks(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job, blocked = job_of(context), False
        for evaluation, blocking in evaluate_mapping_checks(job.record, job.spec, db_of(context)):
            blocked = blocked or (blocking and not evaluation.passed)
            yield evaluation
        yield dg.Output(blocked)

    return _checks


@functools.cache
def sink_op(inputs: int = 1, with_checks: bool = False, pool: str | None = None) -> dg.OpDefinition:
    ins = _ins(inputs)
    if with_checks:
        ins["checks_blocked"] = dg.In(bool)

    @dg.op(
        name=_name(f"integration_sink_{inputs}{'_checked' if with_checks else ''}", pool),
        required_resource_keys=_KEYS,
        pool=pool,
        ins=ins,
        out=dg.Out(dg.Nothing, description="the integration's asset (its materialization carries the run's counts)"),
    )
    @marks_failure
    def _sink(context, **inputs_):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = job_of(context)
        if inputs_.pop("checks_blocked", False):
            raise IntegrationRunFailure(
                "A blocking mapping check failed (a required mapping's tests): nothing was written to the target",
                metadata={"integration": job.record.config.integration_name},
            )
        yield from _write(context, job, merge_streams([inputs_[k] for k in sorted(inputs_)]))

    return _sink


def _finish_succeeded(conn: Any, context: Any, job: IntegrationJob, stats: tuple[StepStat, ...]) -> None:
    finish_execution(
        conn, run_id=context.run_id, organization_id=job.record.config.organization_id, status="succeeded",
        records_in=stats[0].records_in, records_out=stats[-1].records_out, records_failed=sum(s.failed for s in stats),
        metadata={"steps": [s.__dict__ | {"dropped": s.dropped} for s in stats]}, promote=True,
    )


def _write(context: Any, job: IntegrationJob, batch: BatchStream) -> Any:
    db = db_of(context)
    pipeline = job.record.pipeline
    started = time.perf_counter()

    def sink_stats(written: int) -> tuple[StepStat, ...]:
        return (*batch.stats, StepStat("sink", batch.rows, written, 0, time.perf_counter() - started))

    load = LoadContext(  # the target's ledger row; on the platform database the row below commits with the load
        run_id=context.run_id, config_id=str(job.record.config.id),
        pipeline_id=str(pipeline.id) if pipeline else None, job_name=job.name, state=batch.state,
        origin_run_id=batch.origin_run_id, organization_id=str(job.record.config.organization_id),
        on_platform_commit=lambda conn, result: _finish_succeeded(conn, context, job, sink_stats(result.rows_written)),
    )
    with masked_failures(job.masker, *batch.head(5)):
        written = write_batches(job.engines, job.record, db.url(), batch, load)
    stats = sink_stats(written)
    seconds = stats[-1].seconds
    records_in = stats[0].records_in
    failed = sum(s.failed for s in stats)
    dropped = sum(s.dropped for s in stats)
    context.log.info(f"sink: wrote {written} record(s) in {seconds:.3f}s")
    summary = f"{job.name}: {records_in} in, {written} written, {dropped} dropped, {failed} failed"
    materialization = dg.Output(  # the sink's output is the integration's asset (see factory.assets)
        None,
        metadata={
            "summary": summary,
            "records_in": records_in,
            "records_out": written,
            "records_dropped": dropped,
            "records_failed": failed,
            "dagster/row_count": written,
            "steps": dg.MetadataValue.md(steps_markdown(stats)),
            "preview": dg.MetadataValue.md(preview_markdown(batch.head(5), job.masker)),
            "config_version": job.record.config.version,
            "pipeline_version": int(pipeline.row.get("version") or 1) if pipeline else 0,
            "job": job.name,
        },
    )
    with db.connection() as conn:  # a no-op when the load's transaction already finished it
        _finish_succeeded(conn, context, job, stats)
    remove_tree(run_storage(context, job))  # written: a failed run keeps its batches for re-execution
    yield materialization
