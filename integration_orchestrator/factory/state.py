"""An integration's incremental state, as the command line shows and resets it.

The state lives in the target's load ledger (ARCHITECTURE.md §10.9), so both commands open
the integration's target (secrets resolved as a run would) and use its ledger methods:
``latest_state`` and ``recent_loads`` to show, ``reset_state`` to add a ``kind='reset'``
row (the next run starts from the given state, or from the start). A target type without
them keeps no state, and the commands say so.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from integration_orchestrator.connectors import open_target
from integration_orchestrator.credentials import secret_resolver
from integration_orchestrator.db import connect
from integration_orchestrator.errors import NotFoundError, UsageError
from integration_orchestrator.masking import register_secret

__all__ = ["StateReport", "reset_integration_state", "show_integration_state"]


@dataclass(frozen=True)
class StateReport:
    config_id: str
    integration_name: str
    target: str
    declared: Any
    state: Any
    loads: list[dict[str, Any]]


def _config(database_url: str, config_id: str) -> dict[str, Any]:
    try:
        uuid.UUID(config_id)
    except ValueError:
        raise UsageError(f"`{config_id}` is not a config id (a UUID)", argument="CONFIG_ID") from None
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT id::text AS id, organization_id::text AS organization_id, integration_name, connection_config "
            "FROM integration_configs WHERE id = %s", (config_id,)).fetchone()
    if row is None:
        raise NotFoundError("integration config", config_id, by="id", argument="CONFIG_ID")
    return dict(row)


def _target(database_url: str, row: dict[str, Any], method: str) -> Any:
    resolver = secret_resolver(database_url, organization_id=row["organization_id"], config_id=row["id"])

    def resolve(name: str) -> str:
        value = resolver(name)
        register_secret(value)
        return value

    config = row["connection_config"] or {}
    target = open_target(config.get("target") or {}, resolve, database_url=database_url,
                         row_name=row["integration_name"], row_id=row["id"])
    if not callable(getattr(target, method, None)):
        raise UsageError(f"integration '{row['integration_name']}': its `{(config.get('target') or {}).get('type')}` "
                         "target keeps no incremental state (no load ledger)")
    return target


def show_integration_state(database_url: str, config_id: str, limit: int = 10) -> StateReport:
    """The integration's state and its ledger's newest ``limit`` rows."""
    row = _config(database_url, config_id)
    target = _target(database_url, row, "latest_state")
    loads = target.recent_loads(row["id"], limit) if callable(getattr(target, "recent_loads", None)) else []
    source = (row["connection_config"] or {}).get("source") or {}
    return StateReport(row["id"], row["integration_name"], str(getattr(target, "name", "target")),
                       source.get("incremental"), target.latest_state(row["id"]), loads)


def reset_integration_state(database_url: str, config_id: str, state: Any = None) -> str:
    """Add a reset to the integration's ledger; the next run starts from ``state`` (None: the start)."""
    row = _config(database_url, config_id)
    return str(_target(database_url, row, "reset_state").reset_state(row["id"], state))
