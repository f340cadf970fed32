"""Dead letters that never multiply: staged per run, promoted when the run's load commits.

A run inserts its letters ``staged`` (``writeback.insert_dead_letters``), each with a
``record_key``: :func:`record_key` of (config, pipeline, step, the canonical JSON of the
*plain* record, before sealing). They become ``pending`` — listed and replayed — only in
the transaction that records the load's commit (:func:`promote_letters`: the platform
database's load transaction, the sink's write-back right after a target commit elsewhere,
or the reconciler settling the run from the target's ledger). A run that never commits
leaves its letters ``staged``: shown by ``dead-letters list --status staged``, never replayed.

On promotion each letter's key gets ``#<n>``, n counting the letters of the same content
in that run (by record index), so two identical failing records of one source stay two
letters while a rerun, or a concurrent run, of the same source yields the same keys. A
staged letter whose final key already has a ``pending`` letter is marked ``discarded``
(``error_details.duplicate_of`` names the pending one) rather than deleted: the row stays as
the audit that this run failed on the record too, and ``discarded`` is never replayed.
The unique index ``idx_dead_letters_pending_key`` (sql/0008) makes a second pending letter
impossible; the per-integration advisory lock taken here makes concurrent promotions wait
for each other instead of failing on it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import psycopg

__all__ = ["letters_lock", "promote_letters", "record_key"]


def record_key(config_id: str, pipeline_id: str | None, step: str | None, record: Any) -> str:
    """The staged identity of a failed record: sha256 of its integration, step and canonical JSON."""
    canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    digest = hashlib.sha256(f"{config_id}\x00{pipeline_id or ''}\x00{step or ''}\x00".encode())
    digest.update(canonical)
    return digest.hexdigest()


def letters_lock(conn: psycopg.Connection[Any], config_id: str) -> None:
    """The integration's dead-letter lock, to the end of the current transaction
    (promotions and replays of one integration take turns)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"io:dead-letters:{config_id}",))


#: a run's staged letters, in the order that numbers repeated content (by record index)
_STAGED = """
SELECT id, pipeline_id, step_name, record_key
FROM integration_dead_letters
WHERE execution_id = %s AND status = 'staged'
ORDER BY pipeline_id NULLS FIRST, step_name NULLS FIRST, record_key NULLS FIRST,
         (error_details ->> 'index')::bigint NULLS LAST, error_details ->> 'file', id
"""
_PENDING = """
SELECT id, pipeline_id, step_name, record_key FROM integration_dead_letters
WHERE status = 'pending' AND config_id = %s AND record_key = ANY(%s::text[])
"""
_UPDATE = """
UPDATE integration_dead_letters d SET
    record_key = u.key,
    status = u.status::dead_letter_status,
    error_details = CASE WHEN u.duplicate_of IS NULL THEN d.error_details ELSE
                        coalesce(d.error_details, '{}'::jsonb) || jsonb_build_object('duplicate_of', u.duplicate_of)
                    END
FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::uuid[]) AS u (id, key, status, duplicate_of)
WHERE d.id = u.id
"""
#: staged letters promoted per statement (the keys of one page are held in memory)
PAGE = 5000

Row = tuple[str, str | None, str | None, str | None]  # id, pipeline, step, final key


def _numbered(cursor: psycopg.Cursor[Any]) -> Iterator[list[Row]]:
    """Pages of (id, pipeline, step, ``key#n``): n counts the same content in the run."""
    previous, n = None, 0
    while rows := cursor.fetchmany(PAGE):
        page: list[Row] = []
        for row in rows:
            pipeline = str(row["pipeline_id"]) if row["pipeline_id"] else None
            group = (pipeline, row["step_name"], row["record_key"])
            n = n + 1 if group == previous else 0
            previous = group
            key = None if row["record_key"] is None else f"{row['record_key']}#{n}"
            page.append((str(row["id"]), pipeline, row["step_name"], key))
        yield page


def _promote_page(conn: psycopg.Connection[Any], config_id: str, page: list[Row]) -> Counter[str]:
    keys = [key for _, _, _, key in page if key is not None]
    pending = {(str(r["pipeline_id"]) if r["pipeline_id"] else None, r["step_name"], r["record_key"]): str(r["id"])
               for r in conn.execute(_PENDING, (config_id, keys)).fetchall()}
    duplicates = [pending.get((pipeline, step, key)) if key is not None else None for _, pipeline, step, key in page]
    statuses = ["pending" if d is None else "discarded" for d in duplicates]
    conn.execute(_UPDATE, ([r[0] for r in page], [r[3] for r in page], statuses, duplicates))
    return Counter(statuses)


def _promote_execution(conn: psycopg.Connection[Any], execution_id: str, config_id: str) -> Counter[str]:
    """Page by page through a server-side cursor: memory follows :data:`PAGE`, not the run's failures.
    (Lookups by key array, no join: a just-filled table's stale statistics cannot make it quadratic.)"""
    counts: Counter[str] = Counter()
    with conn.cursor(name=f"io_staged_{execution_id.replace('-', '')}") as cursor:
        cursor.execute(_STAGED, (execution_id,))
        for page in _numbered(cursor):
            counts += _promote_page(conn, config_id, page)
    return counts


#: the run's execution, then its parent's, up to the root (a re-execution reuses its parents' outputs)
_CHAIN = """
WITH RECURSIVE chain (id, config_id, parent, depth) AS (
    SELECT id, config_id, metadata ->> 'parent_run_id', 0 FROM integration_executions WHERE dagster_run_id = %s
    UNION ALL
    SELECT e.id, e.config_id, e.metadata ->> 'parent_run_id', c.depth + 1
    FROM integration_executions e JOIN chain c ON e.dagster_run_id = c.parent
    WHERE c.depth < 100
)
SELECT id, config_id FROM chain ORDER BY depth
"""


def promote_letters(conn: psycopg.Connection[Any], run_id: str) -> Mapping[str, int]:
    """Inside the (tenant) transaction that records the run's load: its staged letters become
    ``pending``, or ``discarded`` when their record already has a pending letter. Then, for a
    re-execution, those of its parent runs (up to the root): the committed load is made of
    their outputs too — a step the re-execution ran again staged its own copies first, so the
    parent's become ``discarded``. Idempotent; returns how many of each."""
    chain = conn.execute(_CHAIN, (run_id,)).fetchall()
    counts: Counter[str] = Counter()
    if chain:
        config_id = str(chain[0]["config_id"])
        letters_lock(conn, config_id)
        for execution in chain:  # the run's own first: a parent's copies of them become discarded
            counts += _promote_execution(conn, str(execution["id"]), config_id)
    return {"pending": counts["pending"], "discarded": counts["discarded"]}
