"""What flows between the ops of an integration job, and the pure per-step logic.

A :class:`BatchStream` carries the op's batches (on storage) and the statistics of every step so far, so the
sink can put records in/out/dropped/failed and the duration of each step on the
materialization. Nothing here touches Dagster or the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jmespath
import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.columnar.store import BatchFile
from integration_orchestrator.factory.engines import BatchOutcome
from integration_orchestrator.model import FailedRecord
from integration_orchestrator.model.rows import Record
from integration_orchestrator.transforms.contracts import truthy
from integration_orchestrator.transforms.jmespath_inline import compile_inline

__all__ = [
    "BatchStream",
    "StepStat",
    "apply_step",
    "merge_streams",
    "split_stream",
    "timed",
]



@dataclass(frozen=True)
class StepStat:
    step: str
    records_in: int
    records_out: int
    failed: int
    seconds: float

    @property
    def dropped(self) -> int:
        return max(self.records_in - self.records_out - self.failed, 0)

    def plus(self, other: StepStat) -> StepStat:
        return StepStat(
            self.step, self.records_in + other.records_in, self.records_out + other.records_out,
            self.failed + other.failed, self.seconds + other.seconds,
        )


@dataclass(frozen=True)
class BatchStream:
    """An op's output: its batches on storage (:class:`~integration_orchestrator.columnar.store.BatchFile`
    parts, read lazily) and the statistics of every step so far; ``index`` orders the
    batches of a parallel pipeline. Small: this is all Dagster's I/O manager hands over."""

    parts: tuple[BatchFile, ...] = ()
    stats: tuple[StepStat, ...] = ()
    index: int = 0
    #: the run whose source op read these records: a re-execution that reuses the parent's
    #: outputs carries the parent's id, so the sink's load ledger sees the data already loaded
    origin_run_id: str | None = None
    #: the incremental state the source advanced to (JSON), committed by the sink with the rows
    state: Any = None

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.stats)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every batch, in order, one at a time."""
        for part in self.parts:
            yield from part

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        """Iterable again and again (a loader may read the batches twice)."""
        return self.batches()

    def head(self, limit: int) -> list[Record]:
        """The first ``limit`` records (for previews)."""
        out: list[Record] = []
        for batch in self.batches():
            out.extend(batch_to_records(batch.slice(0, limit - len(out))))
            if len(out) >= limit:
                break
        return out

    def with_step(self, parts: tuple[BatchFile, ...], stat: StepStat) -> BatchStream:
        return replace(self, parts=parts, stats=(*self.stats, stat))


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def apply_step(
    step: str,
    apply: Callable[[list[Record]], BatchOutcome],
    records: list[Record],
    when: str | None = None,
) -> tuple[list[Record], list[FailedRecord]]:
    """Apply a transformation to ``records``; with ``when`` only matching records go
    through it and the others pass through unchanged. One-to-one results (map, enrich,
    validate) keep their original positions; otherwise the transformed records come
    first, then the passed-through ones."""
    if when is None:
        outcome = apply(records)
        return list(outcome.records), [f.at(step) for f in outcome.errors]
    evaluate = compile_inline(when) or jmespath.compile(when).search
    chosen = [i for i, r in enumerate(records) if truthy(evaluate(r))]
    if not chosen:
        return list(records), []
    chosen_set = set(chosen)
    subset = [records[i] for i in chosen]
    outcome = apply(subset)
    failures = [f.at(step, chosen[f.index] if 0 <= f.index < len(chosen) else None) for f in outcome.errors]
    out = list(outcome.records)
    failed_positions = {f.index for f in failures}
    kept = [i for i in chosen if i not in failed_positions]
    if len(out) != len(kept):  # not one-to-one (filter dropped some, aggregate, custom)
        return out + [r for i, r in enumerate(records) if i not in chosen_set], failures
    replaced = dict(zip(kept, out, strict=True))
    merged = []
    for i, record in enumerate(records):
        if i in replaced:
            merged.append(replaced[i])
        elif i not in chosen_set:
            merged.append(record)
    return merged, failures


def split_stream(stream: BatchStream, size: int) -> list[BatchStream]:
    """Cut a stream into streams of whole batches of about ``size`` records (at least one, possibly empty).

    Only the first carries the upstream statistics, so summing the streams' statistics
    step by step (:func:`merge_streams`) counts every record once."""
    groups: list[list[BatchFile]] = [[]]
    rows = 0
    for part in stream.parts:
        for i, batch in enumerate(part):
            if rows >= size:
                groups.append([])
                rows = 0
            groups[-1].append(part.slice(i, i + 1, batch.num_rows))
            rows += batch.num_rows
    return [
        BatchStream(parts=tuple(group), stats=stream.stats if n == 0 else (), index=n,
                    origin_run_id=stream.origin_run_id, state=stream.state)
        for n, group in enumerate(groups)
    ]


def merge_streams(streams: Sequence[BatchStream]) -> BatchStream:
    """Concatenate streams in ``index`` order.

    Parallel streams (distinct indexes) have their statistics summed step by step; the
    inputs of a hybrid join (same index, shared ancestry) keep each step's statistics once.
    """
    ordered = sorted(streams, key=lambda b: b.index)
    parallel = len({b.index for b in ordered}) == len(ordered)
    stats: dict[str, StepStat] = {}
    for b in ordered:
        for stat in b.stats:
            if stat.step not in stats:
                stats[stat.step] = stat
            elif parallel:
                stats[stat.step] = stats[stat.step].plus(stat)
    parts = tuple(p for b in ordered for p in b.parts)
    origin = next((b.origin_run_id for b in ordered if b.origin_run_id), None)
    state = next((b.state for b in ordered if b.state is not None), None)
    return BatchStream(parts=parts, stats=tuple(stats.values()), index=ordered[0].index if len(ordered) == 1 else 0,
                       origin_run_id=origin, state=state)
