"""Columnar vs per-record mapping on the pipeline benchmark's 8 mappings (issue 14 item 4).

    .venv/bin/python benchmarks/columnar_mapping_bench.py [--records 1000000] [--batch-size 1000000]

Writes ``pipeline_bench.write_records`` NDJSON, reads it with ``pyarrow.json.read_json``
(an explicit schema keeps every leaf a string, so dates stay strings), then maps every
batch of ``--batch-size`` rows twice and prints both times and the ratio:

- columnar: ``compile_columnar(MAPPINGS).apply(batch)`` (Polars, per-record only off the exact mask);
- per record: ``batch_to_records(batch)`` then ``compile_plan(MAPPINGS).apply_batch`` (today's path),
  timed with and without the conversion to records.

Outputs are checked identical on the first batch. Target: the 8 mappings well under 1 s for 1M rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

sys.path.insert(0, str(Path(__file__).parent))

from pipeline_bench_workload import MAPPINGS, write_records

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.mapping import compile_plan
from integration_orchestrator.mapping.columnar import compile_columnar

__all__ = ["SCHEMA", "main", "read_batches", "run"]

_S = pa.string()
SCHEMA = pa.schema([
    ("customer", pa.struct([("id", _S), ("name", pa.struct([("first", _S), ("last", _S)])), ("email", _S)])),
    ("order", pa.struct([("total", _S), ("placed", _S), ("country", _S), ("items", _S)])),
    ("status", _S), ("channel", _S), ("notes", _S),
])


def read_batches(path: Path, batch_size: int) -> list[pa.RecordBatch]:
    table = pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=SCHEMA))
    batches: list[pa.RecordBatch] = table.combine_chunks().to_batches(max_chunksize=batch_size)
    return batches


def run(n: int, batch_size: int, workdir: Path, repeat: int = 3) -> dict[str, float]:
    path = workdir / "records.ndjson"
    write_records(path, n)
    started = time.perf_counter()
    batches = read_batches(path, batch_size)
    read_seconds = time.perf_counter() - started
    columnar, plan = compile_columnar(MAPPINGS), compile_plan(MAPPINGS)
    first = columnar.apply(batches[0])
    expected = plan.apply_batch(batch_to_records(batches[0])).outputs
    assert batch_to_records(first.batch) == batch_to_records(records_to_batch(expected)), "outputs differ"
    best_columnar = min(_time(lambda: [columnar.apply(b) for b in batches]) for _ in range(repeat))
    fast = sum(columnar.apply(b).fast_rows for b in batches)
    convert = _time(lambda: [batch_to_records(b) for b in batches])
    records = [batch_to_records(b) for b in batches]
    per_record = _time(lambda: [plan.apply_batch(r) for r in records])
    figures = {"read": read_seconds, "columnar": best_columnar, "per_record": per_record,
               "per_record_with_conversion": per_record + convert, "fast_rows": fast}
    print(f"{n:,} records in {len(batches)} batch(es); read {read_seconds:.2f} s; {fast:,} rows mapped in Polars")
    print(f"columnar (8 mappings):   {best_columnar:.3f} s  ({n / best_columnar:,.0f} records/s)")
    print(f"per record (8 mappings): {per_record:.3f} s, {per_record + convert:.3f} s with batch_to_records")
    print(f"ratio: columnar is {per_record / best_columnar:.1f}x faster "
          f"({(per_record + convert) / best_columnar:.1f}x counting the conversion)")
    return figures


def _time(function: object) -> float:
    started = time.perf_counter()
    function()  # type: ignore[operator]
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        run(args.records, args.batch_size, Path(workdir), args.repeat)


if __name__ == "__main__":
    main()
