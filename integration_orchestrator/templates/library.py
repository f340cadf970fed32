"""The template library in PostgreSQL: install, list, find, export.

Published versions are immutable: installing a file whose ``(template_name, version,
organization)`` already exists with the same content is a no-op ("unchanged"); with
different content it is refused (publish a new version instead). A new version is a new
row. System templates have ``organization_id`` NULL; an organization installs its own
through :func:`~integration_orchestrator.db.tenant_transaction` (row-level security).

Certification: ``is_certified``/``certification_date`` are set only when the template's
own test suite passes through the real mapping code (:mod:`.testing`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.templates.checks import check_document
from integration_orchestrator.templates.model import (
    DOCUMENT_FIELDS,
    TemplateDocument,
    TemplateError,
    dump_document,
    load_template_file,
    parse_template,
)
from integration_orchestrator.templates.testing import SuiteResult, run_test_suite

__all__ = [
    "Certification",
    "InstallOutcome",
    "builtin_template_paths",
    "certify_template",
    "document_from_row",
    "export_template",
    "find_template",
    "install_builtin_templates",
    "install_file",
    "install_files",
    "install_template",
    "list_templates",
    "record_certification",
    "scoped",
    "version_key",
]

_JSON_FIELDS = ("rate_limits", "connection_template", "mapping_templates", "transformation_library", "test_suite")
_COLUMNS = ", ".join(DOCUMENT_FIELDS)
_ROW_COLUMNS = f"id, {_COLUMNS}, is_certified, certification_date, organization_id, created_at"


@dataclass(frozen=True)
class Certification:
    """A template's suite run: the row tested, the suite's result, the certification recorded."""

    row: dict[str, Any]
    suite: SuiteResult
    is_certified: bool
    certification_date: Any


@dataclass(frozen=True)
class InstallOutcome:
    """What one install did: ``installed`` a new row or found it ``unchanged``."""

    template_id: UUID
    template_name: str
    version: str
    organization_id: UUID | None
    status: Literal["installed", "unchanged"]
    certified: bool
    suite: SuiteResult


def builtin_template_paths() -> list[Path]:
    """The built-in template files shipped as package data, sorted by name."""
    catalog = resources.files("integration_orchestrator.templates") / "catalog"
    return sorted(Path(str(p)) for p in catalog.iterdir() if p.name.endswith((".yaml", ".yml", ".json")))


def version_key(version: str) -> tuple[int, ...]:
    """``"1.10.0"`` sorts after ``"1.9.0"``."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


@contextmanager
def scoped(conn: psycopg.Connection[Any], organization_id: UUID | str | None) -> Iterator[psycopg.Connection[Any]]:
    """One transaction: as the organization (RLS) when given, else as the owner."""
    if organization_id is None:
        with conn.transaction():
            yield conn
    else:
        with tenant_transaction(conn, organization_id):
            yield conn


def install_template(
    conn: psycopg.Connection[Any],
    document: TemplateDocument,
    *,
    organization_id: UUID | str | None = None,
    created_by: UUID | str | None = None,
) -> InstallOutcome:
    """Install one validated template (idempotent); certify it when its suite passes.

    Invalid mappings or connection settings are refused (:func:`check_document`); a
    template whose own tests fail is installed but not certified."""
    check_document(document)
    suite = run_test_suite(document)
    with scoped(conn, organization_id) as cur:
        existing = _select(cur, document.template_name, document.version, organization_id)
        if existing is None:
            row = _insert(cur, document, organization_id, created_by, suite.passed)
            if row is None:  # a concurrent install of the same version won the race
                existing = _select(cur, document.template_name, document.version, organization_id)
            else:
                return _outcome(row, "installed", suite)
        assert existing is not None
        if document_from_row(existing).to_dict() != document.to_dict():
            raise document.error(
                f"version {document.version} of `{document.template_name}` is already installed "
                "with different content; published versions are immutable, bump `version`",
                field="version",
            )
        return _outcome(existing, "unchanged", suite)


def install_file(
    conn: psycopg.Connection[Any],
    path: str | Path,
    *,
    organization_id: UUID | str | None = None,
    created_by: UUID | str | None = None,
) -> InstallOutcome:
    return install_template(conn, load_template_file(path), organization_id=organization_id, created_by=created_by)


def install_files(
    conn: psycopg.Connection[Any], paths: Iterable[str | Path], *, organization_id: UUID | str | None = None
) -> Iterator[InstallOutcome]:
    """Install each file in turn (each in its own transaction), yielding what it did."""
    for path in paths:
        yield install_file(conn, path, organization_id=organization_id)


def install_builtin_templates(conn: psycopg.Connection[Any]) -> list[InstallOutcome]:
    """Install every built-in template as a system template (organization NULL)."""
    return [install_file(conn, path) for path in builtin_template_paths()]


