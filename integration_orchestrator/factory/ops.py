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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import dagster as dg
import pyarrow as pa
from upath import UPath

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.columnar.store import BatchWriter, remove_tree
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
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.failures import (
    IntegrationRunFailure,
    masked_failures,
)
from integration_orchestrator.factory.metadata import preview_markdown, steps_markdown
from integration_orchestrator.factory.resources import (
    DATABASE_RESOURCE_KEY,
    IntegrationDatabase,
)
from integration_orchestrator.factory.runtime import (
    BatchStream,
    StepStat,
    merge_streams,
    split_stream,
)
from integration_orchestrator.factory.translator import IntegrationDefinitionSpec
from integration_orchestrator.factory.writeback import (
    ensure_execution,
    finish_execution,
    insert_dead_letters,
)
from integration_orchestrator.masking import (
    Masker,
    load_keyring_or_none,
    masker_for,
    protect_failures,
)
from integration_orchestrator.model import (
    DEFAULT_BATCH_SIZE,
    FailedRecord,
    Integration,
    StepRecord,
    slugify,
)
from integration_orchestrator.model.tags import TAG_SCHEDULE_ID

__all__ = [
    "INTEGRATION_RESOURCE_KEY",
    "IntegrationJob",
    "checks_op",
    "collect_op",
    "failure_hook",
    "handle_failures",
    "mapping_op",
    "sink_op",
    "source_op",
    "split_op",
    "step_op",
]

INTEGRATION_RESOURCE_KEY = "integration_job"
#: under the instance's storage directory, unless the spec's ``batch_storage`` says where
BATCH_DIRECTORY = "integration_batches"
_T = TypeVar("_T")
_KEYS = {DATABASE_RESOURCE_KEY, INTEGRATION_RESOURCE_KEY}


@dataclass
class IntegrationJob:
    """Everything the ops of one job need; ``cache`` holds compiled engines per process."""

    record: Integration
    spec: IntegrationDefinitionSpec
    engines: Engines
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.job_name

    def compiled(self, key: str, build: Callable[[], _T]) -> _T:
        if key not in self.cache:
            self.cache[key] = build()
        return cast(_T, self.cache[key])  # each key is only ever built by one kind of builder

    @property
    def batch_size(self) -> int:
        settings = self.record.settings
        return settings.batch_size if settings else DEFAULT_BATCH_SIZE

    @property
    def masker(self) -> Masker:
        """Masks secrets and the integration's sensitive fields (see integration_orchestrator.masking)."""
        return self.compiled("masker", lambda: masker_for(self.record))

    def step(self, node_name: str) -> StepRecord:
        steps = self.record.settings.steps if self.record.settings else ()
        for step in steps:
            if f"step_{step.op_suffix}" == node_name:
                return step
        raise KeyError(f"job {self.name} has no step node {node_name!r}")

    def execution(self, context: Any) -> str:
        """The run's ``integration_executions`` id (created on first use)."""
        from integration_orchestrator.history import run_config_versions

        config, pipeline = self.record.config, self.record.pipeline
        versions = run_config_versions(self.record, context.run.tags.get(TAG_SCHEDULE_ID))
        with _db(context).connection() as conn:
            return ensure_execution(
                conn, run_id=context.run_id, job_name=self.name, organization_id=config.organization_id,
                config_id=config.id, pipeline_id=pipeline.id if pipeline else None,
                schedule_id=context.run.tags.get(TAG_SCHEDULE_ID),
                config_versions=versions, tags=dict(context.run.tags),
            )


def _job(context: Any) -> IntegrationJob:
    job: IntegrationJob = getattr(context.resources, INTEGRATION_RESOURCE_KEY)
    return job


def _db(context: Any) -> IntegrationDatabase:
    db: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
    return db


def handle_failures(
    context: dg.OpExecutionContext, job: IntegrationJob, step: str, failures: list[FailedRecord],
    masker: Masker | None = None,
) -> None:
    """Apply the pipeline's error strategy to the records ``step`` could not process."""
    if not failures:
        return
    masker = masker or job.masker
    strategy = job.record.strategy
    first = failures[0]
    message = masker.text_for(first.message, first.record)
    summary = f"Step `{step}`: {len(failures)} record(s) failed; first (record {first.index}): {message}"
    if strategy in ("fail_fast", "retry"):
        raise IntegrationRunFailure(summary, metadata={"step": step, "failed": len(failures), "strategy": strategy})
    if strategy == "dead_letter":
        execution_id = job.execution(context)
        with _db(context).connection() as conn:
            insert_dead_letters(
                conn, organization_id=job.record.config.organization_id, execution_id=execution_id,
                config_id=job.record.config.id, pipeline_id=job.record.pipeline.id if job.record.pipeline else None,
                failures=protect_failures(failures, masker, load_keyring_or_none()),
            )
        context.log.warning(f"{summary} — sent to integration_dead_letters")
        return
    context.log.warning(f"{summary} — dropped (continue_on_error)")


