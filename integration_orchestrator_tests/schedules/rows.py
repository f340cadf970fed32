"""Rows for schedule tests: an organization, an integration, schedules, events."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = ["insert_config", "insert_event", "insert_org", "insert_schedule", "insert_user", "schedule_record"]

Conn = psycopg.Connection[dict[str, Any]]


def insert_org(db: Conn, name: str = "Acme") -> str:
    slug = f"{name.lower()}-{uuid.uuid4().hex[:6]}"
    return str(db.execute("INSERT INTO organizations (name, slug) VALUES (%s, %s) RETURNING id", (name, slug)).fetchone()["id"])


def insert_user(db: Conn, org: str) -> str:
    email = f"u{uuid.uuid4().hex[:8]}@example.com"
    return str(
        db.execute("INSERT INTO users (organization_id, email) VALUES (%s, %s) RETURNING id", (org, email)).fetchone()["id"]
    )


def insert_config(db: Conn, org: str, name: str = "Orders sync") -> str:
    return str(
        db.execute(
            "INSERT INTO integration_configs (integration_name, integration_type, organization_id)"
            " VALUES (%s, 'sync', %s) RETURNING id",
            (name, org),
        ).fetchone()["id"]
    )


def insert_schedule(db: Conn, org: str, config: str, **columns: Any) -> dict[str, Any]:
    values = {"schedule_name": "Nightly", "schedule_type": "cron", "cron_expression": "0 2 * * *", **columns}
    values = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in values.items()}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    return db.execute(
        f"INSERT INTO integration_schedules (config_id, organization_id, {names}) VALUES (%s, %s, {marks}) RETURNING *",
        (config, org, *values.values()),
    ).fetchone()


def schedule_record(db: Conn, org: str, config: str, **columns: Any) -> ScheduleRecord:
    return ScheduleRecord.from_row(insert_schedule(db, org, config, **columns))


def insert_event(db: Conn, org: str, config: str, event_type: str = "order.created", payload: dict | None = None) -> str:
    return str(
        db.execute(
            "INSERT INTO integration_events (config_id, event_type, payload, organization_id)"
            " VALUES (%s, %s, %s, %s) RETURNING id",
            (config, event_type, Jsonb(payload or {}), org),
        ).fetchone()["id"]
    )
