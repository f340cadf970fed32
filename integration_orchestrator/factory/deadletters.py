"""Dead letters: list them, replay them through the current pipeline.

A replay takes the pending letters (locked ``FOR UPDATE SKIP LOCKED``, so two replays
never take the same letter), runs each record from the step where it failed through the
*current* definition of its pipeline (mappings first when it failed in the mappings),
writes what passes to the target, and in the same transaction as the lock records one
``integration_executions`` row for the replay (audit: ``tags.replay``, counts) and marks
the letters ``replayed`` (``replay_execution_id`` set). Records that fail again stay
``pending`` with the new error and ``replay_count`` + 1. The integration comes from a
fresh snapshot (the same validation as the code location): an invalid pipeline is
reported, not replayed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.interpret import Interpreter
from integration_orchestrator.factory.validate import validate_snapshot
from integration_orchestrator.model import FailedRecord, Integration
from integration_orchestrator.model.rows import Record, Snapshot

__all__ = ["ReplayReport", "list_dead_letters", "replay_dead_letters"]



def list_dead_letters(
    conn: psycopg.Connection[Any], *, status: str | None = "pending", config_id: str | None = None, limit: int = 100,
    organization_id: str | None = None,
) -> list[dict[str, Any]]:
    """Dead letters of every organization (or ``organization_id``'s), each read as its application role."""
    from integration_orchestrator.tenancy import per_organization

    letters = [
        row for _org in per_organization(conn, organization_id) for row in _letters(conn, status, config_id, limit)
    ]
    return sorted(letters, key=lambda r: (r["created_at"], str(r["id"])))[:limit]


def _letters(
    conn: psycopg.Connection[Any], status: str | None, config_id: str | None, limit: int
) -> list[dict[str, Any]]:
    return conn.execute(
        """
        SELECT d.id, d.created_at, d.status, d.step_name, d.error_message, d.replay_count, d.record,
               c.integration_name, p.pipeline_name
        FROM integration_dead_letters d
        JOIN integration_configs c ON c.id = d.config_id
        LEFT JOIN integration_pipeline_definitions p ON p.id = d.pipeline_id
        WHERE (%(status)s::dead_letter_status IS NULL OR d.status = %(status)s::dead_letter_status)
          AND (%(config)s::uuid IS NULL OR d.config_id = %(config)s::uuid)
        ORDER BY d.created_at, d.id
        LIMIT %(limit)s
        """,
        {"status": status, "config": config_id, "limit": limit},
    ).fetchall()


@dataclass
class ReplayReport:
    replayed: int = 0
    failed_again: int = 0
    skipped: list[str] = field(default_factory=list)  # why a group of letters was not replayed
    executions: list[str] = field(default_factory=list)


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


def _find(integrations: Sequence[Integration], config_id: str, pipeline_id: str | None) -> Integration | None:
    for record in integrations:
        if record.config.id == config_id and (record.pipeline.id if record.pipeline else None) == pipeline_id:
            return record
    return None


def replay_dead_letters(
    conn: psycopg.Connection[Any],
    snapshot: Snapshot,
    engines: Engines,
    database_url: str,
    *,
    config_id: str | None = None,
    letter_ids: Sequence[str] = (),
    organization_id: str | None = None,
) -> ReplayReport:
    """Replay the pending letters (all, one config's, or the given ids); see the module doc.

    Every organization's letters (or only ``organization_id``'s) are read, locked and
    replayed as its application role.
    """
    from integration_orchestrator.tenancy import per_organization

    validated = validate_snapshot(snapshot, engines)
    report = ReplayReport()
    with conn.transaction():
        organizations = per_organization(conn, organization_id)
        letters = [letter for _org in organizations for letter in _pending(conn, config_id, letter_ids)]
        groups: dict[tuple[str, str | None, str | None], list[dict[str, Any]]] = defaultdict(list)
        for letter in sorted(letters, key=lambda r: (r["created_at"], str(r["id"]))):
            pipeline = str(letter["pipeline_id"]) if letter["pipeline_id"] else None
            groups[(str(letter["config_id"]), pipeline, letter["step_name"])].append(letter)
        for (config, pipeline, step), group in groups.items():
            integration = _find(validated.integrations, config, pipeline)
            if integration is None:
                report.skipped.append(f"{len(group)} letter(s) of integration {config} / pipeline {pipeline}: "
                                      "not loadable now (inactive or invalid; see `validate`)")
                continue
            with tenant_transaction(conn, integration.config.organization_id):  # writes under row-level security
                _replay_group(conn, integration, step, group, engines, database_url, report)
    return report


def _pending(conn: psycopg.Connection[Any], config_id: str | None, letter_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The organization's pending letters (locked until the end of the replay's transaction)."""
    return conn.execute(
        """
        SELECT id, config_id, pipeline_id, step_name, record, organization_id, created_at
        FROM integration_dead_letters
        WHERE status = 'pending'
          AND (%(config)s::uuid IS NULL OR config_id = %(config)s::uuid)
          AND (cardinality(%(ids)s::uuid[]) = 0 OR id = ANY(%(ids)s::uuid[]))
        ORDER BY created_at, id
        FOR UPDATE SKIP LOCKED
        """,
        {"config": config_id, "ids": list(letter_ids)},
    ).fetchall()


def _replay_group(conn: psycopg.Connection[Any], integration: Integration, step: str | None,
                  group: list[dict[str, Any]], engines: Engines, database_url: str, report: ReplayReport) -> None:
    try:
        run = _runner(integration, step, engines)
    except LookupError as error:
        report.skipped.append(f"{len(group)} letter(s) of `{integration.config.integration_name}`: {error}")
        return
    from integration_orchestrator.masking import (
        load_keyring_or_none,
        masker_for,
        unseal_record,
    )

    keyring, masker = load_keyring_or_none(), masker_for(integration)
    outputs: list[Record] = []
    outcomes: list[str | None] = []  # per letter: None replayed, else the new error (masked)
    for letter in group:  # one by one: every failure belongs to exactly one letter
        record = unseal_record(letter["record"], keyring)
        if step == "source":  # a line the source could not read: read it again
            record, unreadable = _reread(record)
            if unreadable is not None:
                outcomes.append(f"source: {masker.text_for(unreadable, record)}")
                continue
        output, failures = run([dict(record)])
        outcomes.append(f"{failures[0].step}: {masker.text_for(failures[0].message, record)}" if failures else None)
        if not failures:
            outputs.extend(output)
    written = engines.write_target(integration, database_url, outputs) if outputs else 0
    failed = sum(1 for o in outcomes if o is not None)
    execution = conn.execute(
        """
        INSERT INTO integration_executions (config_id, pipeline_id, dagster_job_name, status, started_at, finished_at,
            records_in, records_out, records_failed, tags, organization_id)
        VALUES (%s, %s, 'dead_letter_replay', 'succeeded', now(), now(), %s, %s, %s, %s, %s)
        RETURNING id
        """,
        (integration.config.id, integration.pipeline.id if integration.pipeline else None, len(group), written,
         failed, Jsonb({"replay": "true", "from_step": step or ""}), integration.config.organization_id),
    ).fetchone()
    assert execution is not None
    report.executions.append(str(execution["id"]))
    for letter, outcome in zip(group, outcomes, strict=True):
        if outcome is None:
            conn.execute(
                "UPDATE integration_dead_letters SET status = 'replayed', replayed_at = now(),"
                " replay_count = replay_count + 1, replay_execution_id = %s WHERE id = %s",
                (execution["id"], letter["id"]),
            )
            report.replayed += 1
        else:
            conn.execute(
                "UPDATE integration_dead_letters SET replay_count = replay_count + 1, error_message = %s WHERE id = %s",
                (outcome, letter["id"]),
            )
            report.failed_again += 1
