"""Batches on storage: IPC files written by one op and read back lazily by the next."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.columnar.store import BatchFile, BatchWriter


def test_batches_read_back_in_order_with_their_logical_types(tmp_path: Path) -> None:
    from decimal import Decimal

    batches = [records_to_batch([{"id": i, "total": Decimal(f"{i}.10")} for i in range(n, n + 3)]) for n in (0, 3)]
    with BatchWriter(tmp_path / "run" / "op", "out") as writer:
        for batch in batches:
            writer.write(batch)
        parts = writer.close()
    assert [(p.rows, p.batches) for p in parts] == [(6, 2)]
    back = [r for part in parts for b in part for r in batch_to_records(b)]
    assert back == [r for b in batches for r in batch_to_records(b)]
    assert back[1]["total"] == Decimal("1.10") and str(back[1]["total"]) == "1.10"


def test_a_batch_with_another_schema_starts_a_new_part(tmp_path: Path) -> None:
    writer = BatchWriter(tmp_path, "out")
    writer.write(records_to_batch([{"a": 1}]))
    writer.write(records_to_batch([{"a": "x"}]))
    parts = writer.close()
    assert [p.rows for p in parts] == [1, 1]
    assert [batch_to_records(b) for p in parts for b in p] == [[{"a": 1}], [{"a": "x"}]]


def test_a_slice_reads_only_its_batches(tmp_path: Path) -> None:
    with BatchWriter(tmp_path, "out") as writer:
        for n in range(5):
            writer.write(records_to_batch([{"n": n}]))
        (part,) = writer.close()
    middle = part.slice(1, 3, rows=2)
    assert [batch_to_records(b) for b in middle] == [[{"n": 1}], [{"n": 2}]]


def test_reading_is_lazy(tmp_path: Path) -> None:
    with BatchWriter(tmp_path, "out") as writer:
        for n in range(3):
            writer.write(records_to_batch([{"n": n}] * 10))
        (part,) = writer.close()
    batches = iter(part)
    first = next(batches)
    assert isinstance(first, pa.RecordBatch) and first.num_rows == 10


def test_an_empty_file_reads_as_nothing(tmp_path: Path) -> None:
    assert list(BatchFile(str(tmp_path / "missing.arrow"), rows=0, batches=0)) == []
