"""Failure notifications: a row per recipient in ``integration_notifications``, sent by
pluggable notifiers.

A notifier is any object with a ``channel`` name and ``send(notification)``; packages
register a factory under the entry point group ``integration_orchestrator.notifiers``
(``name = "pkg.module:factory"``). Each factory is called with no argument and returns a
notifier, or None when it is not configured. The built-in ``webhook`` notifier posts the
notification as JSON to ``$INTEGRATION_ORCHESTRATOR_NOTIFY_WEBHOOK_URL`` (read when the
notifiers are loaded, never at import).

When a run of a schedule with ``notification_on_failure`` fails, every recipient in
``notification_recipients`` gets one row per notifier channel (``email``, pending, when no
notifier is configured: for an external mailer to pick up); each row ends ``sent`` or
``failed`` with the error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import httpx
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.writeback import Connection

__all__ = [
    "ENTRY_POINT_GROUP",
    "WEBHOOK_URL_ENV",
    "FailureNotification",
    "Notifier",
    "WebhookNotifier",
    "load_notifiers",
    "notify_failure",
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
    schedule_id: str
    schedule_name: str
    config_id: str
    run_id: str
    job_name: str
    status: str
    error: str | None

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
) -> list[str]:
    """Rows (and deliveries) for a failed run of ``record``; the row ids. Idempotent per run."""
    if not record.notification_on_failure or not record.notification_recipients:
        return []
    channels = [n.channel for n in notifiers] or [DEFAULT_CHANNEL]
    created: list[tuple[str, str, str]] = []
    with tenant_transaction(conn, record.organization_id):
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"notify:{run_id}",))
        if conn.execute(
            "SELECT 1 FROM integration_notifications WHERE schedule_id = %s AND payload->>'run_id' = %s LIMIT 1",
            (record.id, run_id),
        ).fetchone():
            return []
        for recipient in record.notification_recipients:
            for channel in channels:
                payload = {"run_id": run_id, "job_name": job_name, "status": status, "error": error,
                           "schedule_name": record.schedule_name, "config_id": record.config_id}
                row = conn.execute(
                    "INSERT INTO integration_notifications"
                    " (schedule_id, execution_id, recipient_id, channel, payload, organization_id)"
                    " VALUES (%s, %s, (SELECT id FROM users WHERE id = %s), %s, %s, %s) RETURNING id",
                    (record.id, execution_id, recipient, channel, Jsonb({**payload, "recipient_id": recipient}),
                     record.organization_id),
                ).fetchone()
                assert row is not None
                created.append((str(row["id"]), recipient, channel))
    by_channel = {n.channel: n for n in notifiers}
    for row_id, recipient, channel in created:
        notifier = by_channel.get(channel)
        if notifier is None:
            continue
        message = FailureNotification(row_id, recipient, record.organization_id, record.id, record.schedule_name,
                                      record.config_id, run_id, job_name, status, error)
        _deliver(conn, record.organization_id, row_id, notifier, message)
    return [row_id for row_id, _, _ in created]


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
