"""Record batches: the unit of data between the ops (ARCHITECTURE.md §10).

A batch is a ``pyarrow.RecordBatch`` whose rows are records and whose columns are their
top-level fields; a field absent from a record reads as null. Values keep their exact
types through :mod:`.convert` (``Decimal`` as text with its scale, mixed-type fields as
exact JSON), and batches are handed from op to op as Arrow IPC files (:mod:`.store`).
Nothing here imports Dagster.
"""

from __future__ import annotations

from integration_orchestrator.columnar.convert import (
    LOGICAL_KEY,
    batch_to_records,
    logical_types,
    records_to_batch,
    with_logical_types,
)

__all__ = ["LOGICAL_KEY", "batch_to_records", "logical_types", "records_to_batch", "with_logical_types"]
