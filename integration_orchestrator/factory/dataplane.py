"""The per-batch work of the ops: read, map, transform and write record batches.

Each function takes one ``pyarrow.RecordBatch`` (or yields them) and the job's engines,
so the ops (:mod:`.ops`), ``pipeline preview`` and ``dead-letters replay`` run the same
code. Record-wise steps (map, filter, enrich, validate) run batch by batch; a step that
needs every record at once (aggregate, custom, sql) gets the whole stream as one batch.
Failure indexes are positions in the op's whole input stream (``offset`` + row).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.connectors.base import chunked
from integration_orchestrator.factory.runtime import apply_step
from integration_orchestrator.model import FailedRecord, StepRecord
from integration_orchestrator.model.rows import Record
from integration_orchestrator.transforms.columnar import apply_step_columnar

if TYPE_CHECKING:
    from integration_orchestrator.factory.engines import Engines
    from integration_orchestrator.model import Integration

__all__ = [
    "RECORDWISE_TYPES",
    "CompiledMappings",
    "CompiledStep",
    "compile_mappings",
    "compile_step",
    "concat_batches",
    "map_batch",
    "preload",
    "rebatch",
    "record_batches",
    "source_chunks",
    "step_batch",
    "stepwise",
    "write_batches",
]

#: transformation types whose result for a record depends on that record only
RECORDWISE_TYPES = frozenset({"map", "filter", "enrich", "validate"})


def preload() -> None:
    """Import the data plane's engines (Polars, pyarrow's readers, the columnar mapping and
    step compilers, the loader) now, at code-location load, so a run does not pay for the
    imports: run workers load the definitions before the run starts, and step processes fork
    from a server that has."""
    import importlib

    for module in (
        "pandas",  # pyarrow imports it on the first conversion from Python values
        "polars",
        "pyarrow.json",
        "integration_orchestrator.connectors.ndjson",
        "integration_orchestrator.connectors.postgres_load",
        "integration_orchestrator.mapping.columnar",
        "integration_orchestrator.transforms.columnar",
    ):
        importlib.import_module(module)


def record_batches(records: Iterable[Record], size: int) -> Iterator[pa.RecordBatch]:
    """``records`` as batches of ``size``."""
    return (records_to_batch(chunk) for chunk in chunked(records, size))


def rebatch(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """``batches`` re-cut into batches of ``size`` records (the last may be smaller)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for whole in batches:
        batch = whole
        while batch.num_rows:
            take = min(size - rows, batch.num_rows)
            pending.append(batch.slice(0, take))
            rows += take
            batch = batch.slice(take)
            if rows == size:
                yield _join(pending)
                pending, rows = [], 0
    if pending:
        yield _join(pending)


def _join(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    first = batches[0]
    if len(batches) == 1:
        return first
    if all(b.schema.equals(first.schema, check_metadata=True) for b in batches):
        return pa.concat_batches(batches)
    return concat_batches(batches)


def source_chunks(
    engines: Engines, integration: Integration, database_url: str, size: int, incremental: Any = None
) -> Iterator[tuple[pa.RecordBatch, list[FailedRecord]]]:
    """The source's batches, each with the source records that could not be read.

    ``incremental`` (``connectors.incremental.Incremental``) goes to a ``read_batches`` that
    takes it; the source sets its ``new_state`` as it reads."""
    from integration_orchestrator.connectors.base import accepts

    if engines.read_batches is not None:
        if incremental is not None and accepts(engines.read_batches, "incremental"):
            yield from engines.read_batches(integration, database_url, size,  # type: ignore[call-arg]
                                            incremental=incremental)
        else:
            yield from engines.read_batches(integration, database_url, size)
        return
    for batch in record_batches(engines.read_source(integration, database_url), size):
        yield batch, []


@dataclass(frozen=True)
class CompiledMappings:
    """The mapping plan, and its columnar form when the engines have one."""

    plan: Any
    columnar: Any = None


def compile_mappings(engines: Engines, integration: Integration) -> CompiledMappings:
    kwargs: dict[str, Any] = {
        "direction": "inbound", "timezone": integration.config.timezone,
        "transformations": integration.transformation_rows(),
    }
    rows = list(integration.mappings)
    if engines.compile_columnar_plan is not None:
        columnar = engines.compile_columnar_plan(rows, **kwargs)
        return CompiledMappings(columnar.plan, columnar)
    return CompiledMappings(engines.compile_plan(rows, **kwargs))


def map_batch(
    engines: Engines, mappings: CompiledMappings, batch: pa.RecordBatch, offset: int
) -> tuple[pa.RecordBatch, list[FailedRecord]]:
    """The mappings over one batch: columnar where they have the form, else per record."""
    if mappings.columnar is not None:
        mapped = mappings.columnar.apply(batch)
        out, failures = mapped.batch, mapped.failures
    else:
        records, failures = engines.apply_plan(mappings.plan, batch_to_records(batch))
        out = records_to_batch(records)
    return out, [f.at("mappings", offset + f.index) for f in failures]


@dataclass(frozen=True)
class CompiledStep:
    """A step's transformation, and its columnar form when it has one."""

    step: StepRecord
    transformation: Any
    columnar: Any = None


def compile_step(engines: Engines, step: StepRecord) -> CompiledStep:
    transformation = engines.compile_transformation(step.transformation)
    columnar = engines.compile_columnar_step(step.transformation) if engines.compile_columnar_step else None
    return CompiledStep(step, transformation, columnar)


def stepwise(step: StepRecord) -> bool:
    """True when ``step`` may run batch by batch."""
    transformation = step.transformation
    return (
        str(transformation.get("transformation_type")) in RECORDWISE_TYPES
        and str(transformation.get("language") or "") != "sql"
    )


def step_batch(compiled: CompiledStep, batch: pa.RecordBatch, offset: int) -> tuple[pa.RecordBatch, list[FailedRecord]]:
    """One step over one batch, with ``when`` routing: columnar rows where the step has the
    form (the others per record, see transforms/columnar.py), else every row per record."""
    step = compiled.step
    if compiled.columnar is not None:
        result = apply_step_columnar(step.name, compiled.columnar, batch, compiled.transformation.apply, step.when)
        return result.batch, [f.at(step.name, offset + f.index) for f in result.failures]
    records, failures = apply_step(step.name, compiled.transformation.apply, batch_to_records(batch), step.when)
    return records_to_batch(records), [f.at(step.name, offset + f.index) for f in failures]


def concat_batches(batches: Iterable[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of every record of ``batches`` (for steps that need them all at once)."""
    records: list[Record] = []
    for batch in batches:
        records.extend(batch_to_records(batch))
    return records_to_batch(records)


def write_batches(engines: Engines, integration: Integration, database_url: str,
                  batches: Iterable[pa.RecordBatch], load_context: Any = None) -> int:
    """Every batch into the target in one write (one transaction where the target has them).

    ``load_context`` (``connectors.postgres_ledger.LoadContext``) goes to an engine entry
    that takes it (the default does: a ``postgres_table`` target then keeps its ledger)."""
    from integration_orchestrator.connectors.base import accepts

    if engines.write_batches is not None:
        if load_context is not None and accepts(engines.write_batches, "load_context"):
            return int(engines.write_batches(integration, database_url, batches,  # type: ignore[call-arg]
                                             load_context=load_context))
        return engines.write_batches(integration, database_url, batches)
    return engines.write_target_stream(integration, database_url, (batch_to_records(b) for b in batches))
