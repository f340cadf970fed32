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
from collections.abc import Mapping
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


_PROMOTE = """
WITH staged AS (
    SELECT id, config_id, pipeline_id, step_name,
           record_key || '#' || (row_number() OVER (
               PARTITION BY pipeline_id, step_name, record_key
               ORDER BY (error_details ->> 'index')::bigint NULLS LAST, error_details ->> 'file', id) - 1) AS key
    FROM integration_dead_letters
    WHERE execution_id = %(execution)s AND status = 'staged'
), matched AS (
    SELECT s.id, s.key, p.id AS duplicate_of
    FROM staged s LEFT JOIN integration_dead_letters p
      ON p.status = 'pending' AND p.config_id = s.config_id AND p.pipeline_id IS NOT DISTINCT FROM s.pipeline_id
     AND p.step_name IS NOT DISTINCT FROM s.step_name AND p.record_key = s.key
)
UPDATE integration_dead_letters d SET
    record_key = m.key,
    status = (CASE WHEN m.duplicate_of IS NULL THEN 'pending' ELSE 'discarded' END)::dead_letter_status,
    error_details = CASE WHEN m.duplicate_of IS NULL THEN d.error_details ELSE
                        coalesce(d.error_details, '{}'::jsonb) || jsonb_build_object('duplicate_of', m.duplicate_of)
                    END
FROM matched m
WHERE d.id = m.id
RETURNING d.status::text AS status
"""


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
    counts = {"pending": 0, "discarded": 0}
    if not chain:
        return counts
    letters_lock(conn, str(chain[0]["config_id"]))
    for execution in chain:  # one statement each: a parent's letters see the child's promoted ones
        for row in conn.execute(_PROMOTE, {"execution": execution["id"]}).fetchall():
            counts[row["status"]] += 1
    return counts
