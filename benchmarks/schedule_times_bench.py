"""How fast is cron_next_run (PL/pgSQL) compared with Dagster's own iterator?

Draws the same seeded (expression, timezone, instant) cases as the parity test, asks the
database for every next tick in one batched query (unnest over arrays), and times
Dagster's ``cron_string_iterator`` (the baseline, in-process Python) on the same cases in
the same run. Prints cases/second for both and the ratio, and checks they agree.

    .venv/bin/python benchmarks/schedule_times_bench.py [--cases 2000] [--database-url URL]

Without --database-url: $INTEGRATION_ORCHESTRATOR_DATABASE_URL, else the embedded server.
The database is migrated first (idempotent).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integration_orchestrator.db import connect, resolve_database_url, upgrade
from integration_orchestrator_tests.cron_cases import dagster_next, random_cases

_QUERY = (
    "SELECT cron_next_run(e, z, a) AS t"
    "  FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) WITH ORDINALITY u(e, z, a, o) ORDER BY o"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    url = resolve_database_url(args.database_url)
    upgrade(url)
    cases = random_cases(args.cases, args.seed)
    inputs = [c[:3] for c in cases]

    started = time.perf_counter()
    expected = [dagster_next(*case) for case in inputs]
    dagster_s = time.perf_counter() - started

    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT cron_next_run('0 0 * * *', 'UTC', now())")  # warm the zone cache
        started = time.perf_counter()
        rows = conn.execute(_QUERY, ([c[0] for c in inputs], [c[1] for c in inputs], [c[2] for c in inputs])).fetchall()
        sql_s = time.perf_counter() - started

    mismatches = sum(1 for want, row in zip(expected, rows, strict=True) if want != row["t"])
    print(f"cases                      {len(cases)}")
    print(f"dagster cron_string_iterator {dagster_s:8.3f} s  {len(cases) / dagster_s:9.0f} cases/s  (baseline)")
    print(f"sql cron_next_run (batched)  {sql_s:8.3f} s  {len(cases) / sql_s:9.0f} cases/s")
    print(f"ratio sql/dagster time       {sql_s / dagster_s:8.2f}")
    print(f"mismatches                   {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
