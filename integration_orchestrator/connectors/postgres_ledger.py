"""The load ledger of a ``postgres_table`` target: ``integration_loads``, beside the target table.

dlt commits a ``_dlt_loads`` row with the data it loads; this is the same idea. The
loader inserts one row per run id IN THE TRANSACTION THAT LOADS THE TARGET, so the row
exists iff the rows committed. After a crash between that commit and the platform's
write-back, the ledger is the truth: the reconciler finishes the execution from it, and
a rerun of the same run id finds its row and loads nothing (it returns the recorded
counts). The table lives in the target table's schema (``schema``, else the first schema
of the search path) and is created on first use when missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from integration_orchestrator.connectors.base import ConnectorError, WriteResult

__all__ = ["LEDGER_TABLE", "LoadContext", "ledger_ddl", "record_load", "recorded_load", "recorded_loads"]

LEDGER_TABLE = "integration_loads"

_COLUMNS = """
    run_id          text PRIMARY KEY,
    config_id       text,
    pipeline_id     text,
    job_name        text,
    rows_written    bigint NOT NULL,
    rows_inserted   bigint,
    rows_updated    bigint,
    rows_unchanged  bigint,
    loaded_at       timestamptz NOT NULL DEFAULT now()
"""


@dataclass(frozen=True)
class LoadContext:
    """Who is loading: the run (its id keys the ledger) and the integration.

    ``on_platform_commit(conn, result)`` runs last in the load's transaction when the
    target is the platform database itself (same URL), so the caller can finish its
    execution row in that same commit.
    """

    run_id: str
    config_id: str | None = None
    pipeline_id: str | None = None
    job_name: str | None = None
    on_platform_commit: Callable[[psycopg.Connection[Any], WriteResult], None] | None = None


def _table(schema: str | None) -> sql.Composable:
    return sql.Identifier(schema, LEDGER_TABLE) if schema else sql.Identifier(LEDGER_TABLE)


def ledger_ddl(schema: str | None = None) -> sql.Composed:
    """``CREATE TABLE IF NOT EXISTS`` of the ledger (for a role without CREATE: run it once as owner)."""
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + _COLUMNS + ")").format(_table(schema))


def _exists(conn: psycopg.Connection[Any], schema: str | None) -> bool:
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (_table(schema).as_string(conn),))
        row = cursor.fetchone()
    return bool(row and row["present"])


def _ensure(conn: psycopg.Connection[Any], schema: str | None, name: str) -> None:
    """Create the ledger once; concurrent first loads serialize on an advisory lock."""
    if _exists(conn, schema):
        return
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"io:{LEDGER_TABLE}",))
    try:
        with conn.transaction():
            conn.execute(ledger_ddl(schema))
    except psycopg.Error as exc:
        raise ConnectorError(
            name, f"the load ledger `{LEDGER_TABLE}` is missing and could not be created ({exc}); "
            f"create it once: {ledger_ddl(schema).as_string(conn)}",
        ) from exc


def _result(row: dict[str, Any]) -> WriteResult:
    return WriteResult(rows_written=int(row["rows_written"]), inserted=row["rows_inserted"],
                       updated=row["rows_updated"], unchanged=row["rows_unchanged"])


def recorded_load(
    conn: psycopg.Connection[Any], schema: str | None, load: LoadContext, name: str
) -> WriteResult | None:
    """Inside the load's transaction: the run's recorded result, or None (then the caller loads).

    Takes a transaction-level advisory lock on the run id first, so two processes loading
    the same run id load once: the second waits, then finds the first one's row."""
    _ensure(conn, schema, name)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"io:load:{load.run_id}",))
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(sql.SQL("SELECT * FROM {} WHERE run_id = %s").format(_table(schema)), (load.run_id,))
        row = cursor.fetchone()
    return None if row is None else _result(row)


def record_load(conn: psycopg.Connection[Any], schema: str | None, load: LoadContext, result: WriteResult) -> None:
    """The run's ledger row, in the load's transaction (after the target rows)."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (run_id, config_id, pipeline_id, job_name, rows_written, rows_inserted, rows_updated,"
            " rows_unchanged) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(_table(schema)),
        (load.run_id, load.config_id, load.pipeline_id, load.job_name, result.rows_written, result.inserted,
         result.updated, result.unchanged),
    )


def recorded_loads(conn: psycopg.Connection[Any], schema: str | None, run_ids: Iterable[str]) -> dict[str, WriteResult]:
    """The ledger rows of ``run_ids`` (none when the ledger does not exist yet)."""
    ids = list(run_ids)
    if not ids or not _exists(conn, schema):
        return {}
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(sql.SQL("SELECT * FROM {} WHERE run_id = ANY(%s)").format(_table(schema)), (ids,))
        return {str(r["run_id"]): _result(r) for r in cursor.fetchall()}
