"""One group of dead letters replayed atomically (ARCHITECTURE.md §10.9).

A group is the pending letters of one (integration, pipeline, step). Its replay:

1. claims the integration's run lease (``factory/serial.py``) with its own execution row,
   ``dagster_run_id`` = ``replay:<uuid>``, ``running``, kept fresh by a heartbeat — a run of
   the same integration holding the lease makes the replay skip the group with a message,
   and a run starting meanwhile is refused (or waits) the same way;
2. in ONE platform transaction: locks the letters (``FOR UPDATE SKIP LOCKED``, still
   ``pending``), runs them, writes the target, finishes its execution row and marks the
   letters. When the target is the platform database (``postgres_table`` without another
   ``url``) the target write joins that transaction (``LoadContext.connection``): the rows,
   the ledger row, the execution row and the marks commit together. When the target is
   another database, the target commits first with a ledger row ``kind='replay'`` naming
   the letters it wrote, and the letters are asked of the ledger before writing
   (``loaded_letters``): a replay killed between the two leaves the letters ``pending``,
   the next replay marks them ``replayed`` without writing them again, and the
   reconciler settles the killed replay's row from the ledger. Other target types
   (file, http, plugins) are at-least-once across a crash between write and marks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg

from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.db.retry import retrying
from integration_orchestrator.factory.engines import Engines, open_target
from integration_orchestrator.factory.interpret import Interpreter
from integration_orchestrator.factory.letters import letters_lock
from integration_orchestrator.factory.resources import IntegrationDatabase
from integration_orchestrator.factory.serial import claim_lease, heartbeat
from integration_orchestrator.factory.translator import serial_value
from integration_orchestrator.factory.writeback import ensure_execution, finish_execution
from integration_orchestrator.model import FailedRecord, Integration
from integration_orchestrator.model.rows import Record
from integration_orchestrator.model.tags import TAG_SERIAL

__all__ = ["REPLAY_JOB_NAME", "REPLAY_RUN_PREFIX", "ReplayReport", "replay_group"]

REPLAY_JOB_NAME = "dead_letter_replay"
#: a replay's ``dagster_run_id`` (and ledger run id) starts with this
REPLAY_RUN_PREFIX = "replay:"


@dataclass
class ReplayReport:
    replayed: int = 0
    failed_again: int = 0
    skipped: list[str] = field(default_factory=list)  # why a group of letters was not replayed
    executions: list[str] = field(default_factory=list)
    #: letters a killed earlier replay had written (found in the target's ledger): marked, not written again
    already_loaded: int = 0


@dataclass
class _Outcome:
    records: int = 0
    written: int = 0
    already: int = 0
    outputs: dict[str, list[Record]] = field(default_factory=dict)  # letter id → records to write
    errors: dict[str, str] = field(default_factory=dict)  # letter id → new error (masked)


def _runner(record: Integration, step_name: str | None, engines: Engines
            ) -> Callable[[list[Record]], tuple[list[Record], list[FailedRecord]]]:
    """Compile once: run records from ``step_name`` through what follows it (:mod:`.interpret`)."""
    interpreter = Interpreter(record, engines, start=step_name)

    def run(records: list[Record]) -> tuple[list[Record], list[FailedRecord]]:
        final, runs = interpreter.run(records)
        return final, [f for node in runs for f in node.failures]

    return run


def _reread(letter: Mapping[str, Any]) -> tuple[Any, str | None]:
    """The record in a source letter's ``text`` (edited in the letter to fix it), or why not."""
    try:
        value = orjson.loads(str(letter.get("text", "")))
    except orjson.JSONDecodeError as error:
        return letter, f"line {letter.get('line')} of {letter.get('file')} is still not valid JSON: {error}"
    if not isinstance(value, dict):
        return letter, f"line {letter.get('line')} of {letter.get('file')} is still not a JSON object"
    return value, None


def _execution_row(integration: Integration, run_id: str, step: str | None, serial: str | None) -> dict[str, Any]:
    tags = {"replay": "true", "from_step": step or ""}
    if serial:
        tags[TAG_SERIAL] = serial
    pipeline = integration.pipeline
    return {"run_id": run_id, "job_name": REPLAY_JOB_NAME, "organization_id": integration.config.organization_id,
            "config_id": integration.config.id, "pipeline_id": pipeline.id if pipeline else None, "tags": tags}


def _claim(conn: psycopg.Connection[Any], row: Mapping[str, Any], serial: str | None) -> str | None:
    """The lease for the replay (its execution row); the holder's run id when a run holds it.
    Without a Dagster instance, a holder is alive while its row is fresh (``serial.LEASE_TTL``)."""
    def claim(conn: psycopg.Connection[Any]) -> str | None:
        if serial is None:  # the integration allows concurrent runs: no lease, only the row
            ensure_execution(conn, **row)
            return None
        return claim_lease(conn, serial, lambda _run, fresh: fresh, row)

    return retrying(conn, claim, what=f"lease of replay {row['run_id']}")


