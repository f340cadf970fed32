"""Ledger and incremental-state cost (issue 15, item 7): the same 1M-record load with and without.

    .venv/bin/python benchmarks/ledger_bench.py [--records 1000000] [--batch-size 50000] [--repeat 3]
        [--database-url URL]

An embedded PostgreSQL in a temporary directory (or ``--database-url``: a fresh database).
The records (``postgres_load_bench.make_records``) are written once to an NDJSON file. Then,
alternating, each on a fresh table, ``--repeat`` times:

  plain        the ``file`` source's batches → the ``postgres_table`` target, upsert on ``id``,
               no load context: no ledger, no state (the load before issue 15)
  incremental  the same, with what an incremental run adds: the file source with
               ``incremental.files`` (sha256 of the file, then the read), the state read
               from the ledger (``latest_state``) and the target's ledger row with the
               state, committed in the load's transaction (``LoadContext``)

and prints the medians and ``incremental / plain``: the ledger + state overhead of a load
(target: ≤ 5 %). After each pair, the incremental config runs again over the unchanged file
(``unchanged``: the checksum, the state read, nothing loaded). Each run reads the file
afresh (a warm page cache for both); the batches are read whole before the load, as the
sink gets the source op's output.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
from postgres_load_bench import DDL, make_records

from integration_orchestrator.connectors import ConnectorContext, open_source, read_batches, write_batches
from integration_orchestrator.connectors.incremental import Incremental
from integration_orchestrator.connectors.postgres import PostgresTableTarget
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.db import connect
from integration_orchestrator.db.embedded import start_embedded_server

__all__ = ["main", "measure"]



def _fresh(url: str, table: str) -> None:
    with connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(DDL.format(name=table))


def _load(url: str, path: Path, batch_size: int, table: str, incremental: str | None,
          fresh: bool = True) -> tuple[float, int]:
    """One load; ``incremental``: the config id whose state it reads and commits (None: plain)."""
    if fresh:
        _fresh(url, table)
    target = PostgresTableTarget({"type": "postgres_table", "table": table, "mode": "upsert", "key": ["id"]},
                                 ConnectorContext(database_url=url))
    started = time.perf_counter()
    source: dict[str, Any] = {"type": "file", "path": str(path), "format": "ndjson", "batch_size": batch_size}
    run = None
    if incremental is not None:
        source["incremental"] = {"files": True}
        run = Incremental(state=target.latest_state(incremental))
    reader = open_source(source, lambda name: name, incremental=run)
    batches = [chunk.batch for chunk in read_batches(reader)]  # the source op's output, as the sink gets it
    load = None if run is None else LoadContext(run_id=str(uuid.uuid4()), config_id=incremental, state=run.new_state)
    written = write_batches(target, batches, load).rows_written
    return time.perf_counter() - started, written


def measure(url: str, path: Path, batch_size: int, repeat: int) -> dict[str, list[float]]:
    """Alternating plain and incremental full loads (each incremental one a new config id: no
    state yet), then the incremental config's second run over the unchanged file."""
    times: dict[str, list[float]] = {"plain": [], "incremental": [], "unchanged": []}
    for n in range(repeat):
        config_id = str(uuid.uuid4())
        for name in ("plain", "incremental") if n % 2 == 0 else ("incremental", "plain"):
            seconds, written = _load(url, path, batch_size, f"ledger_bench_{name}",
                                     config_id if name == "incremental" else None)
            times[name].append(seconds)
            print(f"{name:<12} {seconds:7.2f}s  {written:,} rows")
        seconds, written = _load(url, path, batch_size, "ledger_bench_incremental", config_id, fresh=False)
        times["unchanged"].append(seconds)
        print(f"{'unchanged':<12} {seconds:7.2f}s  {written:,} rows (the same config again)")
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="a fresh database to use instead of an embedded server")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ledger_bench_") as tmp:
        server = None
        url = args.database_url
        if url is None:
            server = start_embedded_server(Path(tmp) / "pg")
            url = server.url("postgres")
        try:
            path = Path(tmp) / "records.ndjson"
            with path.open("wb") as out:
                for record in make_records(args.records):
                    out.write(orjson.dumps(record) + b"\n")
            print(f"{args.records:,} records, {path.stat().st_size / 2**20:.0f} MB, batches of {args.batch_size:,}")
            times = measure(url, path, args.batch_size, args.repeat)
        finally:
            if server is not None:
                server.stop()
    plain, incremental, unchanged = (statistics.median(times[k]) for k in ("plain", "incremental", "unchanged"))
    print(f"median: plain {plain:.2f}s, incremental (sha256 + state read + ledger row) {incremental:.2f}s, "
          f"second incremental run over the unchanged file {unchanged:.2f}s")
    print(f"ledger + state overhead: {incremental / plain - 1:+.1%} of the load (incremental / plain = "
          f"{incremental / plain:.3f})")


if __name__ == "__main__":
    main()
