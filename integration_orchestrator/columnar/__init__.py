"""Record batches: the unit of data between the ops (ARCHITECTURE.md §10).

A batch is a ``pyarrow.RecordBatch`` whose rows are records and whose columns are their
top-level fields; a field absent from a record reads as null. Values keep their exact
types through :mod:`.convert` (``Decimal`` as text with its scale, mixed-type fields as
exact JSON), and batches are handed from op to op as Arrow IPC files (:mod:`.store`).
Nothing here imports Dagster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integration_orchestrator.columnar.convert import (
        LOGICAL_KEY,
        batch_to_records,
        logical_types,
        records_to_batch,
        with_logical_types,
    )

__all__ = ["LOGICAL_KEY", "batch_to_records", "logical_types", "records_to_batch", "with_logical_types"]


def __getattr__(name: str) -> Any:
    """Import :mod:`.convert` (and pyarrow) on first use, so a sandbox worker that only needs
    :mod:`.exactjson` does not pay for pyarrow at every start (0.35 s, 38 MB)."""
    if name in __all__:
        return getattr(importlib.import_module("integration_orchestrator.columnar.convert"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
