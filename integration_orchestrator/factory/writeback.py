"""Run results written back: ``integration_executions`` rows and dead letters.

One execution row per Dagster run (``dagster_run_id`` is unique): the first op of a run
creates it (``running``), the sink finishes it (``succeeded`` with counts), the failure
hook or the reconciliation sensor finishes it otherwise. Finishing only ever moves a
row out of ``queued``/``running``, so the first final status wins. Every write runs as
the application role inside the integration's organization.

Every write is retried through a database blip (``db/retry.py``: connection-level errors
only, on fresh connections, for ``INTEGRATION_ORCHESTRATOR_WRITEBACK_RETRY_SECONDS``) and
is idempotent, so a retry after a commit whose answer was lost changes nothing: the
execution row is an upsert on ``dagster_run_id``, finishing only moves an open row, and a
dead letter's id is derived from (execution, step, record index[, file]), inserted ``ON CONFLICT
DO NOTHING``.

Dead letters are inserted ``staged`` and promoted to ``pending`` in the transaction that
finishes the run ``succeeded`` (``promote=True``) or settles it from the ledger
(``factory/letters.py``, ARCHITECTURE.md §10.9).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.db.retry import retrying
from integration_orchestrator.factory.letters import promote_letters
from integration_orchestrator.model import FailedRecord

__all__ = [
    "FINAL_STATUSES",
    "dead_letter_id",
    "ensure_execution",
    "finish_execution",
    "insert_dead_letters",
    "ledger_candidates",
    "open_executions",
    "settle_from_ledger",
]

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
#: namespace of the deterministic dead-letter ids (uuid5)
_DEAD_LETTER_NAMESPACE = uuid.UUID("6f1d3c52-2b7e-4a44-9f0e-2c4f5b8d7a91")


def _json(value: Any) -> Jsonb:
    return Jsonb(orjson.loads(orjson.dumps(value, default=str)))


def ensure_execution(
    conn: psycopg.Connection[Any],
    *,
    run_id: str,
    job_name: str,
    organization_id: str,
    config_id: str,
    pipeline_id: str | None,
    schedule_id: str | None = None,
    config_versions: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """The execution row of ``run_id`` (created ``running`` if absent); returns its id.

    ``metadata`` is stored only when the row is created (a re-execution's ``parent_run_id``
    and ``root_run_id``, see ``factory/serial.py``)."""
    values = (run_id, job_name, config_id, pipeline_id, schedule_id, _json(config_versions or {}),
              _json(tags or {}), _json(metadata or {}), organization_id)

    def work(conn: psycopg.Connection[Any]) -> str:
        with tenant_transaction(conn, organization_id):
            row = conn.execute(
                """
                INSERT INTO integration_executions
                    (dagster_run_id, dagster_job_name, config_id, pipeline_id, schedule_id, status,
                     started_at, config_versions, tags, metadata, organization_id)
                VALUES (%s, %s, %s, %s, %s, 'running', now(), %s, %s, %s, %s)
                ON CONFLICT (dagster_run_id) DO UPDATE SET dagster_run_id = EXCLUDED.dagster_run_id
                RETURNING id
                """,
                values,
            ).fetchone()
        assert row is not None
        return str(row["id"])

    return retrying(conn, work, what=f"execution row of run {run_id}")


def finish_execution(
    conn: psycopg.Connection[Any],
    *,
    run_id: str,
    organization_id: str,
    status: str,
    records_in: int | None = None,
    records_out: int | None = None,
    records_failed: int | None = None,
    error_message: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    promote: bool = False,
) -> bool:
    """Move the run's row to a final ``status``; False when it was already final/absent
    (also when a retry follows a commit whose answer was lost). ``promote``: the run's load
    committed; its staged dead letters become pending in the same transaction (also when
    the row was already final: promotion is idempotent)."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"not a final execution status: {status!r}")
    values = (status, records_in, records_out, records_failed, error_message, _json(metadata or {}), run_id)

    def work(conn: psycopg.Connection[Any]) -> bool:
        with tenant_transaction(conn, organization_id):
            row = conn.execute(
                """
                UPDATE integration_executions SET
                    status = %s,
                    finished_at = greatest(now(), coalesce(started_at, now())),
                    started_at = coalesce(started_at, now()),
                    records_in = coalesce(%s, records_in),
                    records_out = coalesce(%s, records_out),
                    records_failed = coalesce(%s, records_failed),
                    error_message = coalesce(%s, error_message),
                    metadata = metadata || %s
                WHERE dagster_run_id = %s AND status IN ('queued', 'running')
                RETURNING id
                """,
                values,
            ).fetchone()
            if promote:
                promote_letters(conn, run_id)
        return row is not None

    return retrying(conn, work, what=f"finishing the execution of run {run_id}")


