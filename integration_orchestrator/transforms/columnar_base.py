"""What every columnar step shares: the per-record fallback's shape, the step's result,
and moving per-record failures back to their input rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.model.failures import FailedRecord
from integration_orchestrator.model.rows import Record

__all__ = ["Fallback", "Outcome", "StepBatch", "moved_failures", "per_record"]


class Outcome(Protocol):
    """What the per-record ``apply`` returns (``TransformOutcome``)."""

    @property
    def records(self) -> list[Record]: ...

    @property
    def errors(self) -> Sequence[FailedRecord]: ...


Fallback = Callable[[list[Record]], Outcome]


@dataclass(frozen=True)
class StepBatch:
    """A step's output rows and the input rows that failed (``index`` = input row)."""

    batch: pa.RecordBatch
    failures: list[FailedRecord] = field(default_factory=list)


def moved_failures(errors: Sequence[FailedRecord], rows: np.ndarray) -> list[FailedRecord]:
    """Failures of a per-record run over ``rows``, indexed by input row."""
    moved = []
    for f in errors:
        index = int(rows[f.index])
        details = f.details
        if details.get("index") == f.index:
            details = {**details, "index": index}
        moved.append(replace(f, index=index, details=details))
    return moved


def per_record(batch: pa.RecordBatch, fallback: Fallback) -> StepBatch:
    """The whole batch through the per-record path."""
    outcome = fallback(batch_to_records(batch))
    return StepBatch(records_to_batch(outcome.records), list(outcome.errors))
