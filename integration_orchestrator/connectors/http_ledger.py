"""The load ledger of an ``http`` target, in the platform database (``sql/0009_http_ledger.sql``).

An HTTP endpoint has no transaction to commit a ledger row in. Instead every batch is
sent with an idempotency key, ``<origin run id>-<batch number>`` (the origin run is the
run whose source read the data; a re-execution reusing its parent's outputs has the
parent's), and each batch the endpoint acknowledges (2xx) is recorded at once in
``integration_http_batches``. A rerun of the same data skips the acknowledged batches
and resumes after them; when every batch is acknowledged the load is recorded in
``integration_http_loads`` (counts, state, dead-letter ids), which ``recorded_loads``,
``latest_state`` and ``loaded_letters`` read.

The one window left is a kill after the endpoint accepted a batch and before its
acknowledgement is recorded: that batch is sent again, with the same key. Delivery is
at-least-once per batch; an endpoint that deduplicates on the key sees each batch once.
One session per data key at a time (a session-level advisory lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.connectors.base import WriteResult
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.db.connection import connect, tenant_transaction

__all__ = ["HttpLedger", "HttpLedgerSession", "idempotency_key"]



def idempotency_key(load: LoadContext, batch_number: int) -> str:
    """``<origin run id>-<batch number>`` (batches numbered from 1)."""
    return f"{load.data_key}-{batch_number}"


class HttpLedgerSession:
    """One load's view of the ledger, on a connection holding the data key's lock."""

    def __init__(self, conn: psycopg.Connection[Any], load: LoadContext, target: str) -> None:
        self.conn = conn
        self.load = load
        self.target = target

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection[Any]]:
        if self.load.organization_id:
            with tenant_transaction(self.conn, self.load.organization_id) as conn:
                yield conn
        else:
            with self.conn.transaction():
                yield self.conn

    def recorded(self) -> WriteResult | None:
        """The completed load of this run or of its data's origin run, or None."""
        key = self.load.data_key
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT rows_written FROM integration_http_loads WHERE run_id = ANY(%s) OR origin_run_id = %s"
                " ORDER BY loaded_at LIMIT 1",
                ([self.load.run_id, key], key),
            ).fetchone()
        return None if row is None else WriteResult(rows_written=int(row["rows_written"]))

    def acknowledged(self) -> dict[int, int]:
        """Batch number → records, of the batches the endpoint already acknowledged for this data."""
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT batch_number, records FROM integration_http_batches WHERE origin_run_id = %s",
                (self.load.data_key,),
            ).fetchall()
        return {int(r["batch_number"]): int(r["records"]) for r in rows}

    def acknowledge(self, batch_number: int, records: int) -> None:
        """Record (and commit) that the endpoint accepted batch ``batch_number``."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO integration_http_batches (origin_run_id, batch_number, run_id, idempotency_key, records,"
                " config_id) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (self.load.data_key, batch_number, self.load.run_id, idempotency_key(self.load, batch_number),
                 records, self.load.config_id),
            )

    def complete(self, result: WriteResult, batches: int) -> None:
        """Record the completed load (every batch acknowledged)."""
        load = self.load
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO integration_http_loads (run_id, origin_run_id, config_id, pipeline_id, job_name, target,"
                " rows_written, batches, kind, state, dead_letter_ids) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s) ON CONFLICT (run_id) DO NOTHING",
                (load.run_id, load.data_key, load.config_id, load.pipeline_id, load.job_name, self.target,
                 result.rows_written, batches, load.kind, None if load.state is None else Jsonb(load.state),
                 list(load.letter_ids) or None),
            )


class HttpLedger:
    """The ledger of http targets in the platform database ``database_url``."""

    def __init__(self, database_url: str, target: str) -> None:
        self.database_url = database_url
        self.target = target

    @contextmanager
    def session(self, load: LoadContext) -> Iterator[HttpLedgerSession]:
        with connect(self.database_url, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"io:http:{load.data_key}",))
            try:
                yield HttpLedgerSession(conn, load, self.target)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"io:http:{load.data_key}",))

    def recorded_loads(self, run_ids: Iterable[str]) -> dict[str, WriteResult]:
        ids = list(run_ids)
        if not ids:
            return {}
        with connect(self.database_url) as conn:
            rows = conn.execute("SELECT run_id, rows_written FROM integration_http_loads WHERE run_id = ANY(%s)",
                                (ids,)).fetchall()
        return {str(r["run_id"]): WriteResult(rows_written=int(r["rows_written"])) for r in rows}

    def latest_state(self, config_id: str) -> Any:
        """The newest recorded state of ``config_id`` (a ``reset`` row: None, start over)."""
        with connect(self.database_url) as conn:
            row = conn.execute(
                "SELECT state FROM integration_http_loads"
                " WHERE config_id = %s AND (state IS NOT NULL OR kind = 'reset')"
                " ORDER BY loaded_at DESC, run_id DESC LIMIT 1",
                (config_id,),
            ).fetchone()
        return None if row is None else row["state"]

    def loaded_letters(self, letter_ids: Iterable[str]) -> set[str]:
        ids = [str(i) for i in letter_ids]
        if not ids:
            return set()
        with connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT DISTINCT unnest(dead_letter_ids) AS id FROM integration_http_loads"
                " WHERE dead_letter_ids && %s::text[]",
                (ids,),
            ).fetchall()
        return {str(r["id"]) for r in rows} & set(ids)
