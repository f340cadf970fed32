"""Failure notifications: a row per recipient in ``integration_notifications``, sent by
pluggable notifiers.

A notifier is any object with a ``channel`` name and ``send(notification)``; packages
register a factory under the entry point group ``integration_orchestrator.notifiers``
(``name = "pkg.module:factory"``). Each factory is called with no argument and returns a
notifier, or None when it is not configured. The built-in ``webhook`` notifier posts the
notification as JSON to ``$INTEGRATION_ORCHESTRATOR_NOTIFY_WEBHOOK_URL`` (read when the
notifiers are loaded, never at import).

Every failed run of an integration notifies, whatever launched it (:func:`launch_path`:
``schedule`` tick, ``sensor`` (event or run-after), ``manual`` (``dagster job launch``, the
UI), ``re-execution``). The recipients are those of the run's schedule row when it has one
(``integration/schedule_id``), else of every schedule row of its integration (any type,
``manual`` included) with ``notification_on_failure``; a recipient whose
``users.notify_on_manual_runs`` is false is left out of manual runs. Each recipient gets one
row per notifier channel (``email``, pending, when no notifier is configured: for an
external mailer to pick up), carrying the launch path in its payload; each row ends
``sent`` or ``failed`` with the error. One run notifies once (rows keyed by run id).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import httpx
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.model.tags import (
    TAG_EVENT_ID,
    TAG_SCHEDULE_EXECUTION_ID,
    TAG_SCHEDULE_ID,
    TAG_UPSTREAM_RUN_ID,
)
from integration_orchestrator.schedules.writeback import Connection

__all__ = [
    "ENTRY_POINT_GROUP",
    "WEBHOOK_URL_ENV",
    "FailureNotification",
    "Notifier",
    "WebhookNotifier",
    "launch_path",
    "load_notifiers",
    "notify_failure",
    "notify_run_failure",
    "webhook_from_environment",
]

ENTRY_POINT_GROUP = "integration_orchestrator.notifiers"
WEBHOOK_URL_ENV = "INTEGRATION_ORCHESTRATOR_NOTIFY_WEBHOOK_URL"
DEFAULT_CHANNEL = "email"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FailureNotification:
    """What a recipient is told about a failed run (the JSON a webhook receives)."""

    notification_id: str
    recipient_id: str
    organization_id: str
    schedule_id: str | None
    schedule_name: str | None
    config_id: str
    run_id: str
    job_name: str
    status: str
    error: str | None
    launch_path: str = "schedule"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Notifier(Protocol):
    channel: str

    def send(self, notification: FailureNotification) -> None:
        """Deliver, or raise with the reason."""


class WebhookNotifier:
    """POSTs each notification as JSON; any non-2xx answer is a failure."""

    channel = "webhook"

    def __init__(self, url: str, *, timeout: float = 10.0, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.timeout = timeout
        self.headers = headers or {}

    def send(self, notification: FailureNotification) -> None:
        response = httpx.post(self.url, json=notification.as_json(), timeout=self.timeout, headers=self.headers)
        response.raise_for_status()


def webhook_from_environment() -> WebhookNotifier | None:
    """The ``webhook`` entry point: configured by :data:`WEBHOOK_URL_ENV`."""
    url = os.environ.get(WEBHOOK_URL_ENV)
    return WebhookNotifier(url) if url else None


def load_notifiers() -> list[Notifier]:
    """Every configured notifier registered under :data:`ENTRY_POINT_GROUP`."""
    notifiers: list[Notifier] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            notifier = entry.load()()
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the others
            log.warning("notifier %s could not be loaded: %s", entry.name, error)
            continue
        if notifier is not None:
            notifiers.append(notifier)
    return notifiers


PARENT_RUN_TAG = "dagster/parent_run_id"
LAUNCH_PATHS = ("schedule", "sensor", "manual", "re-execution")


def launch_path(tags: Mapping[str, str]) -> str:
    """How a run was launched, from its tags: one of :data:`LAUNCH_PATHS`."""
    if tags.get(PARENT_RUN_TAG):
        return "re-execution"
    if tags.get(TAG_SCHEDULE_EXECUTION_ID):
        return "schedule"
    if tags.get(TAG_EVENT_ID) or tags.get(TAG_UPSTREAM_RUN_ID) or tags.get(TAG_SCHEDULE_ID):
        return "sensor"
    return "manual"


def notify_failure(
    conn: Connection,
    record: ScheduleRecord,
    *,
    run_id: str,
    job_name: str,
    status: str,
    error: str | None,
    notifiers: Sequence[Notifier],
    execution_id: str | None = None,
    path: str = "schedule",
) -> list[str]:
    """Rows (and deliveries) for a failed run of ``record``; the row ids. Idempotent per run."""
    return notify_run_failure(
        conn, [record], organization_id=record.organization_id, config_id=record.config_id, run_id=run_id,
        job_name=job_name, status=status, error=error, notifiers=notifiers, execution_id=execution_id, path=path,
        run_schedule=record,
    )


def notify_run_failure(
    conn: Connection,
    records: Sequence[ScheduleRecord],
    *,
    organization_id: str,
    config_id: str,
    run_id: str,
    job_name: str,
    status: str,
    error: str | None,
    notifiers: Sequence[Notifier],
    execution_id: str | None = None,
    path: str = "manual",
    run_schedule: ScheduleRecord | None = None,
) -> list[str]:
    """Rows (and deliveries) for a failed run, to the recipients of ``records`` (the run's
    schedule, or its integration's schedules); the row ids. Idempotent per run.

    ``run_schedule`` is the schedule row that launched the run (its id and name go on the
    rows), ``path`` how the run was launched (:func:`launch_path`).
    """
    recipients = _recipients(records)
    if not recipients:
        return []
    channels = [n.channel for n in notifiers] or [DEFAULT_CHANNEL]
    created: list[tuple[str, str, str, ScheduleRecord]] = []
    with tenant_transaction(conn, organization_id):
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"notify:{run_id}",))
        if conn.execute(
            "SELECT 1 FROM integration_notifications WHERE payload->>'run_id' = %s LIMIT 1", (run_id,)
        ).fetchone():
            return []
        if path == "manual":
            recipients = _wanting_manual(conn, recipients)
        single = run_schedule
        for recipient, record in recipients:
            for channel in channels:
                payload = {"run_id": run_id, "job_name": job_name, "status": status, "error": error,
                           "schedule_name": single.schedule_name if single else None, "config_id": config_id,
                           "launch_path": path, "recipient_id": recipient}
                row = conn.execute(
                    "INSERT INTO integration_notifications"
                    " (schedule_id, execution_id, recipient_id, channel, payload, organization_id)"
                    " VALUES (%s, %s, (SELECT id FROM users WHERE id = %s), %s, %s, %s) RETURNING id",
                    (single.id if single else None, execution_id, recipient, channel, Jsonb(payload),
                     organization_id),
                ).fetchone()
                assert row is not None
                created.append((str(row["id"]), recipient, channel, record))
    by_channel = {n.channel: n for n in notifiers}
    single = run_schedule
    for row_id, recipient, channel, _schedule in created:
        notifier = by_channel.get(channel)
        if notifier is None:
            continue
        message = FailureNotification(
            row_id, recipient, organization_id, single.id if single else None,
            single.schedule_name if single else None, config_id, run_id, job_name, status, error, path,
        )
        _deliver(conn, organization_id, row_id, notifier, message)
    return [row_id for row_id, _, _, _ in created]


def _recipients(records: Sequence[ScheduleRecord]) -> list[tuple[str, ScheduleRecord]]:
    """Each recipient once, with the first schedule row that names it."""
    seen: dict[str, ScheduleRecord] = {}
    for record in records:
        if record.notification_on_failure:
            for recipient in record.notification_recipients:
                seen.setdefault(str(recipient), record)
    return list(seen.items())


def _wanting_manual(conn: Connection, recipients: list[tuple[str, ScheduleRecord]]) -> list[tuple[str, ScheduleRecord]]:
    """The recipients that did not opt out of manual runs (``users.notify_on_manual_runs``)."""
    rows = conn.execute(
        "SELECT id::text AS id FROM users WHERE id = ANY(%s::uuid[]) AND NOT notify_on_manual_runs",
        ([r for r, _ in recipients],),
    ).fetchall()
    out = {row["id"] for row in rows}
    return [(r, record) for r, record in recipients if r not in out]


def _deliver(
    conn: Connection, organization_id: str, row_id: str, notifier: Notifier, message: FailureNotification
) -> None:
    detail: str | None
    try:
        notifier.send(message)
    except Exception as error:  # noqa: BLE001 - any delivery error is recorded on the row
        status, detail = "failed", f"{type(error).__name__}: {error}"
    else:
        status, detail = "sent", None
    with tenant_transaction(conn, organization_id):
        conn.execute(
            "UPDATE integration_notifications SET status = %s, error = %s,"
            " sent_at = CASE WHEN %s = 'sent' THEN now() END WHERE id = %s",
            (status, detail, status, row_id),
        )
