"""Dead letters: list them, replay them through the current pipeline.

Only ``pending`` letters are replayed: those of runs whose load committed
(``factory/letters.py``); a ``staged`` letter belongs to a run that never committed.
A replay reads the pending letters and replays them per (integration, pipeline, step)
group (``factory/replay.py``): each group under the integration's run lease, with its own
``integration_executions`` row (audit: ``tags.replay``, counts), its letters locked
``FOR UPDATE SKIP LOCKED`` (two replays never take the same letter), each record run from
the step where it failed through the *current* definition of its pipeline, and the target
write committed atomically with the letter marks (ARCHITECTURE.md §10.9). Records that
fail again stay ``pending`` with the new error and ``replay_count`` + 1. The integration
comes from a fresh snapshot (the same validation as the code location): an invalid
pipeline is reported, not replayed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import psycopg

from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.replay import ReplayReport, replay_group
from integration_orchestrator.factory.validate import validate_snapshot
from integration_orchestrator.model import Integration
from integration_orchestrator.model.rows import Snapshot

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

    Every organization's letters (or only ``organization_id``'s) are read and replayed as
    its application role. ``conn`` must not be inside a transaction of the caller's (it is
    committed after the read): each group's lease and replay commit on their own.
    """
    from integration_orchestrator.tenancy import per_organization

    validated = validate_snapshot(snapshot, engines)
    report = ReplayReport()
    letters = [letter for _org in per_organization(conn, organization_id)
               for letter in _pending(conn, config_id, letter_ids)]
    if not conn.autocommit:
        conn.commit()  # end the read (the owner's organization list): each group commits on its own
    groups: dict[tuple[str, str | None, str | None], list[str]] = defaultdict(list)
    for letter in sorted(letters, key=lambda r: (r["created_at"], str(r["id"]))):
        pipeline = str(letter["pipeline_id"]) if letter["pipeline_id"] else None
        groups[(str(letter["config_id"]), pipeline, letter["step_name"])].append(str(letter["id"]))
    for (config, pipeline, step), ids in groups.items():
        integration = _find(validated.integrations, config, pipeline)
        if integration is None:
            report.skipped.append(f"{len(ids)} letter(s) of integration {config} / pipeline {pipeline}: "
                                  "not loadable now (inactive or invalid; see `validate`)")
            continue
        replay_group(conn, integration, step, ids, engines, database_url, report)
    return report


def _pending(conn: psycopg.Connection[Any], config_id: str | None, letter_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The organization's pending letters (each group locks its own when it replays them)."""
    return conn.execute(
        """
        SELECT id, config_id, pipeline_id, step_name, created_at
        FROM integration_dead_letters
        WHERE status = 'pending'
          AND (%(config)s::uuid IS NULL OR config_id = %(config)s::uuid)
          AND (cardinality(%(ids)s::uuid[]) = 0 OR id = ANY(%(ids)s::uuid[]))
        ORDER BY created_at, id
        """,
        {"config": config_id, "ids": list(letter_ids)},
    ).fetchall()