def _outcome(row: dict[str, Any], status: Literal["installed", "unchanged"], suite: SuiteResult) -> InstallOutcome:
    return InstallOutcome(
        template_id=row["id"],
        template_name=row["template_name"],
        version=row["version"],
        organization_id=row["organization_id"],
        status=status,
        certified=bool(row["is_certified"]),
        suite=suite,
    )


def _select(
    conn: psycopg.Connection[Any], name: str, version: str, organization_id: UUID | str | None
) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {_ROW_COLUMNS} FROM integration_templates "  # noqa: S608 - column names are constants
        "WHERE template_name = %s AND version = %s AND organization_id IS NOT DISTINCT FROM %s",
        (name, version, organization_id),
    ).fetchone()


def _insert(
    conn: psycopg.Connection[Any],
    document: TemplateDocument,
    organization_id: UUID | str | None,
    created_by: UUID | str | None,
    certified: bool,
) -> dict[str, Any] | None:
    values = [_adapt(name, getattr(document, name)) for name in DOCUMENT_FIELDS]
    placeholders = ", ".join(["%s"] * len(values))
    return conn.execute(
        f"INSERT INTO integration_templates ({_COLUMNS}, "  # noqa: S608 - column names are constants
        "is_certified, certification_date, "
        "organization_id, created_by) "
        f"VALUES ({placeholders}, %s, CASE WHEN %s THEN current_date END, %s, %s) "
        "ON CONFLICT ON CONSTRAINT integration_templates_template_name_version_organization_id_key "
        f"DO NOTHING RETURNING {_ROW_COLUMNS}",
        (*values, certified, certified, organization_id, created_by),
    ).fetchone()


def _adapt(name: str, value: Any) -> Any:
    return Jsonb(value) if name in _JSON_FIELDS else value


def record_certification(
    conn: psycopg.Connection[Any], template_id: UUID | str, passed: bool, organization_id: UUID | str | None = None
) -> dict[str, Any]:
    """Certify (suite passed: today's date) or de-certify (suite failed) a template row."""
    with scoped(conn, organization_id) as cur:
        row = cur.execute(
            "UPDATE integration_templates SET is_certified = %s, "
            "certification_date = CASE WHEN %s THEN current_date END WHERE id = %s "
            "RETURNING is_certified, certification_date",
            (passed, passed, template_id),
        ).fetchone()
    if row is None:
        raise TemplateError(str(template_id), "template row not found (or not visible to this organization)")
    return dict(row)


def certify_template(
    conn: psycopg.Connection[Any], name: str, version: str | None, organization_id: UUID | str | None = None
) -> Certification:
    """Run a template's test suite and record the verdict: certified when it passes."""
    row = find_template(conn, name, version, organization_id)
    suite = run_test_suite(document_from_row(row))
    recorded = record_certification(conn, row["id"], suite.passed, row["organization_id"])
    return Certification(row, suite, recorded["is_certified"], recorded["certification_date"])


def list_templates(
    conn: psycopg.Connection[Any], organization_id: UUID | str | None = None
) -> list[dict[str, Any]]:
    """System templates plus the organization's own, by name then version."""
    with scoped(conn, organization_id) as cur:
        rows = cur.execute(
            f"SELECT {_ROW_COLUMNS} FROM integration_templates "  # noqa: S608 - column names are constants
            "WHERE organization_id IS NULL OR organization_id IS NOT DISTINCT FROM %s",
            (organization_id,),
        ).fetchall()
    return sorted(rows, key=lambda r: (r["template_name"], version_key(r["version"]), str(r["organization_id"] or "")))


def find_template(
    conn: psycopg.Connection[Any],
    name: str,
    version: str | None = None,
    organization_id: UUID | str | None = None,
    *,
    active_only: bool = False,
) -> dict[str, Any]:
    """One template row: the organization's own shadows a system template of that name;
    without ``version`` the newest version."""
    rows = [r for r in list_templates(conn, organization_id) if r["template_name"] == name]
    if active_only:
        rows = [r for r in rows if r["is_active"]]
    if not rows:
        raise TemplateError(name, "no such template is installed (run `templates list`)", field="template_name")
    own = [r for r in rows if r["organization_id"] is not None]
    pool = own if own and (version is None or any(r["version"] == version for r in own)) else rows
    if version is not None:
        pool = [r for r in pool if r["version"] == version]
        if not pool:
            known = ", ".join(sorted({r["version"] for r in rows}, key=version_key))
            raise TemplateError(name, f"version {version} is not installed (installed: {known})", field="version")
    return max(pool, key=lambda r: version_key(r["version"]))


def document_from_row(row: dict[str, Any]) -> TemplateDocument:
    """The template document a row holds (validated like a file)."""
    data = {name: row[name] for name in DOCUMENT_FIELDS if row.get(name) is not None}
    return parse_template(data, source=f"{row['template_name']}@{row['version']}")


def export_template(row: dict[str, Any]) -> str:
    """YAML another installation can install (``templates install --file``)."""
    return dump_document(document_from_row(row))