def _name(base: str, pool: str | None) -> str:
    """Op definition names are unique per repository: a pool gets its own definitions."""
    return base if pool is None else f"{base}__pool_{slugify(pool, 'pool')}"


def _ins(inputs: int) -> dict[str, dg.In]:
    return {f"in_{i}": dg.In(BatchStream) for i in range(inputs)}


def _run_storage(context: Any, job: IntegrationJob) -> UPath:
    """Where this run's ops write their output batches: ``<base>/<run_id>``."""
    base = job.spec.batch_storage or str(Path(context.instance.storage_directory()) / BATCH_DIRECTORY)
    storage: UPath = UPath(base) / context.run_id
    return storage


def _writer(context: Any, job: IntegrationJob) -> BatchWriter:
    """Where this op (this mapped instance) writes its output batches: ``<base>/<run_id>/<node>``."""
    mapping_key = context.get_mapping_key()
    node = str(context.op_handle) + (f"[{mapping_key}]" if mapping_key else "")
    return BatchWriter(_run_storage(context, job) / slugify(node, "op"), "out")


@contextmanager
def _masked_batch(masker: Masker, batch: pa.RecordBatch) -> Iterator[None]:
    """:func:`masked_failures` for one batch (its records are only made when an error needs them)."""
    try:
        yield
    except Exception:
        with masked_failures(masker, *batch_to_records(batch)):
            raise


@dataclass
class _Counts:
    records_in: int = 0
    records_out: int = 0
    failed: int = 0
    started: float = field(default_factory=time.perf_counter)

    def stat(self, step: str) -> StepStat:
        return StepStat(step, self.records_in, self.records_out, self.failed, time.perf_counter() - self.started)


def _run_batches(
    context: Any, job: IntegrationJob, step: str, stream: BatchStream,
    work: Callable[[pa.RecordBatch, int], tuple[pa.RecordBatch, list[FailedRecord]]],
) -> BatchStream:
    """``work`` over every batch of ``stream`` (one at a time), its failures handled, its output written."""
    counts = _Counts()
    with _writer(context, job) as writer:
        for batch in stream.batches():
            with _masked_batch(job.masker, batch):
                out, failures = work(batch, counts.records_in)
            handle_failures(context, job, step, failures)
            counts.records_in += batch.num_rows
            counts.records_out += out.num_rows
            counts.failed += len(failures)
            if out.num_rows:
                writer.write(out)
        parts = writer.close()
    stat = counts.stat(step)
    context.log.info(f"{step}: {stat.records_in} in, {stat.records_out} out, {stat.failed} failed "
                     f"in {stat.seconds:.3f}s")
    return stream.with_step(parts, stat)


def _source_masker(masker: Masker, unreadable: list[FailedRecord]) -> Masker:
    """An unreadable line's ``text`` has no fields to mask: it is sealed (or masked) whole
    when it may hold a secret or a masked field's value."""
    texts = [str(f.record.get("text", "")) for f in unreadable if isinstance(f.record, dict)]
    return masker.with_fields("text") if any(masker.may_hold_masked(t) for t in texts) else masker


@functools.cache
def source_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_source", pool), required_resource_keys=_KEYS, pool=pool, out=dg.Out(BatchStream))
    def _source(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = _job(context)
        job.execution(context)
        counts = _Counts()
        with _writer(context, job) as writer, masked_failures(job.masker):
            for batch, unreadable in source_chunks(job.engines, job.record, _db(context).url(), job.batch_size):
                handle_failures(context, job, "source", unreadable, _source_masker(job.masker, unreadable))
                counts.records_in += batch.num_rows + len(unreadable)
                counts.records_out += batch.num_rows
                counts.failed += len(unreadable)
                if batch.num_rows:
                    writer.write(batch)
            parts = writer.close()
        stat = counts.stat("source")
        context.log.info(f"source: read {stat.records_out} record(s) in {stat.seconds:.3f}s")
        return BatchStream(parts=parts, stats=(stat,))

    return _source


@functools.cache
def mapping_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_mappings", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(1),
           out=dg.Out(BatchStream))
    def _mappings(context, in_0):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job, stream = _job(context), in_0
        if not job.record.mappings:
            return stream.with_step(stream.parts, StepStat("mappings", stream.rows, stream.rows, 0, 0.0))
        plan = job.compiled("plan", lambda: compile_mappings(job.engines, job.record))
        return _run_batches(context, job, "mappings", stream,
                            lambda batch, offset: map_batch(job.engines, plan, batch, offset))

    return _mappings


