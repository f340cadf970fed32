"""Template upgrades: the diff between versions and applying it to an instance."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

import pytest

from integration_orchestrator.db import connect
from integration_orchestrator.templates.instantiate import InstanceError, instantiate_template
from integration_orchestrator.templates.library import install_template
from integration_orchestrator.templates.model import parse_template
from integration_orchestrator.templates.upgrade import diff_documents, upgrade_instance
from integration_orchestrator_tests.rows import add_mapping_test, add_organization
from integration_orchestrator_tests.templates.helpers import minimal_template


def _v1() -> dict[str, Any]:
    data = minimal_template()
    data["mapping_templates"]["target_schema"]["properties"]["nickname"] = {}
    data["mapping_templates"]["mappings"].append(
        {"name": "nickname", "source_path": "$.nick", "target_path": "nickname", "error_handling": "null"}
    )
    data["test_suite"]["tests"].append(
        {"mapping": "nickname", "name": "nick copied", "test_type": "unit",
         "input_data": {"id": "7", "nick": "ada"}, "expected_output": {"nickname": "ada"}}
    )
    return data


def _v2() -> dict[str, Any]:
    data = copy.deepcopy(_v1())
    data["version"] = "1.1.0"
    mappings = data["mapping_templates"]["mappings"]
    data["mapping_templates"]["mappings"] = [m for m in mappings if m["name"] != "nickname"]
    data["mapping_templates"]["mappings"][0]["error_handling"] = "skip"  # person_id changed
    data["mapping_templates"]["mappings"].append(
        {"name": "team", "source_path": "$.team", "target_path": "team", "error_handling": "default",
         "default_value": "unassigned", "transformation_rules": {"type": "direct"}}
    )
    tests = [t for t in data["test_suite"]["tests"] if t["mapping"] != "nickname"]
    tests.append({"mapping": "team", "name": "team default", "test_type": "edge_case",
                  "input_data": {"id": "7"}, "expected_output": {"team": "unassigned"}})
    tests.append({"mapping": "person_id", "name": "bad id drops the record", "test_type": "edge_case",
                  "input_data": {"id": "x"}, "expected_output": {"dropped": True}})
    data["test_suite"]["tests"] = tests
    data["connection_template"]["target"]["table"] = "people_v2"
    return data


def test_diff_lists_added_removed_changed() -> None:
    diff = diff_documents(parse_template(_v1(), source="v1"), parse_template(_v2(), source="v2"))
    assert diff.added == ["team"]
    assert diff.removed == ["nickname"]
    assert [(c.name, c.columns) for c in diff.changed] == [("person_id", ["error_handling"])]
    assert diff.connection_changed
    assert diff.tests_changed == ["person_id", "team"]
    assert diff.lines()[0] == "1.0.0 -> 1.1.0"
    assert "  ~ mapping person_id: error_handling" in diff.lines()
    same = diff_documents(parse_template(_v1(), source="a"), parse_template(_v1(), source="b"))
    assert same.empty and same.lines()[-1].strip().startswith("(no mapping")


@pytest.fixture
def app(database_url: str) -> Any:
    with connect(database_url, autocommit=True) as conn:
        yield conn


def _state(db: Any, config_id: Any) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    mappings = {
        r["mapping_name"]: r
        for r in db.execute("SELECT * FROM integration_mappings WHERE config_id = %s", (config_id,)).fetchall()
    }
    tests: dict[str, list[str]] = {}
    for r in db.execute(
        "SELECT m.mapping_name, t.test_name FROM integration_mapping_tests t JOIN integration_mappings m "
        "ON m.id = t.mapping_id WHERE m.config_id = %s ORDER BY 1, 2",
        (config_id,),
    ).fetchall():
        tests.setdefault(r["mapping_name"], []).append(r["test_name"])
    config = db.execute("SELECT * FROM integration_configs WHERE id = %s", (config_id,)).fetchone()
    return mappings, tests, config


def test_upgrade_applies_the_diff_and_keeps_customizations(db: Any, app: Any) -> None:
    install_template(db, parse_template(_v1(), source="v1"))
    install_template(db, parse_template(_v2(), source="v2"))
    org = UUID(add_organization(db))
    custom = {
        "connection": {"target": {"mode": "append"}},
        "mappings": {"name": {"target_data_type": "string", "mapping_notes": "ours"}},
    }
    instance = instantiate_template(
        app,
        template_name="tiny_people",
        version="1.0.0",
        instance_name="people",
        customizations=custom,
        organization_id=org,
    )
    name_id = _state(db, instance.config_id)[0]["name"]["id"]
    # a test the organization added itself survives the upgrade
    add_mapping_test(db, org, name_id, "our own", {"name": "Bo"}, {"name": "Bo"}, test_type="unit")

    preview = upgrade_instance(app, "people", "1.1.0", org, dry_run=True)
    assert not preview.applied and preview.diff.added == ["team"]
    assert sorted(_state(db, instance.config_id)[0]) == ["name", "nickname", "person_id"]

    result = upgrade_instance(app, "people", "1.1.0", org)
    assert result.applied and result.instance.version == "1.1.0"
    assert result.deployment is not None and result.deployment.passed
    assert result.deployment.status == "active" and result.instance.deployment_status in ("testing", "active")
    mappings, tests, config = _state(db, instance.config_id)
    assert sorted(mappings) == ["name", "person_id", "team"]
    assert mappings["name"]["id"] == name_id  # kept, not re-created
    assert mappings["name"]["mapping_notes"] == "ours"
    assert mappings["person_id"]["error_handling"] == "skip"
    assert mappings["team"]["default_value"] == "unassigned"
    assert tests == {
        "name": ["name copied", "our own"],
        "person_id": ["bad id drops the record", "id cast"],
        "team": ["team default"],
    }
    assert config["connection_config"]["target"] == {
        "type": "postgres_table", "table": "people_v2", "mode": "append", "key": ["person_id"]
    }
    status = db.execute(
        "SELECT deployment_status::text AS s, deployed_date FROM integration_template_instances WHERE id = %s",
        (instance.id,),
    ).fetchone()
    assert status["s"] == "active" and status["deployed_date"] is not None


def test_upgrade_with_failing_tests_stays_in_testing(db: Any, app: Any) -> None:
    install_template(db, parse_template(_v1(), source="v1"))
    broken = _v2()
    broken["test_suite"]["tests"][0]["expected_output"] = {"person_id": 8}
    install_template(db, parse_template(broken, source="v2"))
    org = UUID(add_organization(db))
    instantiate_template(
        app,
        template_name="tiny_people",
        version="1.0.0",
        instance_name="people",
        customizations={},
        organization_id=org,
    )
    result = upgrade_instance(app, "people", "1.1.0", org)
    assert result.deployment is not None and not result.deployment.passed
    assert result.deployment.status == "testing"
    assert [o.name for o in result.deployment.outcomes if not o.passed] == ["id cast"]


def test_upgrade_refusals(db: Any, app: Any) -> None:
    install_template(db, parse_template(_v1(), source="v1"))
    v2 = _v2()
    install_template(db, parse_template(v2, source="v2"))
    org = UUID(add_organization(db))
    instantiate_template(
        app, template_name="tiny_people", version="1.0.0", instance_name="people",
        customizations={"mappings": {"nickname": {"mapping_notes": "x"}}}, organization_id=org,
    )
    with pytest.raises(InstanceError, match=r"field `--to`: already on version 1.0.0"):
        upgrade_instance(app, "people", "1.0.0", org)
    with pytest.raises(InstanceError, match="no such template instance"):
        upgrade_instance(app, "nobody", "1.1.0", org)
    from integration_orchestrator.templates.model import TemplateError

    with pytest.raises(TemplateError, match=r"version 3.0.0 is not installed"):
        upgrade_instance(app, "people", "3.0.0", org)
    # an override of a mapping the new version removed is ignored (the mapping is gone)
    result = upgrade_instance(app, "people", "1.1.0", org)
    assert "nickname" in result.diff.removed