def dead_letter_id(execution_id: str, step: str, index: int, file: Any = None, occurrence: int = 0) -> str:
    """The id of the letter for record ``index`` of ``step`` in an execution (``file``: for a
    source reading several files whose line numbers restart; ``occurrence``: a second failure
    of the same record in one call): the same on every attempt, so a retried insert cannot
    add a second letter."""
    key = f"{execution_id}/{step}/{index}"
    if file is not None:
        key += f"/{file}"
    if occurrence:
        key += f"#{occurrence}"
    return str(uuid.uuid5(_DEAD_LETTER_NAMESPACE, key))


def _letter_ids(execution_id: str | None, failures: Sequence[FailedRecord]) -> list[str]:
    if not execution_id:  # no execution to anchor on: fresh ids, not idempotent
        return [str(uuid.uuid4()) for _ in failures]
    seen: Counter[tuple[str, int, Any]] = Counter()
    ids = []
    for f in failures:
        key = (f.step, f.index, f.details.get("file"))
        ids.append(dead_letter_id(execution_id, *key, occurrence=seen[key]))
        seen[key] += 1
    return ids


def insert_dead_letters(
    conn: psycopg.Connection[Any],
    *,
    organization_id: str,
    execution_id: str | None,
    config_id: str,
    pipeline_id: str | None,
    failures: Sequence[FailedRecord],
    keys: Sequence[str | None] | None = None,
) -> int:
    """One ``integration_dead_letters`` row per failed record (one transaction), ``staged``
    (pending once the run's load commits); returns how many were given. ``keys``: each
    record's ``letters.record_key`` (of the plain record: ``failures`` may be sealed). With an
    ``execution_id`` the ids are :func:`dead_letter_id` (``ON CONFLICT DO NOTHING``), so the
    insert is idempotent."""
    if not failures:
        return 0
    record_keys = list(keys) if keys is not None else [None] * len(failures)
    rows = [
        (letter_id, execution_id, config_id, pipeline_id, f.step, _json(f.record), f.message,
         _json({"index": f.index, **f.details}), organization_id, key)
        for letter_id, f, key in zip(_letter_ids(execution_id, failures), failures, record_keys, strict=True)
    ]

    def work(conn: psycopg.Connection[Any]) -> int:
        with tenant_transaction(conn, organization_id), conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO integration_dead_letters
                    (id, execution_id, config_id, pipeline_id, step_name, record, error_message, error_details,
                     organization_id, record_key, status)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'staged')
                ON CONFLICT (id) DO NOTHING
                """,
                rows,
            )
        return len(rows)

    return retrying(conn, work, what=f"dead letters of execution {execution_id}")


def open_executions(conn: psycopg.Connection[Any], limit: int = 500) -> list[dict[str, Any]]:
    """Executions still ``queued``/``running`` that belong to a Dagster run or a replay (owner role)."""
    return conn.execute(
        """
        SELECT id, dagster_run_id, organization_id, status
        FROM integration_executions
        WHERE status IN ('queued', 'running') AND dagster_run_id IS NOT NULL
        ORDER BY created_at
        LIMIT %s
        """,
        (limit,),
    ).fetchall()


def settle_from_ledger(
    conn: psycopg.Connection[Any], *, run_id: str, organization_id: str, rows_written: int,
    ledger: Mapping[str, Any],
) -> bool:
    """Finish the run's row ``succeeded`` because its target's load ledger has the run.

    The ledger row commits iff the target rows did, so it outranks a ``running`` row (the
    worker died after the commit) and a ``failed`` one (the write-back failed after it).
    The run's staged dead letters are promoted in the same transaction."""
    with tenant_transaction(conn, organization_id):
        row = conn.execute(
            """
            UPDATE integration_executions SET
                status = 'succeeded',
                finished_at = greatest(now(), coalesce(started_at, now())),
                started_at = coalesce(started_at, now()),
                records_out = %s,
                error_message = NULL,
                metadata = metadata || %s
            WHERE dagster_run_id = %s AND status IN ('queued', 'running', 'failed')
            RETURNING id
            """,
            (rows_written, _json({"reconciled": True, "ledger": dict(ledger)}), run_id),
        ).fetchone()
        promote_letters(conn, run_id)
    return row is not None


def ledger_candidates(
    conn: psycopg.Connection[Any], types: Sequence[str] = ("postgres_table",), limit: int = 500
) -> list[dict[str, Any]]:
    """Open rows, and rows failed in the last day, of integrations writing a target of one of
    ``types`` (the target types that keep a load ledger) (owner role)."""
    return conn.execute(
        """
        SELECT e.dagster_run_id, e.organization_id, e.config_id, e.status,
               c.integration_name, c.connection_config -> 'target' AS target
        FROM integration_executions e JOIN integration_configs c ON c.id = e.config_id
        WHERE e.dagster_run_id IS NOT NULL
          AND c.connection_config -> 'target' ->> 'type' = ANY(%s)
          AND (e.status IN ('queued', 'running')
               OR (e.status = 'failed' AND e.finished_at > now() - interval '1 day'))
        ORDER BY e.created_at
        LIMIT %s
        """,
        (list(types), limit),
    ).fetchall()
