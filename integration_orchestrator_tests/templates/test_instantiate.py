"""Instantiating templates through create_integration_from_template, and the instance lifecycle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from integration_orchestrator.db import connect
from integration_orchestrator.errors import RowError
from integration_orchestrator.templates.instantiate import (
    InstanceError,
    deep_merge,
    effective_mappings,
    instantiate_template,
    resolve_organization,
)
from integration_orchestrator.templates.library import (
    builtin_template_paths,
    install_builtin_templates,
    install_template,
)
from integration_orchestrator.templates.lifecycle import deploy_instance, deprecate_instance
from integration_orchestrator.templates.model import load_template_file, parse_template
from integration_orchestrator_tests.rows import add_organization
from integration_orchestrator_tests.templates.helpers import minimal_template

BUILTINS = {p.stem: p for p in builtin_template_paths()}


@pytest.fixture
def app(database_url: str) -> Any:
    with connect(database_url, autocommit=True) as conn:
        yield conn


def _mappings(db: Any, config_id: Any) -> dict[str, dict[str, Any]]:
    rows = db.execute("SELECT * FROM integration_mappings WHERE config_id = %s", (config_id,)).fetchall()
    return {r["mapping_name"]: r for r in rows}


def test_every_builtin_instantiates_and_its_copied_tests_pass(db: Any, app: Any) -> None:
    install_builtin_templates(db)
    org = UUID(add_organization(db))
    for name, path in sorted(BUILTINS.items()):
        document = load_template_file(path)
        instance = instantiate_template(
            app, template_name=name, version=None, instance_name=f"{name} prod", customizations={}, organization_id=org
        )
        assert instance.deployment_status == "draft" and instance.version == document.version
        config = db.execute("SELECT * FROM integration_configs WHERE id = %s", (instance.config_id,)).fetchone()
        assert config["connection_config"] == document.connection_template
        assert config["integration_type"] == document.integration_type
        assert sorted(_mappings(db, instance.config_id)) == sorted(m["name"] for m in document.mappings)
        tests = db.execute(
            "SELECT count(*) AS n FROM integration_mapping_tests t JOIN integration_mappings m ON m.id = t.mapping_id "
            "WHERE m.config_id = %s",
            (instance.config_id,),
        ).fetchone()
        assert tests["n"] == len(document.tests)
        library = [t["transformation_name"] for t in document.transformation_library.get("transformations", [])]
        stored = db.execute(
            "SELECT transformation_name, organization_id FROM integration_transformations WHERE "
            "transformation_name = ANY(%s)",
            (library,),
        ).fetchall()
        assert sorted(r["transformation_name"] for r in stored) == sorted(library)
        assert {r["organization_id"] for r in stored} == {org}
        deployment = deploy_instance(app, str(instance.id), org)
        assert deployment.passed, [o.describe() for o in deployment.outcomes if not o.passed]
        assert deployment.status == "active" and deployment.instance.deployment_status == "active"
        statuses = db.execute(
            "SELECT DISTINCT test_status::text AS s FROM integration_mapping_tests t "
            "JOIN integration_mappings m ON m.id = t.mapping_id WHERE m.config_id = %s",
            (instance.config_id,),
        ).fetchall()
        assert [r["s"] for r in statuses] == ["passed"]


def test_customizations_merge_connection_and_override_or_disable_mappings(db: Any, app: Any) -> None:
    install_builtin_templates(db)
    org = UUID(add_organization(db))
    custom = {
        "connection": {
            "source": {"url": "https://acme.okta.com/api/v1/users", "params": {"search": 'status eq "ACTIVE"'}},
            "target": {"table": "okta_accounts"},
        },
        "mappings": {
            "department": False,
            "email": {"error_handling": "fail", "is_required": True},
            "status": {"transformation_rules": {"type": "direct"}},
        },
        "timezone": "Europe/Berlin",
    }
    instance = instantiate_template(
        app,
        template_name="okta_users",
        version="1.0.0",
        instance_name="Okta ACME",
        customizations=custom,
        organization_id=org,
    )
    config = db.execute("SELECT * FROM integration_configs WHERE id = %s", (instance.config_id,)).fetchone()
    source = config["connection_config"]["source"]
    assert source["url"] == "https://acme.okta.com/api/v1/users"
    assert source["params"] == {"limit": 200, "search": 'status eq "ACTIVE"'}
    assert source["auth"]["value"] == {"$secret": "okta_api_token"}
    assert config["connection_config"]["target"]["table"] == "okta_accounts"
    assert config["timezone"] == "Europe/Berlin"
    mappings = _mappings(db, instance.config_id)
    assert "department" not in mappings
    assert mappings["email"]["is_required"] is True and mappings["email"]["error_handling"] == "fail"
    assert mappings["status"]["transformation_rules"] == {"type": "direct"}
    assert instance.customizations == custom
    document = load_template_file(BUILTINS["okta_users"])
    assert [m["name"] for m in effective_mappings(document, custom)] == sorted(
        mappings, key=[m["name"] for m in document.mappings].index
    )
    # the overridden status mapping no longer lower-cases: its template test now fails, so no activation
    deployment = deploy_instance(app, "Okta ACME", org)
    assert not deployment.passed and deployment.status == "testing"
    assert {o.mapping for o in deployment.outcomes if not o.passed} == {"status"}


BAD_CUSTOMIZATIONS = [
    ([1], "customizations", "must be a JSON object"),
    ({"colour": 1}, "customizations.colour", "unknown key"),
    ({"connection": "x"}, "customizations.connection", "must be a JSON object"),
    ({"mappings": []}, "customizations.mappings", "must be a JSON object"),
    ({"mappings": {"nope": False}}, "customizations.mappings.nope", "has no mapping `nope`"),
    ({"mappings": {"name": 3}}, "customizations.mappings.name", "partial mapping"),
    ({"mappings": {"name": {"target": "x"}}}, "customizations.mappings.name.target", "not a mapping column"),
    (
        {"mappings": {"name": {"transformation_rules": {"type": "upper"}}}},
        "customizations.mappings.name.transformation_rules.type",
        "unknown rule type",
    ),
    ({"connection": {"source": {"type": "ftp"}}}, "connection_template.source", "ftp"),
]


@pytest.mark.parametrize(
    ("custom", "field", "reason"), BAD_CUSTOMIZATIONS, ids=[b[1] + ":" + b[2] for b in BAD_CUSTOMIZATIONS]
)
def test_bad_customizations_are_rejected_naming_the_field(
    db: Any, app: Any, custom: Any, field: str, reason: str
) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    org = UUID(add_organization(db))
    with pytest.raises(InstanceError) as caught:
        instantiate_template(
            app,
            template_name="tiny_people",
            version=None,
            instance_name="people",
            customizations=custom,
            organization_id=org,
        )
    assert caught.value.field is not None and caught.value.field.startswith(field), caught.value.field
    assert reason in str(caught.value)
    assert str(caught.value).startswith("In template instance `people`")
    assert db.execute("SELECT count(*) AS n FROM integration_configs").fetchone()["n"] == 0


def test_database_refusal_becomes_an_instance_error_and_nothing_is_written(db: Any, app: Any) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    org = UUID(add_organization(db))
    with pytest.raises(InstanceError) as caught:
        instantiate_template(
            app,
            template_name="tiny_people",
            version=None,
            instance_name="people",
            customizations={"timezone": "Mars/Olympus"},
            organization_id=org,
        )
    assert str(caught.value).startswith("In template instance `people`: In template `tiny_people` version 1.0.0")
    assert db.execute("SELECT count(*) AS n FROM integration_configs").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM integration_template_instances").fetchone()["n"] == 0


def test_other_organizations_template_is_invisible(db: Any, app: Any) -> None:
    org_a, org_b = UUID(add_organization(db)), UUID(add_organization(db))
    install_template(app, parse_template(minimal_template("a_only"), source="x"), organization_id=org_a)
    with pytest.raises(RowError, match="no such template is installed"):
        instantiate_template(
            app, template_name="a_only", version=None, instance_name="stolen", customizations={}, organization_id=org_b
        )
    instance = instantiate_template(
        app, template_name="a_only", version=None, instance_name="mine", customizations={}, organization_id=org_a
    )
    assert instance.organization_id == org_a


def test_inactive_template_cannot_be_instantiated(db: Any, app: Any) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    db.execute("UPDATE integration_templates SET is_active = false")
    org = UUID(add_organization(db))
    with pytest.raises(RowError, match="no such template"):
        instantiate_template(
            app, template_name="tiny_people", version=None, instance_name="p", customizations={}, organization_id=org
        )


def test_deprecate_deactivates_the_integration(db: Any, app: Any) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    org = UUID(add_organization(db))
    instance = instantiate_template(
        app, template_name="tiny_people", version=None, instance_name="people", customizations={}, organization_id=org
    )
    assert deploy_instance(app, "people", org).status == "active"
    deprecated = deprecate_instance(app, "people", org)
    assert deprecated.deployment_status == "deprecated"
    assert (
        db.execute("SELECT is_active FROM integration_configs WHERE id = %s", (instance.config_id,)).fetchone()[
            "is_active"
        ]
        is False
    )
    with pytest.raises(InstanceError, match="is deprecated"):
        deploy_instance(app, "people", org)


def test_resolve_organization(db: Any) -> None:
    with pytest.raises(RowError, match="no organization yet"):
        resolve_organization(db, None)
    org = UUID(add_organization(db, "acme"))
    assert resolve_organization(db, None) == org
    assert resolve_organization(db, "acme") == org
    assert resolve_organization(db, str(org)) == org
    add_organization(db, "globex")
    with pytest.raises(RowError, match="several organizations; pass --organization"):
        resolve_organization(db, None)
    with pytest.raises(RowError, match="no such organization"):
        resolve_organization(db, "initech")


@pytest.mark.parametrize(
    ("base", "override", "merged"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, None, {"a": 1}),
        ({"a": {"b": 1}}, {"a": None}, {"a": None}),
        ({"a": 1}, {"b": {"c": 1}}, {"a": 1, "b": {"c": 1}}),
    ],
)
def test_deep_merge_matches_sql(db: Any, base: Any, override: Any, merged: Any) -> None:
    from psycopg.types.json import Jsonb

    assert deep_merge(base, override) == merged
    sql = db.execute(
        "SELECT jsonb_deep_merge(%s, %s) AS m", (Jsonb(base), Jsonb(override) if override is not None else None)
    ).fetchone()["m"]
    assert sql == merged
