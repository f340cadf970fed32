"""Every organization's mapping tests in one report, as ``mappings test`` runs them.

The selection (``config_id``, ``mapping_id``) is checked as the owner; the tests then
run inside each organization's tenant transaction, so row-level security applies to
every row they read and write back (:func:`~integration_orchestrator.tenancy.per_organization`).
"""

from __future__ import annotations

from typing import Any

import psycopg

from integration_orchestrator.errors import NotFoundError
from integration_orchestrator.mapping.testing import MappingTestReport, run_mapping_tests
from integration_orchestrator.tenancy import per_organization, require_visible

__all__ = ["check_selection", "run_every_organization"]

_CONFIG_EXISTS = "SELECT 1 FROM integration_configs WHERE id = %s"
_MAPPING_EXISTS = "SELECT 1 FROM integration_mappings WHERE id = %s"


def check_selection(conn: psycopg.Connection[Any], config_id: str | None, mapping_id: str | None) -> None:
    """Raise :class:`NotFoundError` (naming the option) when the config or mapping does not exist."""
    if config_id is not None and not conn.execute(_CONFIG_EXISTS, (config_id,)).fetchone():
        raise NotFoundError("integration config", config_id, argument="--config-id")
    if mapping_id is not None and not conn.execute(_MAPPING_EXISTS, (mapping_id,)).fetchone():
        raise NotFoundError("mapping", mapping_id, argument="--mapping-id")


def run_every_organization(
    conn: psycopg.Connection[Any],
    config_id: str | None = None,
    mapping_id: str | None = None,
    *,
    organization_id: str | None = None,
    direction: str | None = None,
) -> MappingTestReport:
    """Check the selection, then run each organization's tests as its application role; one report.

    With ``organization_id``, only that organization's, and a selected id it cannot see is
    refused (:func:`~integration_orchestrator.tenancy.not_in_organization`).
    """
    if organization_id is None:
        check_selection(conn, config_id, mapping_id)
    else:
        require_visible(conn, organization_id, "integration_configs", [config_id] if config_id else [],
                        "integration config")
        require_visible(conn, organization_id, "integration_mappings", [mapping_id] if mapping_id else [], "mapping")
    report = MappingTestReport()
    for _organization in per_organization(conn, organization_id):
        part = run_mapping_tests(conn, config_id, mapping_id=mapping_id, direction=direction)
        report.results.extend(part.results)
        report.warnings.extend(part.warnings)
        report.coverage.update(part.coverage)
    return report
