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
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from integration_orchestrator.connectors.base import ConnectorError, WriteResult

__all__ = [
    "LEDGER_TABLE",
    "LoadContext",
    "latest_state",
    "ledger_ddl",
    "loaded_letters",
    "recent_loads",
    "record_load",
    "recorded_load",
    "recorded_loads",
    "reset_state",
]

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
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    kind            text NOT NULL DEFAULT 'run',
    state           jsonb,
    dead_letter_ids text[],
    origin_run_id   text
"""
#: columns added after the first release: added to an existing ledger on first use
_ADDED = (("kind", "text NOT NULL DEFAULT 'run'"), ("state", "jsonb"), ("dead_letter_ids", "text[]"),
          ("origin_run_id", "text"))


@dataclass(frozen=True)
class LoadContext:
    """Who is loading: the run (its id keys the ledger) and the integration.

    ``on_platform_commit(conn, result)`` runs last in the load's transaction when the
    target is the platform database itself (same URL), so the caller can finish its
    execution row in that same commit.

    ``origin_run_id``: the run whose source read the data being loaded (a re-execution
    that reuses its parent's outputs loads its parent's data); a load whose origin already
    committed loads nothing. ``organization_id``: the tenant, for ledgers kept in the
    platform database (``http``).
    ``connection``: when the target is the platform database, the load joins this
    connection's open transaction (a savepoint, as the connection's login role) instead
    of opening its own, and commits with it — the dead-letter replay's target write,
    execution row and letter marks are one commit. ``kind``/``letter_ids``: a replay's
    ledger row names the letters it wrote.
    """

    run_id: str
    config_id: str | None = None
    pipeline_id: str | None = None
    job_name: str | None = None
    on_platform_commit: Callable[[psycopg.Connection[Any], WriteResult], None] | None = None
    kind: str = "run"
    state: Any = None
    letter_ids: tuple[str, ...] = ()
    origin_run_id: str | None = None
    organization_id: str | None = None
    connection: psycopg.Connection[Any] | None = None

    @property
    def data_key(self) -> str:
        """What identifies the loaded data: its origin run, else this run."""
        return self.origin_run_id or self.run_id


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


def _current(conn: psycopg.Connection[Any], schema: str | None) -> bool:
    """The ledger exists with every column of this release."""
    if not _exists(conn, schema):
        return False
    with conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = ANY(%s)"
            " AND NOT attisdropped",
            (_table(schema).as_string(conn), [name for name, _ in _ADDED]),
        )
        row = cursor.fetchone()
    return bool(row and row[0] == len(_ADDED))


def _ensure(conn: psycopg.Connection[Any], schema: str | None, name: str) -> None:
    """Create (or bring up to date) the ledger once; concurrent first loads serialize on an advisory lock."""
    if _current(conn, schema):
        return
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"io:{LEDGER_TABLE}",))
    try:
        with conn.transaction():
            conn.execute(ledger_ddl(schema))
            for column, kind in _ADDED:
                conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} " + kind).format(
                    _table(schema), sql.Identifier(column)))
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

    Recorded means: a row of this run id, or of the data's origin run (a re-execution
    reusing its parent's outputs), or a row whose origin is that run.

    Takes a transaction-level advisory lock on the run id first, so two processes loading
    the same run id load once: the second waits, then finds the first one's row."""
    _ensure(conn, schema, name)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"io:load:{load.data_key}",))
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            sql.SQL("SELECT * FROM {} WHERE run_id = ANY(%s) OR origin_run_id = %s ORDER BY loaded_at LIMIT 1").format(
                _table(schema)),
            ([load.run_id, load.data_key], load.data_key),
        )
        row = cursor.fetchone()
    return None if row is None else _result(row)


def record_load(conn: psycopg.Connection[Any], schema: str | None, load: LoadContext, result: WriteResult) -> None:
    """The run's ledger row, in the load's transaction (after the target rows)."""
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (run_id, config_id, pipeline_id, job_name, rows_written, rows_inserted, rows_updated,"
            " rows_unchanged, kind, state, dead_letter_ids, origin_run_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        ).format(_table(schema)),
        (load.run_id, load.config_id, load.pipeline_id, load.job_name, result.rows_written, result.inserted,
         result.updated, result.unchanged, load.kind, None if load.state is None else Jsonb(load.state),
         list(load.letter_ids) or None, load.data_key),
    )


def latest_state(conn: psycopg.Connection[Any], schema: str | None, config_id: str) -> Any:
    """The incremental state of ``config_id``: that of its newest ledger row with a state
    or of kind ``reset`` (a reset's state is None: start over); None when there is none."""
    if not _exists(conn, schema):
        return None
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            sql.SQL("SELECT state FROM {} WHERE config_id = %s AND (state IS NOT NULL OR kind = 'reset')"
                    " ORDER BY loaded_at DESC, run_id DESC LIMIT 1").format(_table(schema)),
            (config_id,),
        )
        row = cursor.fetchone()
    return None if row is None else row["state"]


def loaded_letters(conn: psycopg.Connection[Any], schema: str | None, letter_ids: Iterable[str]) -> set[str]:
    """Which of ``letter_ids`` a committed replay already wrote to this target."""
    ids = [str(i) for i in letter_ids]
    if not ids or not _exists(conn, schema):
        return set()
    with conn.cursor(row_factory=tuple_row) as cursor:
        cursor.execute(
            sql.SQL("SELECT DISTINCT unnest(dead_letter_ids) FROM {} WHERE dead_letter_ids && %s::text[]").format(
                _table(schema)),
            (ids,),
        )
        return {str(r[0]) for r in cursor.fetchall()} & set(ids)


def recorded_loads(conn: psycopg.Connection[Any], schema: str | None, run_ids: Iterable[str]) -> dict[str, WriteResult]:
    """The ledger rows of ``run_ids`` (none when the ledger does not exist yet)."""
    ids = list(run_ids)
    if not ids or not _exists(conn, schema):
        return {}
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(sql.SQL("SELECT * FROM {} WHERE run_id = ANY(%s)").format(_table(schema)), (ids,))
        return {str(r["run_id"]): _result(r) for r in cursor.fetchall()}


def recent_loads(
    conn: psycopg.Connection[Any], schema: str | None, config_id: str, limit: int = 10
) -> list[dict[str, Any]]:
    """The newest ``limit`` ledger rows of ``config_id`` (loads and resets), newest first."""
    if not _exists(conn, schema):
        return []
    with conn.cursor(row_factory=dict_row) as cursor:
        cursor.execute(
            sql.SQL("SELECT run_id, kind, job_name, rows_written, loaded_at, state FROM {} WHERE config_id = %s"
                    " ORDER BY loaded_at DESC, run_id DESC LIMIT %s").format(_table(schema)),
            (config_id, limit),
        )
        return [dict(r) for r in cursor.fetchall()]


def reset_state(conn: psycopg.Connection[Any], schema: str | None, config_id: str, state: Any, run_id: str,
                name: str) -> None:
    """A ``kind='reset'`` ledger row: the next run of ``config_id`` starts from ``state``
    (None: from the start). Its own transaction; the ledger is created when missing."""
    with conn.transaction():
        _ensure(conn, schema, name)
        record_load(conn, schema, LoadContext(run_id=run_id, config_id=config_id, kind="reset", state=state),
                    WriteResult(rows_written=0))
