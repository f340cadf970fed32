"""Transformation engines: records/s on 100,000 records, the same map and filter in each language.

Each figure is the best of ``--repeat`` runs of ``CompiledTransformation.apply`` (the
production path: sandboxed, chunks of the tier's size, workers already started; or, marked
"inline", a JMESPath expression compiled in process by ``transforms.jmespath_inline``), next
to the engine's own program (``Engine.build``) run in this process without the sandbox, and
the ratio to plain Python doing the same in process (the limit), all measured in the same run.

    .venv/bin/python benchmarks/transforms_bench.py [--records 100000] [--repeat 3] [--tier standard]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

from integration_orchestrator.transforms import compile_transformation, shutdown_pool

MAP: dict[str, dict[str, Any]] = {
    "jmespath": {"expression": "{id: id, label: name, team: team}"},
    "jsonpath": {"fields": {"id": "$.id", "label": "$.name", "team": "$.team"}},
    "javascript": {"code": "function transform(r) { return {id: r.id, label: r.name, team: r.team}; }"},
    "python": {"code": "def transform(r):\n    return {'id': r['id'], 'label': r['name'], 'team': r['team']}"},
    "sql": {"query": "SELECT id, name AS label, team FROM records ORDER BY _row"},
}
FILTER: dict[str, dict[str, Any]] = {
    "jmespath": {"expression": "amount > `50`"},
    "jsonpath": {"path": "$[?@.amount > 50]"},
    "javascript": {"code": "function transform(r) { return r.amount > 50; }"},
    "python": {"code": "def transform(r):\n    return r['amount'] > 50"},
    "sql": {"query": "SELECT * FROM records WHERE amount > 50"},
}


def _records(n: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"user{i}", "amount": i % 100, "team": "abc"[i % 3], "tags": ["x"]} for i in range(n)]


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _baseline(kind: str, records: list[dict[str, Any]]) -> Callable[[], Any]:
    if kind == "map":
        return lambda: [{"id": r["id"], "label": r["name"], "team": r["team"]} for r in records]
    return lambda: [r for r in records if r["amount"] > 50]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tier", default="standard", choices=["lightweight", "standard", "heavy"])
    args = parser.parse_args()
    records = _records(args.records)
    print(f"{args.records:,} records, tier {args.tier}, best of {args.repeat}\n")
    print(
        f"| {'kind':6} | {'language':10} | {'apply rec/s':>15} | {'build() in process':>16} | {'vs plain Python':>15} |"
    )
    print(f"|{'-' * 8}|{'-' * 12}|{'-' * 17}:|{'-' * 18}:|{'-' * 17}:|")
    try:
        for kind, logics in (("map", MAP), ("filter", FILTER)):
            base_time, expected = _best(_baseline(kind, records), args.repeat)
            print(
                f"| {kind:6} | {'python (plain, in process)':10} | "
                f"{args.records / base_time:15,.0f} | {'':16} | {'1.0x':>15} |"
            )
            for language, logic in logics.items():
                row = {
                    "transformation_name": f"bench_{language}_{kind}",
                    "language": language,
                    "transformation_type": kind,
                    "transformation_logic": logic,
                    "timeout_seconds": 600,
                    "performance_tier": args.tier,
                }
                compiled = compile_transformation(row)
                compiled.apply(records[:10])  # start the workers
                elapsed, outcome = _best(functools.partial(compiled.apply, records), args.repeat)
                assert not outcome.errors and len(outcome.records) == len(expected), (language, kind)
                program = compiled.engine.build(logic, kind, timeout_seconds=600)
                raw_time, _ = _best(functools.partial(program, records), args.repeat)
                ratio = elapsed / base_time
                label = f"{language} (inline)" if compiled.inline else language
                print(
                    f"| {kind:6} | {label:10} | {args.records / elapsed:15,.0f} | "
                    f"{args.records / raw_time:16,.0f} | {ratio:14.1f}x |"
                )
    finally:
        shutdown_pool()


if __name__ == "__main__":
    main()
