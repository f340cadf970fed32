"""postgres_table upsert throughput against plain COPY of the same rows (the baseline).

    .venv/bin/python benchmarks/postgres_load_bench.py [--records 1000000] [--batch-size 10000]

Starts an embedded PostgreSQL in a temporary directory, builds the records once (dicts,
as a source would yield them), then times, each on a fresh table of the same shape
(bigint primary key, text, numeric, int, timestamptz, jsonb):

  baseline  COPY ... FROM STDIN of the records (psycopg ``write_row``), one transaction
  upsert    the ``postgres_table`` target, mode upsert on ``id`` into an empty table
  re-upsert the same records again (every row an update) through the target
  replace   the target in mode replace
  append    the target in mode append
  file      the connector half of a pipeline: the records read back from an NDJSON file by
            the ``file`` source and streamed into the target (upsert into an empty table),
            plus the file read alone

and prints seconds, records/s and the ratio to the baseline (goal: upsert >= 0.5x).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integration_orchestrator.connectors import open_source, open_target
from integration_orchestrator.db import connect
from integration_orchestrator.db.embedded import start_embedded_server

COLUMNS = ["id", "customer", "amount", "quantity", "status", "updated_at", "attributes"]
DDL = """
CREATE TABLE {name} (
    id bigint PRIMARY KEY,
    customer text NOT NULL,
    amount numeric(12, 2),
    quantity integer,
    status text,
    updated_at timestamptz,
    attributes jsonb
)
"""


def make_records(count: int) -> list[dict[str, Any]]:
    statuses = ["new", "paid", "shipped", "cancelled"]
    return [
        {
            "id": i,
            "customer": f"customer {i % 5000}",
            "amount": f"{(i % 100000) / 100:.2f}",
            "quantity": i % 17,
            "status": statuses[i % 4],
            "updated_at": f"2026-01-{1 + i % 28:02d}T12:00:00+00:00",
            "attributes": {"channel": "web" if i % 2 else "store", "priority": i % 3},
        }
        for i in range(1, count + 1)
    ]


def baseline_copy(url: str, records: list[dict[str, Any]]) -> None:
    import orjson

    with connect(url) as conn, conn.transaction():
        columns = ", ".join(COLUMNS)
        with conn.cursor().copy(f"COPY baseline ({columns}) FROM STDIN") as copy:
            for r in records:
                copy.write_row(
                    (
                        r["id"],
                        r["customer"],
                        r["amount"],
                        r["quantity"],
                        r["status"],
                        r["updated_at"],
                        orjson.dumps(r["attributes"]).decode(),
                    )
                )


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="repeat baseline and upserts; the best of each counts")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="io-load-bench-") as home:
        server = start_embedded_server(Path(home))
        try:
            run(server.url("postgres"), args, Path(home))
        finally:
            server.stop()


def run(url: str, args: argparse.Namespace, home: Path) -> None:
    with connect(url, autocommit=True) as conn:
        for name in ("baseline", "target"):
            conn.execute(DDL.format(name=name))
    print(f"building {args.records:,} records ...", flush=True)
    records = make_records(args.records)

    def target(mode: str) -> Any:
        config = {
            "type": "postgres_table",
            "url": url,
            "table": "target",
            "mode": mode,
            "key": ["id"],
            "batch_size": args.batch_size,
        }
        return open_target(config, lambda name: "").write(records)  # noqa: F821 - `del records` comes later

    def truncate(table: str) -> None:
        with connect(url, autocommit=True) as conn:
            conn.execute(f"TRUNCATE {table}")
            conn.execute(f"VACUUM ANALYZE {table}")

    def checkpoint() -> None:
        # every timed load starts from the same state: no pending WAL/checkpoint work
        with connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")

    def measure(action: Callable[[], Any]) -> tuple[float, Any]:
        checkpoint()
        return timed(action)

    # Rounds interleave the baseline and the target so that load from other processes
    # on the machine hits both alike; the best time of each is reported.
    times: dict[str, list[float]] = {"baseline": [], "upsert": [], "reupsert": []}
    notes: dict[str, str] = {}
    for round_number in range(1, args.rounds + 1):
        truncate("baseline")
        truncate("target")
        baseline_first = round_number % 2 == 1  # alternate the order between rounds
        if baseline_first:
            times["baseline"].append(measure(lambda: baseline_copy(url, records))[0])  # noqa: F821 - as above
        seconds, written = measure(lambda: target("upsert"))
        times["upsert"].append(seconds)
        if not baseline_first:
            times["baseline"].append(measure(lambda: baseline_copy(url, records))[0])  # noqa: F821 - as above
        notes["upsert"] = f"inserted {written.inserted:,}, updated {written.updated:,}"
        seconds, written = measure(lambda: target("upsert"))
        times["reupsert"].append(seconds)
        notes["reupsert"] = f"inserted {written.inserted:,}, updated {written.updated:,}"
        print(f"round {round_number}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    seconds, written = measure(lambda: target("replace"))
    times["replace"] = [seconds]
    notes["replace"] = f"rows {written.rows_written:,}"
    truncate("target")
    seconds, written = measure(lambda: target("append"))
    times["append"] = [seconds]
    notes["append"] = f"rows {written.rows_written:,}"

    with connect(url) as conn:
        count = conn.execute("SELECT count(*) AS n FROM target").fetchone()["n"]
    assert count == args.records, count

    path = home / "records.ndjson"
    open_target({"type": "file", "path": str(path)}, lambda name: "").write(records)
    del records
    source_config = {"type": "file", "path": str(path), "batch_size": args.batch_size}
    seconds, read = measure(lambda: sum(len(b) for b in open_source(source_config, lambda name: "").read()))
    assert read == args.records
    times["file_read"] = [seconds]
    truncate("target")

    def file_to_target() -> Any:
        config = {
            "type": "postgres_table",
            "url": url,
            "table": "target",
            "mode": "upsert",
            "key": ["id"],
            "batch_size": args.batch_size,
        }
        return open_target(config, lambda name: "").write(open_source(source_config, lambda name: "").read())

    seconds, written = measure(file_to_target)
    times["file_upsert"] = [seconds]
    notes["file_upsert"] = f"inserted {written.inserted:,}, updated {written.updated:,}"

    labels = {
        "baseline": "baseline: plain COPY",
        "upsert": "upsert into empty table",
        "reupsert": "upsert again (all updates)",
        "replace": "replace (1 run)",
        "append": "append into empty table (1 run)",
        "file_read": "file source alone (1 run)",
        "file_upsert": "file source -> upsert (1 run)",
    }
    best_baseline = min(times["baseline"])
    print(
        f"\n{args.records:,} records, batch size {args.batch_size:,}, embedded PostgreSQL, best of "
        f"{args.rounds} round(s)"
    )
    print(f"{'load':<32} {'seconds':>8} {'records/s':>12} {'vs COPY':>8}  notes")
    for key, label in labels.items():
        best = min(times[key])
        print(
            f"{label:<32} {best:8.2f} {args.records / best:12,.0f} {best_baseline / best:7.2f}x  {notes.get(key, '')}"
        )


if __name__ == "__main__":
    main()
