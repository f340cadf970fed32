"""Vectorized pipeline steps vs the per-record path (issue 14 item 5).

    .venv/bin/python benchmarks/columnar_steps_bench.py [--records 900000] [--repeat 3]

The 3 JMESPath steps of ``pipeline_bench.STEPS`` (filter, enrich, map) on one batch of
N rows shaped like the mapping output (customer_id int, full_name, email, country,
placed_on strings, total a Decimal column, items int, status). Columnar: the batch through
``transforms.columnar`` step by step. Per record: ``batch_to_records`` once, each step's
``CompiledTransformation.apply`` (the inline JMESPath engine), ``records_to_batch`` at the
end. Best of ``--repeat``; prints both, the ratio and whether the outputs are equal.
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal
from typing import Any

import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.transforms import compile_transformation
from integration_orchestrator.transforms.columnar import apply_step_columnar, compile_columnar_step

__all__ = ["main"]

STEPS = [
    ("filter", "status == 'active'"),
    ("enrich", "{tier: total > `250` && 'gold' || 'standard'}"),
    ("map", "merge(@, {label: join(' / ', [country, tier])})"),
]
COUNTRIES = ("Germany", "France", "Netherlands", "Spain", "Italy", "Poland")


def _rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(5)
    return [
        {
            "customer_id": i,
            "full_name": "Ada Lovelace",
            "email": f"ada.lovelace{i}@example.com",
            "country": rng.choice(COUNTRIES),
            "placed_on": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "total": Decimal(f"{rng.uniform(1, 500):.2f}"),
            "items": rng.randint(1, 20),
            "status": "cancelled" if rng.random() < 0.1 else "active",
        }
        for i in range(1, n + 1)
    ]


def _transformation(kind: str, expression: str) -> dict[str, Any]:
    return {"transformation_name": kind, "transformation_type": kind, "language": "jmespath",
            "transformation_logic": {"expression": expression}}


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=900_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    batch = records_to_batch(_rows(args.records))
    steps = []
    for kind, expression in STEPS:
        row = _transformation(kind, expression)
        compiled, columnar = compile_transformation(row), compile_columnar_step(row)
        assert columnar is not None
        steps.append((kind, compiled, columnar))

    def vectorized() -> pa.RecordBatch:
        current = batch
        for kind, compiled, columnar in steps:
            current = apply_step_columnar(kind, columnar, current, compiled.apply).batch
        return current

    def per_record() -> pa.RecordBatch:
        records = batch_to_records(batch)
        for _, compiled, _ in steps:
            records = compiled.apply(records).records
        return records_to_batch(records)

    fast, out_fast = _best(vectorized, args.repeat)
    slow, out_slow = _best(per_record, max(1, min(args.repeat, 2)))
    same = batch_to_records(out_fast) == batch_to_records(out_slow)
    print(f"{args.records} rows, 3 steps (filter, enrich, map); {out_fast.num_rows} rows out")
    print(f"columnar   {fast:8.3f} s")
    print(f"per record {slow:8.3f} s  (incl. batch ⇄ records conversion)")
    print(f"speed-up   {slow / fast:8.1f} ×   outputs equal: {same}")


if __name__ == "__main__":
    main()
