"""The per-batch work of the ops: read, map, transform and write record batches.

Each function takes one ``pyarrow.RecordBatch`` (or yields them) and the job's engines,
so the ops (:mod:`.ops`), ``pipeline preview`` and ``dead-letters replay`` run the same
code. Record-wise steps (map, filter, enrich, validate) run batch by batch; a step that
needs every record at once (aggregate, custom, sql) gets the whole stream as one batch.
Failure indexes are positions in the op's whole input stream (``offset`` + row).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.factory.runtime import apply_step
from integration_orchestrator.model import FailedRecord, StepRecord
from integration_orchestrator.model.rows import Record

if TYPE_CHECKING:
    from integration_orchestrator.factory.engines import Engines
    from integration_orchestrator.model import Integration

__all__ = [
    "RECORDWISE_TYPES",
    "concat_batches",
    "map_batch",
    "record_batches",
    "source_chunks",
    "step_batch",
    "stepwise",
    "write_batches",
]

#: transformation types whose result for a record depends on that record only
RECORDWISE_TYPES = frozenset({"map", "filter", "enrich", "validate"})


def record_batches(records: Iterable[Record], size: int) -> Iterator[pa.RecordBatch]:
    """``records`` as batches of ``size``."""
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield records_to_batch(chunk)
            chunk = []
    if chunk:
        yield records_to_batch(chunk)


def source_chunks(
    engines: Engines, integration: Integration, database_url: str, size: int
) -> Iterator[tuple[pa.RecordBatch, list[FailedRecord]]]:
    """The source's batches, each with the source records that could not be read."""
    if engines.read_batches is not None:
        yield from engines.read_batches(integration, database_url, size)
        return
    for batch in record_batches(engines.read_source(integration, database_url), size):
        yield batch, []


def map_batch(
    engines: Engines, plan: Any, batch: pa.RecordBatch, offset: int
) -> tuple[pa.RecordBatch, list[FailedRecord]]:
    """The mapping plan over one batch (``engines.map_batch`` when it has a columnar form)."""
    if engines.map_batch is not None:
        out, failures = engines.map_batch(plan, batch)
    else:
        records, failures = engines.apply_plan(plan, batch_to_records(batch))
        out = records_to_batch(records)
    return out, [f.at("mappings", offset + f.index) for f in failures]


def stepwise(step: StepRecord) -> bool:
    """True when ``step`` may run batch by batch."""
    transformation = step.transformation
    return (
        str(transformation.get("transformation_type")) in RECORDWISE_TYPES
        and str(transformation.get("language") or "") != "sql"
    )


def step_batch(
    engines: Engines, step: StepRecord, transformation: Any, batch: pa.RecordBatch, offset: int
) -> tuple[pa.RecordBatch, list[FailedRecord]]:
    """One step over one batch (columnar when ``engines.step_batch`` has a form for it)."""
    if engines.step_batch is not None:
        result = engines.step_batch(step, transformation, batch)
        if result is not None:
            out, failures = result
            return out, [f.at(step.name, offset + f.index) for f in failures]
    records, failures = apply_step(step.name, transformation.apply, batch_to_records(batch), step.when)
    return records_to_batch(records), [f.at(step.name, offset + f.index) for f in failures]


def concat_batches(batches: Iterable[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of every record of ``batches`` (for steps that need them all at once)."""
    records: list[Record] = []
    for batch in batches:
        records.extend(batch_to_records(batch))
    return records_to_batch(records)


def write_batches(engines: Engines, integration: Integration, database_url: str,
                  batches: Iterable[pa.RecordBatch]) -> int:
    """Every batch into the target in one write (one transaction where the target has them)."""
    if engines.write_batches is not None:
        return engines.write_batches(integration, database_url, batches)
    return engines.write_target_stream(integration, database_url, (batch_to_records(b) for b in batches))