def replay_group(conn: psycopg.Connection[Any], integration: Integration, step: str | None, ids: Sequence[str],
                 engines: Engines, database_url: str, report: ReplayReport) -> None:
    """Replay the letters ``ids`` (one integration, pipeline and step); see the module doc."""
    from integration_orchestrator.masking import masker_for

    name = integration.config.integration_name
    try:
        run = _runner(integration, step, engines)
    except LookupError as error:
        report.skipped.append(f"{len(ids)} letter(s) of `{name}`: {error}")
        return
    serial = serial_value(integration)
    organization_id = integration.config.organization_id
    run_id = f"{REPLAY_RUN_PREFIX}{uuid.uuid4()}"
    row = _execution_row(integration, run_id, step, serial)
    holder = _claim(conn, row, serial)
    if holder is not None:
        report.skipped.append(f"{len(ids)} letter(s) of `{name}`: refused, run {holder} of the integration is "
                              "still running (one run or replay per integration at a time); replay again later")
        return
    execution_id = retrying(conn, lambda c: ensure_execution(c, **row), what=f"execution row of {run_id}")
    try:
        with heartbeat(IntegrationDatabase(database_url=database_url), organization_id, run_id):
            outcome = _replay_atomically(conn, integration, run, step, ids, engines, database_url, run_id,
                                         execution_id)
    except Exception as error:
        message = masker_for(integration).text(f"replay failed: {error}")[:4000]
        finish_execution(conn, run_id=run_id, organization_id=organization_id, status="failed", error_message=message)
        raise
    report.executions.append(execution_id)
    report.replayed += outcome.records - len(outcome.errors)
    report.failed_again += len(outcome.errors)
    report.already_loaded += outcome.already


def _lock(conn: psycopg.Connection[Any], ids: Sequence[str]) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT id, record FROM integration_dead_letters
        WHERE id = ANY(%s::uuid[]) AND status = 'pending'
        ORDER BY created_at, id
        FOR UPDATE SKIP LOCKED
        """,
        (list(ids),),
    ).fetchall()


def _run_letters(integration: Integration, run: Callable[[list[Record]], tuple[list[Record], list[FailedRecord]]],
                 step: str | None, letters: list[dict[str, Any]]) -> _Outcome:
    from integration_orchestrator.masking import load_keyring_or_none, masker_for, unseal_record

    keyring, masker = load_keyring_or_none(), masker_for(integration)
    outcome = _Outcome(records=len(letters))
    for letter in letters:  # one by one: every failure belongs to exactly one letter
        letter_id = str(letter["id"])
        record = unseal_record(letter["record"], keyring)
        if step == "source":  # a line the source could not read: read it again
            record, unreadable = _reread(record)
            if unreadable is not None:
                outcome.errors[letter_id] = f"source: {masker.text_for(unreadable, record)}"
                continue
        output, failures = run([dict(record)])
        if failures:
            outcome.errors[letter_id] = f"{failures[0].step}: {masker.text_for(failures[0].message, record)}"
        else:
            outcome.outputs[letter_id] = output
    return outcome


def _write(conn: psycopg.Connection[Any], integration: Integration, engines: Engines, database_url: str,
           run_id: str, outcome: _Outcome) -> None:
    """The passing records into the target: joined to ``conn``'s transaction on the platform
    database, else ledgered with their letter ids (skipping letters a killed replay wrote)."""
    target = open_target(integration, database_url)
    if not hasattr(target, "loaded_letters"):  # no ledger: the engine's record-level write
        records = [r for rows in outcome.outputs.values() for r in rows]
        outcome.written = engines.write_target(integration, database_url, records) if records else 0
        return
    platform = bool(getattr(target, "same_as_platform", False))
    loaded = set() if platform else target.loaded_letters(list(outcome.outputs))
    outcome.already = len(loaded)
    todo = {letter: rows for letter, rows in outcome.outputs.items() if letter not in loaded}
    if not todo:
        return
    pipeline = integration.pipeline
    load = LoadContext(run_id=run_id, config_id=str(integration.config.id),
                       pipeline_id=str(pipeline.id) if pipeline else None, job_name=REPLAY_JOB_NAME,
                       kind="replay", letter_ids=tuple(todo), connection=conn if platform else None,
                       organization_id=integration.config.organization_id)
    outcome.written = int(target.write([[r for rows in todo.values() for r in rows]], load_context=load).rows_written)


def _replay_atomically(conn: psycopg.Connection[Any], integration: Integration,
                       run: Callable[[list[Record]], tuple[list[Record], list[FailedRecord]]], step: str | None,
                       ids: Sequence[str], engines: Engines, database_url: str, run_id: str,
                       execution_id: str) -> _Outcome:
    organization_id = integration.config.organization_id
    with conn.transaction():
        with tenant_transaction(conn, organization_id):
            letters = _lock(conn, ids)
        outcome = _run_letters(integration, run, step, letters)
        _write(conn, integration, engines, database_url, run_id, outcome)
        with tenant_transaction(conn, organization_id):
            letters_lock(conn, str(integration.config.id))  # promotions of this integration wait for the marks
            finish_execution(conn, run_id=run_id, organization_id=organization_id, status="succeeded",
                             records_in=outcome.records, records_out=outcome.written,
                             records_failed=len(outcome.errors), metadata={"already_loaded": outcome.already})
            _mark(conn, execution_id, letters, outcome)
    return outcome


def _mark(conn: psycopg.Connection[Any], execution_id: str, letters: list[dict[str, Any]], outcome: _Outcome) -> None:
    replayed = [str(letter["id"]) for letter in letters if str(letter["id"]) not in outcome.errors]
    if replayed:
        conn.execute(
            "UPDATE integration_dead_letters SET status = 'replayed', replayed_at = now(),"
            " replay_count = replay_count + 1, replay_execution_id = %s WHERE id = ANY(%s::uuid[])",
            (execution_id, replayed),
        )
    with conn.cursor() as cursor:
        cursor.executemany(
            "UPDATE integration_dead_letters SET replay_count = replay_count + 1, error_message = %s WHERE id = %s",
            [(error, letter) for letter, error in outcome.errors.items()],
        )
