"""The reconciler's reading of load ledgers.

Every target type whose target class has ``recorded_loads(run_ids)`` keeps a load
ledger: ``postgres_table`` (``integration_loads`` in the target's own transaction,
``connectors/postgres_ledger.py``), ``file`` (``<file>.loads.ndjson``, beside the file,
``connectors/file_ledger.py``) and ``http`` (completed loads in the platform database,
``connectors/http_ledger.py``); a plugin target joins by having the method. An execution
row that is still open, or failed, while its run has a ledger entry, belongs to a run
whose data committed: the reconciler finishes it ``succeeded`` with the ledger's counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

from integration_orchestrator.connectors.base import ConnectorError, WriteResult
from integration_orchestrator.errors import IntegrationOrchestratorError
from integration_orchestrator.factory.writeback import ledger_candidates, settle_from_ledger

__all__ = ["ledger_target_types", "settle_loaded_runs"]

Log = Callable[[str], None]


def _recorded(database_url: str, rows: list[dict[str, Any]], log: Log) -> dict[str, WriteResult]:
    """The ledger results of ``rows`` (one config's executions), read from its target."""
    from integration_orchestrator.connectors import open_target
    from integration_orchestrator.credentials import secret_resolver

    first = rows[0]
    try:
        target = open_target(first["target"], secret_resolver(database_url, first["organization_id"],
                                                               first["config_id"]),
                             database_url=database_url, row_name=first["integration_name"], row_id=first["config_id"])
        return dict(target.recorded_loads([str(r["dagster_run_id"]) for r in rows]))  # type: ignore[attr-defined]
    except (ConnectorError, IntegrationOrchestratorError, psycopg.Error) as exc:
        log(f"load ledger of {first['integration_name']!r} not readable: {exc}")
        return {}


def ledger_target_types() -> list[str]:
    """The registered target types that keep a load ledger (their class has ``recorded_loads``)."""
    from integration_orchestrator.connectors import connector_spec, registered_types

    return [t for t in registered_types("target")
            if (spec := connector_spec("target", t)) is not None and hasattr(spec.factory, "recorded_loads")]


def settle_loaded_runs(conn: psycopg.Connection[Any], database_url: str, log: Log = lambda _: None) -> list[str]:
    """Finish ``succeeded`` every open or failed row whose run is in its target's ledger; the run ids."""
    by_config: Mapping[str, list[dict[str, Any]]] = defaultdict(list)
    for row in ledger_candidates(conn, ledger_target_types()):
        by_config[str(row["config_id"])].append(row)
    settled: list[str] = []
    for rows in by_config.values():
        recorded = _recorded(database_url, rows, log)
        for row in rows:
            run_id = str(row["dagster_run_id"])
            result = recorded.get(run_id)
            if result is None:
                continue
            ledger = {"rows_written": result.rows_written, "inserted": result.inserted,
                      "updated": result.updated, "unchanged": result.unchanged}
            if settle_from_ledger(conn, run_id=run_id, organization_id=str(row["organization_id"]),
                                  rows_written=result.rows_written, ledger=ledger):
                settled.append(run_id)
    return settled
