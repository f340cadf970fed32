"""What flows between the ops of an integration job, and the pure per-step logic.

A :class:`Batch` carries the records and the statistics of every step so far, so the
sink can put records in/out/dropped/failed and the duration of each step on the
materialization. Nothing here touches Dagster or the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import jmespath

from integration_orchestrator.factory.engines import BatchOutcome
from integration_orchestrator.factory.handover import pack_records, unpack_records
from integration_orchestrator.model import FailedRecord
from integration_orchestrator.model.rows import Record
from integration_orchestrator.transforms.contracts import truthy
from integration_orchestrator.transforms.jmespath_inline import compile_inline

__all__ = [
    "Batch",
    "StepStat",
    "apply_step",
    "merge_batches",
    "split_batch",
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
class Batch:
    """Records between two ops; ``index`` orders the batches of a parallel pipeline."""

    records: list[Record]
    stats: tuple[StepStat, ...] = ()
    index: int = 0

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.stats)

    def with_step(self, records: list[Record], stat: StepStat) -> Batch:
        return replace(self, records=records, stats=(*self.stats, stat))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with the records as one compact payload (see :mod:`.handover`)."""
        return _restore_batch, (pack_records(self.records), self.stats, self.index)


def _restore_batch(payload: tuple[str, bytes], stats: tuple[StepStat, ...], index: int) -> Batch:
    return Batch(records=unpack_records(payload), stats=stats, index=index)


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


def split_batch(batch: Batch, size: int) -> list[Batch]:
    """Cut a batch into batches of ``size`` records (at least one, possibly empty).

    Only the first carries the upstream statistics, so summing the batches' statistics
    step by step (:func:`merge_batches`) counts every record once."""
    chunks = [batch.records[start : start + size] for start in range(0, len(batch.records), size)] or [[]]
    return [Batch(records=chunk, stats=batch.stats if n == 0 else (), index=n) for n, chunk in enumerate(chunks)]


def merge_batches(batches: Sequence[Batch]) -> Batch:
    """Concatenate batches in ``index`` order.

    Parallel batches (distinct indexes) have their statistics summed step by step; the
    inputs of a hybrid join (same index, shared ancestry) keep each step's statistics once.
    """
    ordered = sorted(batches, key=lambda b: b.index)
    parallel = len({b.index for b in ordered}) == len(ordered)
    stats: dict[str, StepStat] = {}
    for b in ordered:
        for stat in b.stats:
            if stat.step not in stats:
                stats[stat.step] = stat
            elif parallel:
                stats[stat.step] = stats[stat.step].plus(stat)
    records = [r for b in ordered for r in b.records]
    return Batch(records=records, stats=tuple(stats.values()), index=ordered[0].index if len(ordered) == 1 else 0)
