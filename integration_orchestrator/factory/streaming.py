"""How an op streams: its output file under the run's batch storage, one batch at a time,
its failures handled per batch, its counts for the step statistics (ARCHITECTURE.md §10.2)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from upath import UPath

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.columnar.store import BatchWriter
from integration_orchestrator.factory.failures import (
    masked_failures,
)
from integration_orchestrator.factory.integration_job import IntegrationJob, handle_failures
from integration_orchestrator.factory.runtime import (
    BatchStream,
    StepStat,
)
from integration_orchestrator.masking import (
    Masker,
)
from integration_orchestrator.model import (
    FailedRecord,
    slugify,
)

__all__ = ["BATCH_DIRECTORY", "Counts", "masked_batch", "open_writer", "run_batches", "run_storage", "source_masker"]

#: under the instance's storage directory, unless the spec's ``batch_storage`` says where
BATCH_DIRECTORY = "integration_batches"


def run_storage(context: Any, job: IntegrationJob) -> UPath:
    """Where this run's ops write their output batches: ``<base>/<run_id>``."""
    base = job.spec.batch_storage or str(Path(context.instance.storage_directory()) / BATCH_DIRECTORY)
    storage: UPath = UPath(base) / context.run_id
    return storage


def open_writer(context: Any, job: IntegrationJob) -> BatchWriter:
    """Where this op (this mapped instance) writes its output batches: ``<base>/<run_id>/<node>``."""
    mapping_key = context.get_mapping_key()
    node = context.op_handle.name + (f"[{mapping_key}]" if mapping_key else "")  # the node in its pipeline graph
    return BatchWriter(run_storage(context, job) / slugify(node, "op"), "out")


@contextmanager
def masked_batch(masker: Masker, batch: pa.RecordBatch) -> Iterator[None]:
    """:func:`masked_failures` for one batch (its records are only made when an error needs them)."""
    try:
        yield
    except Exception:
        with masked_failures(masker, *batch_to_records(batch)):
            raise


@dataclass
class Counts:
    records_in: int = 0
    records_out: int = 0
    failed: int = 0
    started: float = field(default_factory=time.perf_counter)

    def stat(self, step: str) -> StepStat:
        return StepStat(step, self.records_in, self.records_out, self.failed, time.perf_counter() - self.started)


def run_batches(
    context: Any, job: IntegrationJob, step: str, stream: BatchStream,
    work: Callable[[pa.RecordBatch, int], tuple[pa.RecordBatch, list[FailedRecord]]],
) -> BatchStream:
    """``work`` over every batch of ``stream`` (one at a time), its failures handled, its output written."""
    counts = Counts()
    with open_writer(context, job) as writer:
        for batch in stream.batches():
            with masked_batch(job.masker, batch):
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


def source_masker(masker: Masker, unreadable: list[FailedRecord]) -> Masker:
    """An unreadable line's ``text`` has no fields to mask: it is sealed (or masked) whole
    when it may hold a secret or a masked field's value."""
    texts = [str(f.record.get("text", "")) for f in unreadable if isinstance(f.record, dict)]
    return masker.with_fields("text") if any(masker.may_hold_masked(t) for t in texts) else masker
