"""``deployment_status`` of a template instance: draft → testing → active → deprecated.

* ``draft``: just instantiated (``create_integration_from_template``).
* ``testing``: its mapping tests are being run (deploy) or its template was upgraded.
* ``active``: every active mapping test of its integration passed (``deployed_date`` set).
  A failing test leaves it in ``testing``.
* ``deprecated``: retired on purpose; its integration is deactivated (terminal).

The tests are the integration's ``integration_mapping_tests`` rows (the template's tests
copied at instantiation, plus any the organization added), run through the real mapping
code and written back (status, actual output, time, error, last run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.templates.instantiate import Instance, InstanceError, load_instance
from integration_orchestrator.templates.testing import OutcomeTotals, TestOutcome, outcome_from

__all__ = ["DeploymentResult", "deploy_instance", "deprecate_instance", "run_config_tests"]


@dataclass(frozen=True)
class DeploymentResult(OutcomeTotals):
    instance: Instance
    status: str
    outcomes: list[TestOutcome] = field(default_factory=list)


def _set_status(conn: psycopg.Connection[Any], instance: Instance, status: str, *, deployed: bool = False) -> None:
    with tenant_transaction(conn, instance.organization_id):
        conn.execute(
            "UPDATE integration_template_instances SET deployment_status = %s, "
            "deployed_date = CASE WHEN %s THEN now() ELSE deployed_date END WHERE id = %s",
            (status, deployed, instance.id),
        )


def deploy_instance(conn: psycopg.Connection[Any], reference: str, organization_id: UUID | str) -> DeploymentResult:
    """Run the instance's tests: ``testing`` while they run, ``active`` when all pass."""
    instance = load_instance(conn, reference, organization_id)
    if instance.deployment_status == "deprecated":
        raise InstanceError(
            instance.instance_name, "is deprecated; instantiate the template again", field="deployment_status"
        )
    _set_status(conn, instance, "testing")
    outcomes = run_config_tests(conn, instance.config_id, organization_id)
    passed = bool(outcomes) and all(o.passed for o in outcomes)
    status = "active" if passed else "testing"
    if passed:
        _set_status(conn, instance, "active", deployed=True)
    return DeploymentResult(load_instance(conn, str(instance.id), organization_id), status, outcomes)


def deprecate_instance(conn: psycopg.Connection[Any], reference: str, organization_id: UUID | str) -> Instance:
    instance = load_instance(conn, reference, organization_id)
    with tenant_transaction(conn, organization_id):
        conn.execute(
            "UPDATE integration_template_instances SET deployment_status = 'deprecated' WHERE id = %s", (instance.id,)
        )
        conn.execute("UPDATE integration_configs SET is_active = false WHERE id = %s", (instance.config_id,))
    return load_instance(conn, str(instance.id), organization_id)


def run_config_tests(
    conn: psycopg.Connection[Any], config_id: UUID | str, organization_id: UUID | str
) -> list[TestOutcome]:
    """Run the active mapping tests of an integration as the organization, through the
    mapping engine's runner (results and ``test_coverage`` written back)."""
    from integration_orchestrator.mapping.testing import run_mapping_tests

    with tenant_transaction(conn, organization_id):
        report = run_mapping_tests(conn, config_id)
        expected = {
            str(r["id"]): r["expected_output"]
            for r in conn.execute(
                "SELECT t.id, t.expected_output FROM integration_mapping_tests t "
                "JOIN integration_mappings m ON m.id = t.mapping_id WHERE m.config_id = %s",
                (config_id,),
            ).fetchall()
        }
    return [outcome_from(r, expected.get(str(r.test_id), {})) for r in report.results]
