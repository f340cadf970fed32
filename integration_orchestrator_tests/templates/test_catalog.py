"""The built-in templates: each is valid, checks deep, and passes its own test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from integration_orchestrator.templates.checks import check_document
from integration_orchestrator.templates.library import builtin_template_paths
from integration_orchestrator.templates.model import load_template_file
from integration_orchestrator.templates.schema import TEMPLATE_CATEGORIES
from integration_orchestrator.templates.testing import run_test_suite

PATHS = builtin_template_paths()
SECRET_SOURCES = {"http"}


def test_at_least_six_builtins_cover_the_compliance_sources() -> None:
    names = {load_template_file(p).template_name for p in PATHS}
    assert len(names) >= 6
    types = {load_template_file(p).integration_type for p in PATHS}
    assert {"okta", "bamboohr", "jira_cloud", "gcp_security_command_center", "github", "file_import"} <= types


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_builtin_is_valid_and_passes_its_suite(path: Path) -> None:
    document = load_template_file(path)
    assert path.stem == document.template_name
    assert document.template_category in TEMPLATE_CATEGORIES
    check_document(document)
    suite = run_test_suite(document)
    assert suite.failures == []
    assert suite.total >= len(document.mappings)
    assert any(t["test_type"] == "edge_case" for t in document.tests), "edge cases cover the error policies"
    assert any("error" in t["expected_output"] for t in document.tests), "at least one test expects a failure"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_builtin_connection_never_holds_inline_secrets(path: Path) -> None:
    document = load_template_file(path)
    source = document.connection_template["source"]
    assert document.documentation_url.startswith("https://")
    assert document.prerequisites and document.supported_operations == ["read"]
    if source["type"] in SECRET_SOURCES:
        auth = source["auth"]
        secrets = [v for k, v in auth.items() if k != "type" and isinstance(v, dict)]
        assert secrets and all(set(v) == {"$secret"} for v in secrets)
        assert all(not isinstance(v, str) or k in ("type", "in", "name", "username") for k, v in auth.items())
        limits = document.rate_limits
        assert limits.get("requests_per_second") or limits.get("requests_per_minute")


PAGINATION = {
    "okta_users": "link_header",
    "okta_group_membership_events": "link_header",
    "jira_risk_register": "offset",
    "gcp_scc_findings": "cursor",
    "github_org_members": "link_header",
    "github_audit_log": "link_header",
}


@pytest.mark.parametrize(("name", "style"), sorted(PAGINATION.items()))
def test_vendor_pagination_style(name: str, style: str) -> None:
    path = next(p for p in PATHS if p.stem == name)
    assert load_template_file(path).connection_template["source"]["pagination"]["style"] == style


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_target_shape_is_a_documented_json_schema(path: Path) -> None:
    import jsonschema

    schema = load_template_file(path).mapping_templates["target_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("title") and schema.get("description")
    assert set(schema["required"]) <= set(schema["properties"])
    for name, spec in schema["properties"].items():
        assert set(spec) <= {"type", "description", "format", "enum", "items", "const"}, (name, spec)
        assert "type" in spec, name


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_sample_payloads_map_to_the_documented_shape(path: Path) -> None:
    """Every full sample record of the suite, mapped by all mappings together, is a valid
    target row (the documented shape is what the integration really writes)."""
    import json

    import jsonschema

    from integration_orchestrator.mapping.types import json_ready

    document = load_template_file(path)
    plan = check_document(document)
    validator = jsonschema.Draft202012Validator(document.mapping_templates["target_schema"])
    samples = {json.dumps(t["input_data"], sort_keys=True): t["input_data"] for t in document.tests
               if "error" not in t["expected_output"]}
    written = 0
    for record in samples.values():
        result = plan.apply(record)
        if not result.ok:
            continue
        output = json_ready(result.output)
        errors = [e.message for e in validator.iter_errors(output)]
        assert errors == [], (record, output)
        written += 1
    assert written >= 1
