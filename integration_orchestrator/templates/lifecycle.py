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

import time
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.templates.instantiate import Instance, InstanceError, load_instance
from integration_orchestrator.templates.testing import TestOutcome, evaluate

__all__ = ["DeploymentResult", "deploy_instance", "deprecate_instance", "run_config_tests"]


@dataclass(frozen=True)
class DeploymentResult:
    instance: Instance
    status: str
    outcomes: list[TestOutcome] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def passed_count(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)


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
        raise InstanceError(instance.instance_name, "is deprecated; instantiate the template again", field="deployment_status")
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
    """Run the active mapping tests of an integration and write the results back."""
    from integration_orchestrator.mapping import compile_plan
    from integration_orchestrator.mapping.errors import MappingDefinitionError
    from integration_orchestrator.mapping.records import load_mapping_rows

    with tenant_transaction(conn, organization_id):
        rows = load_mapping_rows(conn, config_id)
        tests = conn.execute(
            "SELECT t.id, t.test_name, t.test_type::text AS test_type, t.input_data, t.expected_output, "
            "m.mapping_name FROM integration_mapping_tests t JOIN integration_mappings m ON m.id = t.mapping_id "
            "WHERE m.config_id = %s AND m.is_active AND t.is_active ORDER BY m.mapping_name, t.test_name",
            (config_id,),
        ).fetchall()
    by_name = {r.mapping_name: r for r in rows}
    outcomes: list[TestOutcome] = []
    results: list[tuple[Any, TestOutcome]] = []
    for test in tests:
        name = test["mapping_name"]
        started = time.perf_counter()
        try:
            plan = compile_plan(_family(by_name, name))
            passed, actual, error = evaluate(plan.apply(test["input_data"]), test["expected_output"])
        except MappingDefinitionError as exc:
            passed, actual, error = False, {}, str(exc)
        outcome = TestOutcome(
            name, test["test_name"], test["test_type"], passed, test["expected_output"], actual, error,
            int((time.perf_counter() - started) * 1000),
        )
        outcomes.append(outcome)
        results.append((test["id"], outcome))
    with tenant_transaction(conn, organization_id):
        for test_id, outcome in results:
            conn.execute(
                "UPDATE integration_mapping_tests SET test_status = %s, actual_output = %s, execution_time_ms = %s, "
                "error_message = %s, last_run = now() WHERE id = %s",
                ("passed" if outcome.passed else "failed", Jsonb(outcome.actual), outcome.elapsed_ms,
                 None if outcome.passed else (outcome.error or "output differs from expected_output"), test_id),
            )
    return outcomes


def _family(by_name: dict[str, Any], name: str) -> list[Any]:
    """The mapping row ``name`` and its nested children (by name or id)."""
    by_id = {str(r.id): r for r in by_name.values()}
    out: list[Any] = []
    pending = [name]
    while pending:
        key = pending.pop()
        row = by_name.get(key) or by_id.get(str(key))
        if row is None or row in out:
            continue
        out.append(row)
        rules = row.transformation_rules or {}
        pending.extend(str(c) for c in rules.get("children") or [])
    return out
