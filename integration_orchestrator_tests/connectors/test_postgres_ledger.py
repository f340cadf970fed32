"""The ``postgres_table`` load ledger: one row per run id, committed iff the target rows are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
import pyarrow as pa
import pytest

from integration_orchestrator.columnar import records_to_batch
from integration_orchestrator.connectors import ConnectorContext, WriteResult, write_batches
from integration_orchestrator.connectors.postgres import PostgresTableTarget
from integration_orchestrator.connectors.postgres_ledger import LoadContext

RECORDS = [{"id": i, "name": f"n{i}"} for i in range(5)]


def _target(db: psycopg.Connection[Any], database_url: str, mode: str = "append") -> PostgresTableTarget:
    db.execute("CREATE TABLE IF NOT EXISTS t (id integer PRIMARY KEY, name text)")
    config: dict[str, Any] = {"type": "postgres_table", "table": "t", "mode": mode}
    if mode == "upsert":
        config["key"] = ["id"]
    return PostgresTableTarget(config, ConnectorContext(database_url=database_url))


def other_url(url: str) -> str:
    """The same database under another URL: a different database as far as the platform knows."""
    return f"{url}{'&' if '?' in url else '?'}application_name=other"


def _count(db: psycopg.Connection[Any], table: str) -> int:
    row = db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_a_run_id_loads_once_and_a_rerun_returns_the_recorded_counts(
    db: psycopg.Connection[Any], database_url: str, mode: str
) -> None:
    target = _target(db, database_url, mode)
    load = LoadContext(run_id="r1", config_id="c", job_name="j")
    first = target.write_batches([records_to_batch(RECORDS)], load)
    again = target.write_batches([records_to_batch(RECORDS)], load)
    assert first == again and first.rows_written == len(RECORDS) and first.inserted == len(RECORDS)
    assert _count(db, "t") == len(RECORDS)
    row = db.execute("SELECT run_id, config_id, job_name, rows_written FROM integration_loads").fetchall()
    assert row == [{"run_id": "r1", "config_id": "c", "job_name": "j", "rows_written": len(RECORDS)}]
    assert target.recorded_loads(["r1", "r2"]) == {"r1": first}


def test_a_load_that_rolls_back_leaves_no_ledger_row(db: psycopg.Connection[Any], database_url: str) -> None:
    target = _target(db, database_url)
    with pytest.raises(Exception, match="rolled back"):
        target.write_batches([records_to_batch([*RECORDS, RECORDS[0]])], LoadContext(run_id="r1"))  # duplicate key
    assert _count(db, "t") == 0
    assert target.recorded_loads(["r1"]) == {}


def test_on_platform_commit_runs_in_the_load_transaction_only_on_the_platform_database(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    seen: list[int] = []

    def finish(conn: psycopg.Connection[Any], result: WriteResult) -> None:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        seen.append(result.rows_written)

    platform = _target(db, database_url)
    platform.write_batches([records_to_batch(RECORDS[:2])], LoadContext("r1", on_platform_commit=finish))
    own_url = {"type": "postgres_table", "table": "t", "url": other_url(database_url)}
    other = PostgresTableTarget(own_url, ConnectorContext(database_url=database_url))
    other.write_batches([records_to_batch(RECORDS[2:])], LoadContext("r2", on_platform_commit=finish))
    assert seen == [2]


def test_a_target_without_load_context_is_called_as_before() -> None:
    class Plugin:
        def __init__(self) -> None:
            self.got: list[int] = []

        def write_batches(self, batches: Iterable[pa.RecordBatch]) -> WriteResult:
            self.got.extend(b.num_rows for b in batches)
            return WriteResult(rows_written=sum(self.got))

    plugin = Plugin()
    assert write_batches(plugin, [records_to_batch(RECORDS)], LoadContext("r1")).rows_written == len(RECORDS)
    assert plugin.got == [len(RECORDS)]


def test_the_ledger_table_is_not_a_target_on_the_platform_database(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    _target(db, database_url).write_batches([records_to_batch(RECORDS)], LoadContext("r1"))
    forged = PostgresTableTarget({"type": "postgres_table", "table": "integration_loads"},
                                 ConnectorContext(database_url=database_url))
    with pytest.raises(Exception, match="platform itself"):
        forged.write_batches([records_to_batch([{"run_id": "x", "rows_written": 1}])])


def test_state_and_replayed_letters_commit_with_the_load(db: psycopg.Connection[Any], database_url: str) -> None:
    target = _target(db, database_url)
    assert target.latest_state("c") is None and target.loaded_letters(["l1"]) == set()
    target.write_batches([records_to_batch(RECORDS[:2])], LoadContext("r1", config_id="c", state={"cursor": 2}))
    target.write_batches([records_to_batch(RECORDS[2:3])], LoadContext("r2", config_id="c"))  # no state: kept
    assert target.latest_state("c") == {"cursor": 2}
    target.write_batches([records_to_batch(RECORDS[3:4])],
                         LoadContext("replay:1", config_id="c", kind="replay", letter_ids=("l1", "l2")))
    assert target.loaded_letters(["l2", "l3"]) == {"l2"}
    target.write_batches([], LoadContext("reset:1", config_id="c", kind="reset"))
    assert target.latest_state("c") is None  # a reset starts over
    with pytest.raises(Exception, match="rolled back"):  # a load that rolls back records no state
        target.write_batches([records_to_batch([RECORDS[0]])], LoadContext("r3", config_id="c", state={"cursor": 9}))
    assert target.latest_state("c") is None


def test_a_ledger_of_the_first_release_gets_the_new_columns(db: psycopg.Connection[Any], database_url: str) -> None:
    db.execute("CREATE TABLE integration_loads (run_id text PRIMARY KEY, config_id text, pipeline_id text,"
               " job_name text, rows_written bigint NOT NULL, rows_inserted bigint, rows_updated bigint,"
               " rows_unchanged bigint, loaded_at timestamptz NOT NULL DEFAULT now())")
    target = _target(db, database_url)
    target.write_batches([records_to_batch(RECORDS[:1])], LoadContext("r1", config_id="c", state=[1]))
    assert target.latest_state("c") == [1]


def test_a_load_of_data_whose_origin_run_committed_loads_nothing(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    """A re-execution reusing its parent's outputs (new run id, the parent's data) loads nothing."""
    target = _target(db, database_url)
    first = target.write_batches([records_to_batch(RECORDS[:3])], LoadContext("parent", config_id="c"))
    again = target.write_batches([records_to_batch(RECORDS[:3])], LoadContext("child", origin_run_id="parent"))
    later = target.write_batches([records_to_batch(RECORDS[:3])], LoadContext("grandchild", origin_run_id="parent"))
    fresh = target.write_batches([records_to_batch(RECORDS[3:])], LoadContext("other", origin_run_id="other"))
    assert first == again == later and fresh.rows_written == 2
    assert _count(db, "t") == len(RECORDS)
    rows = db.execute("SELECT run_id, origin_run_id FROM integration_loads ORDER BY loaded_at").fetchall()
    assert rows == [{"run_id": "parent", "origin_run_id": "parent"}, {"run_id": "other", "origin_run_id": "other"}]
