"""Installing, listing, finding and exporting templates in a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from integration_orchestrator.db import connect, tenant_transaction
from integration_orchestrator.templates.library import (
    builtin_template_paths,
    export_template,
    find_template,
    install_builtin_templates,
    install_file,
    install_template,
    list_templates,
)
from integration_orchestrator.templates.model import TemplateError, load_template_file, parse_template
from integration_orchestrator_tests.rows import add_organization
from integration_orchestrator_tests.templates.helpers import minimal_template, write_template


def _rows(db: Any) -> list[dict[str, Any]]:
    return db.execute(
        "SELECT template_name, version, organization_id, is_certified, certification_date "
        "FROM integration_templates ORDER BY template_name, version"
    ).fetchall()


def test_builtins_install_certified_as_system_templates(db: Any) -> None:
    outcomes = install_builtin_templates(db)
    assert len(outcomes) == len(builtin_template_paths()) >= 6
    assert {o.status for o in outcomes} == {"installed"}
    rows = _rows(db)
    assert len(rows) == len(outcomes)
    for row in rows:
        assert row["organization_id"] is None
        assert row["is_certified"] is True
        assert row["certification_date"] == db.execute("SELECT current_date AS d").fetchone()["d"]
    stored = db.execute("SELECT * FROM integration_templates WHERE template_name = 'okta_users'").fetchone()
    document = load_template_file(next(p for p in builtin_template_paths() if p.stem == "okta_users"))
    assert stored["mapping_templates"] == document.mapping_templates
    assert stored["prerequisites"] == document.prerequisites
    assert stored["supported_operations"] == ["read"]
    assert stored["rate_limits"]["requests_per_minute"] == 600


def test_install_is_idempotent(db: Any) -> None:
    install_builtin_templates(db)
    again = install_builtin_templates(db)
    assert {o.status for o in again} == {"unchanged"}
    assert db.execute("SELECT count(*) AS n FROM integration_templates").fetchone()["n"] == len(again)


def test_new_version_is_a_new_row_and_same_version_is_immutable(db: Any, tmp_path: Path) -> None:
    first = install_file(db, write_template(tmp_path, minimal_template()))
    changed = minimal_template()
    changed["description"] = "Changed without a version bump."
    with pytest.raises(TemplateError, match=r"field `version`: version 1.0.0 of `tiny_people` is already installed"):
        install_file(db, write_template(tmp_path, changed, "changed.yaml"))
    changed["version"] = "1.1.0"
    second = install_file(db, write_template(tmp_path, changed, "v11.yaml"))
    assert second.status == "installed" and second.template_id != first.template_id
    assert [(r["template_name"], r["version"]) for r in _rows(db)] == [
        ("tiny_people", "1.0.0"),
        ("tiny_people", "1.1.0"),
    ]
    assert find_template(db, "tiny_people")["version"] == "1.1.0"
    assert find_template(db, "tiny_people", "1.0.0")["id"] == first.template_id


def test_failing_suite_installs_uncertified(db: Any) -> None:
    data = minimal_template()
    data["test_suite"]["tests"][1]["expected_output"] = {"name": "Grace"}
    outcome = install_template(db, parse_template(data, source="failing.yaml"))
    assert outcome.status == "installed" and not outcome.certified
    assert [f.name for f in outcome.suite.failures] == ["name copied"]
    row = _rows(db)[0]
    assert row["is_certified"] is False and row["certification_date"] is None


def test_invalid_mapping_is_rejected_on_install_and_nothing_written(db: Any) -> None:
    data = minimal_template()
    data["mapping_templates"]["mappings"][1]["transformation_rules"] = {"type": "upper"}
    with pytest.raises(TemplateError, match=r"field `mapping_templates.mappings\[1\].transformation_rules.type`"):
        install_template(db, parse_template(data, source="bad.yaml"))
    assert _rows(db) == []


def test_organization_installs_its_own_template(db: Any, database_url: str) -> None:
    org_a, org_b = UUID(add_organization(db)), UUID(add_organization(db))
    install_template(db, parse_template(minimal_template(), source="system"))
    own = minimal_template()
    own["description"] = "Org A's own flavour."
    with connect(database_url, autocommit=True) as app:
        outcome = install_template(app, parse_template(own, source="own"), organization_id=org_a)
        assert outcome.organization_id == org_a and outcome.status == "installed"
        # the same name and version may exist once per organization and once as a system template
        assert install_template(app, parse_template(own, source="own"), organization_id=org_a).status == "unchanged"
        seen_by_a = list_templates(app, org_a)
        seen_by_b = list_templates(app, org_b)
    assert [(r["version"], r["organization_id"]) for r in seen_by_a] == [("1.0.0", None), ("1.0.0", org_a)]
    assert [(r["version"], r["organization_id"]) for r in seen_by_b] == [("1.0.0", None)]
    assert find_template(db, "tiny_people", organization_id=org_a)["description"] == "Org A's own flavour."
    assert find_template(db, "tiny_people", organization_id=org_b)["organization_id"] is None
    with tenant_transaction(db, org_b):
        assert db.execute("SELECT count(*) AS n FROM integration_templates").fetchone()["n"] == 1


def test_export_installs_elsewhere(db: Any, tmp_path: Path, pg_admin_url: str) -> None:
    install_builtin_templates(db)
    org = UUID(add_organization(db))
    for row in list_templates(db):
        path = tmp_path / f"{row['template_name']}.yaml"
        path.write_text(export_template(row), encoding="utf-8")
        exported = load_template_file(path)
        assert exported.to_dict() == load_template_file(
            next(p for p in builtin_template_paths() if p.stem == row["template_name"])
        ).to_dict()
        # community sharing: another organization installs the shared file as its own
        outcome = install_file(db, path, organization_id=org)
        assert outcome.status == "installed" and outcome.certified and outcome.organization_id == org


def test_find_unknown_template_and_version(db: Any) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    with pytest.raises(TemplateError, match="no such template is installed"):
        find_template(db, "nope")
    with pytest.raises(TemplateError, match=r"version 9.9.9 is not installed \(installed: 1.0.0\)"):
        find_template(db, "tiny_people", "9.9.9")


def test_certification_date_is_a_date(db: Any) -> None:
    install_template(db, parse_template(minimal_template(), source="x"))
    assert isinstance(_rows(db)[0]["certification_date"], dt.date)


def test_concurrent_installs_of_one_version_make_one_row(db: Any, database_url: str) -> None:
    import threading

    document = parse_template(minimal_template(), source="x")
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def install() -> None:
        try:
            with connect(database_url, autocommit=True) as conn:
                barrier.wait()
                outcomes.append(install_template(conn, document).status)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=install) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == ["installed", "unchanged", "unchanged", "unchanged"]
    assert db.execute("SELECT count(*) AS n FROM integration_templates").fetchone()["n"] == 1