@functools.cache
def step_op(inputs: int = 1, pool: str | None = None) -> dg.OpDefinition:
    """A pipeline step (node ``step_<slug>``); ``inputs`` > 1 for a hybrid join."""

    @dg.op(name=_name(f"integration_step_{inputs}", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(inputs),
           out=dg.Out(BatchStream))
    def _step(context, **streams):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = _job(context)
        step = job.step(context.op.name)
        stream = merge_streams([streams[k] for k in sorted(streams)])
        compiled = job.compiled(f"step:{step.name}", lambda: compile_step(job.engines, step))

        def work(batch: pa.RecordBatch, offset: int) -> tuple[pa.RecordBatch, list[FailedRecord]]:
            return step_batch(compiled, batch, offset)

        if not stepwise(step):  # needs every record at once
            whole = concat_batches(stream.batches())
            with _writer(context, job) as writer:
                if whole.num_rows:
                    writer.write(whole)
                stream = replace(stream, parts=writer.close())
        out = _run_batches(context, job, step.name, stream, work)
        return BatchStream(parts=out.parts, stats=out.stats, index=stream.index)

    return _step


@functools.cache
def split_op(pool: str | None = None) -> dg.OpDefinition:
    @dg.op(name=_name("integration_split", pool), required_resource_keys=_KEYS, pool=pool, ins=_ins(1),
           out=dg.DynamicOut(BatchStream))
    def _split(context, in_0):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = _job(context)
        size = job.batch_size
        with _writer(context, job) as writer:  # re-cut into batches of ``size`` records
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
    def _collect(context, batches):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        return merge_streams(batches)

    return _collect


@functools.cache
def checks_op(pool: str | None = None) -> dg.OpDefinition:
    """Mapping tests → asset check evaluations; outputs whether a blocking check failed."""

    @dg.op(name=_name("integration_checks", pool), required_resource_keys=_KEYS, pool=pool, out=dg.Out(bool))
    def _checks(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job, blocked = _job(context), False
        for evaluation, blocking in evaluate_mapping_checks(job.record, job.spec, _db(context)):
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
    )
    def _sink(context, **inputs_):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = _job(context)
        if inputs_.pop("checks_blocked", False):
            raise IntegrationRunFailure(
                "A blocking mapping check failed (a required mapping's tests): nothing was written to the target",
                metadata={"integration": job.record.config.integration_name},
            )
        yield from _write(context, job, merge_streams([inputs_[k] for k in sorted(inputs_)]))

    return _sink


def _write(context: Any, job: IntegrationJob, batch: BatchStream) -> Any:
    db = _db(context)
    pipeline = job.record.pipeline
    started = time.perf_counter()
    with masked_failures(job.masker, *batch.head(5)):
        written = write_batches(job.engines, job.record, db.url(), batch)
    seconds = time.perf_counter() - started
    stats = (*batch.stats, StepStat("sink", batch.rows, written, 0, seconds))
    records_in = stats[0].records_in
    failed = sum(s.failed for s in stats)
    dropped = sum(s.dropped for s in stats)
    context.log.info(f"sink: wrote {written} record(s) in {seconds:.3f}s")
    yield dg.AssetMaterialization(
        asset_key=job.spec.asset_spec.key,
        description=f"{job.name}: {records_in} in, {written} written, {dropped} dropped, {failed} failed",
        metadata={
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
    with db.connection() as conn:
        finish_execution(
            conn, run_id=context.run_id, organization_id=job.record.config.organization_id, status="succeeded",
            records_in=records_in, records_out=written, records_failed=failed,
            metadata={"steps": [s.__dict__ | {"dropped": s.dropped} for s in stats]},
        )
    remove_tree(_run_storage(context, job))  # written: a failed run keeps its batches for re-execution
    yield dg.Output(None)


@functools.cache
def failure_hook() -> dg.HookDefinition:
    """Marks the run's execution ``failed`` with the op's error as soon as an op fails."""

    @dg.failure_hook(name="integration_execution_failed", required_resource_keys=_KEYS)
    def _failed(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = _job(context)
        error = context.op_exception
        message = job.masker.text(str(getattr(error, "description", None) or error or "op failed"))
        with _db(context).connection() as conn:
            ensure_execution(
                conn, run_id=context.run_id, job_name=job.name, organization_id=job.record.config.organization_id,
                config_id=job.record.config.id, pipeline_id=job.record.pipeline.id if job.record.pipeline else None,
            )
            finish_execution(
                conn, run_id=context.run_id, organization_id=job.record.config.organization_id,
                status="failed", error_message=f"{context.op.name}: {message}"[:4000],
            )

    return _failed
