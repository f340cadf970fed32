"""``export``: one integration's rows → a file ``apply`` takes back.

The document holds the organization (by slug, else name: ids do not travel), the
integration with its mappings (and their tests), pipelines and schedules, and the
transformations its steps and rules use. Columns at their default are left out, so the
file shows what the author chose. Read in a tenant transaction of the organization.
"""

from __future__ import annotations

from typing import Any

import psycopg
import yaml

from integration_orchestrator.ascode.columns import (
    CONFIGS,
    MAPPING_TESTS,
    MAPPINGS,
    PIPELINES,
    SCHEDULES,
    TRANSFORMATIONS,
    Table,
)
from integration_orchestrator.ascode.document import schema_uri
from integration_orchestrator.ascode.plan import select_rows, transformation_names
from integration_orchestrator.ascode.portable import canonical, row_values
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.errors import NotFoundError, RowError
from integration_orchestrator.tenancy import not_in_organization

__all__ = ["dump_document", "export_integration"]


def _owner_of(conn: psycopg.Connection[Any], reference: str, scope: str | None = None) -> Any:
    rows = conn.execute(
        "SELECT c.id, c.organization_id, o.slug, o.name FROM integration_configs c "
        "JOIN organizations o ON o.id = c.organization_id WHERE c.id::text = %s OR c.integration_name = %s",
        (reference, reference),
    ).fetchall()
    if scope is not None:
        if rows and not any(str(r["organization_id"]) == scope for r in rows):
            raise not_in_organization("integration config", reference)
        rows = [r for r in rows if str(r["organization_id"]) == scope]
    if not rows:
        raise NotFoundError("integration config", reference, by="id or name", quote=True)
    if len(rows) > 1:
        raise RowError("integration", reference, f"{len(rows)} integrations have this name; give the config id",
                       field="ID")
    return rows[0]


def _compact(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    return {c: v for c, v in values.items()
            if c in table.required or canonical(v) != canonical(table.columns[c])}


def export_integration(conn: psycopg.Connection[Any], reference: str, scope: str | None = None) -> dict[str, Any]:
    """The document of the integration ``reference`` (a config id, or a unique name);
    ``conn`` is an owner connection; ``scope``: only this organization's integrations."""
    owner = _owner_of(conn, reference, scope)
    with tenant_transaction(conn, owner["organization_id"]):
        names = transformation_names(conn)
        config = next(r for r in select_rows(conn, CONFIGS, "id", owner["id"]))
        mappings = select_rows(conn, MAPPINGS, "config_id", owner["id"])
        mapping_names = {str(m["id"]): m["mapping_name"] for m in mappings}
        integration = _compact(CONFIGS, row_values(CONFIGS, config, names))
        if mappings:
            integration["mappings"] = []
        for mapping in mappings:
            item = _compact(MAPPINGS, row_values(MAPPINGS, mapping, names, mapping_names))
            tests = [_compact(MAPPING_TESTS, row_values(MAPPING_TESTS, t, names))
                     for t in select_rows(conn, MAPPING_TESTS, "mapping_id", mapping["id"])]
            if tests:
                item["tests"] = tests
            integration["mappings"].append(item)
        for key, table in (("pipelines", PIPELINES), ("schedules", SCHEDULES)):
            found = select_rows(conn, table, "config_id", owner["id"])
            rows = [_compact(table, row_values(table, r, names)) for r in found]
            if rows:
                integration[key] = rows
        used = set(_names_used(integration))
        transformations = [_compact(TRANSFORMATIONS, row_values(TRANSFORMATIONS, t, names))
                           for t in select_rows(conn, TRANSFORMATIONS) if t["transformation_name"] in used]
    document: dict[str, Any] = {"organization": owner["slug"] or owner["name"]}
    if transformations:
        document["transformations"] = transformations
    document["integrations"] = [integration]
    return document


def _names_used(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["transformation_name"]] if isinstance(value.get("transformation_name"), str) else []
        return own + [n for v in value.values() for n in _names_used(v)]
    if isinstance(value, list):
        return [n for v in value for n in _names_used(v)]
    return []


def dump_document(document: dict[str, Any], *, as_json: bool = False, schema_ref: str | None = None) -> str:
    """YAML (with the ``yaml-language-server`` line editors read) or JSON (with ``$schema``)."""
    ref = schema_ref or schema_uri()
    if as_json:
        import json

        return json.dumps({"$schema": ref, **document}, indent=2, ensure_ascii=False) + "\n"
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return f"# yaml-language-server: $schema={ref}\n{body}"
