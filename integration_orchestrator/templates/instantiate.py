"""Template → integration: through the SQL function ``create_integration_from_template``.

Customizations (``integration_template_instances.customizations``)::

    {"connection": {... deep-merged into connection_template ...},
     "mappings": {"<mapping name>": {partial mapping override} | false},
     "description": "...", "timezone": "Europe/Berlin"}

They are checked here first (each problem names the field), then the SQL function
creates the integration config, the instance row, the mappings and the template's tests
as ``integration_mapping_tests`` rows — all in one transaction of the organization.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.errors import RowError
from integration_orchestrator.templates.checks import check_connection, compile_mappings
from integration_orchestrator.templates.library import document_from_row, find_template
from integration_orchestrator.templates.model import TemplateDocument
from integration_orchestrator.templates.schema import MAPPING_OVERRIDE_KEYS

__all__ = [
    "Instance",
    "InstanceError",
    "add_library_transformations",
    "check_effective",
    "database_reason",
    "deep_merge",
    "effective_mappings",
    "instantiate_template",
    "load_instance",
    "resolve_organization",
    "validate_customizations",
]

_CUSTOM_KEYS = ("connection", "mappings", "description", "timezone")


class InstanceError(RowError):
    """A template instance (or its customizations) is invalid."""

    def __init__(self, name: str | None, reason: str, *, field: str | None = None, row_id: Any = None) -> None:
        super().__init__("template instance", name, reason, field=field, row_id=row_id)


@dataclass(frozen=True)
class Instance:
    """One ``integration_template_instances`` row with its template's name and version."""

    id: UUID
    config_id: UUID
    instance_name: str
    template_id: UUID
    template_name: str
    version: str
    organization_id: UUID
    deployment_status: str
    customizations: dict[str, Any]


def deep_merge(base: Any, override: Any) -> Any:
    """``override`` merged into ``base`` (same rule as SQL ``jsonb_deep_merge``): objects
    merge key by key, anything else replaces (a nested ``None`` is JSON null and replaces
    too); ``override=None`` at the top is SQL NULL, i.e. no override."""
    return base if override is None else _merge(base, override)


def _merge(base: Any, override: Any) -> Any:
    if not isinstance(base, Mapping) or not isinstance(override, Mapping):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if key in merged else value
    return merged


def effective_mappings(document: TemplateDocument, customizations: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The template's mappings with the instance's overrides applied (disabled ones left out),
    exactly as ``create_integration_from_template`` creates them."""
    overrides = customizations.get("mappings") or {}
    out: list[dict[str, Any]] = []
    for mapping in document.mappings:
        override = overrides.get(mapping["name"])
        if override is False or (isinstance(override, Mapping) and override.get("disabled") is True):
            continue
        item = dict(mapping)
        if isinstance(override, Mapping):
            if "transformation" in override or "transformation_rules" in override:
                item.pop("transformation", None)
                item.pop("transformation_rules", None)
            item.update({k: v for k, v in override.items() if k != "disabled"})
        if "transformation" in item and "transformation_rules" not in item:
            item["transformation_rules"] = item.pop("transformation")
        out.append(item)
    return out


def validate_customizations(
    document: TemplateDocument, customizations: Any, *, instance_name: str | None
) -> dict[str, Any]:
    """Check customizations against the template; return them as a plain dict."""
    if customizations is None:
        return {}
    if not isinstance(customizations, Mapping):
        raise InstanceError(
            instance_name, f"must be a JSON object, got {type(customizations).__name__}", field="customizations"
        )
    unknown = sorted(set(customizations) - set(_CUSTOM_KEYS))
    if unknown:
        raise InstanceError(
            instance_name,
            f"unknown key (allowed: {', '.join(_CUSTOM_KEYS)})",
            field=f"customizations.{unknown[0]}",
        )
    if "connection" in customizations and not isinstance(customizations["connection"], Mapping):
        raise InstanceError(instance_name, "must be a JSON object", field="customizations.connection")
    overrides = customizations.get("mappings", {})
    if not isinstance(overrides, Mapping):
        raise InstanceError(
            instance_name, 'must be a JSON object {"<mapping name>": {...} | false}', field="customizations.mappings"
        )
    names = {m["name"] for m in document.mappings}
    for name, override in overrides.items():
        where = f"customizations.mappings.{name}"
        if name not in names:
            raise InstanceError(
                instance_name,
                f"template `{document.template_name}` {document.version} has no mapping `{name}` "
                f"(it has: {', '.join(sorted(names))})",
                field=where,
            )
        if override is False:
            continue
        if not isinstance(override, Mapping):
            raise InstanceError(instance_name, "must be an object (partial mapping) or false", field=where)
        bad = sorted(set(override) - MAPPING_OVERRIDE_KEYS)
        if bad:
            raise InstanceError(
                instance_name, "is not a mapping column that can be overridden", field=f"{where}.{bad[0]}"
            )
    plain: dict[str, Any] = json.loads(json.dumps(dict(customizations)))
    return plain


def resolve_organization(conn: psycopg.Connection[Any], reference: str | None) -> UUID:
    """An organization by id, slug or name; without one, the only organization there is."""
    if reference:
        rows = conn.execute(
            "SELECT id FROM organizations WHERE id::text = %s OR slug = %s OR name = %s",
            (reference, reference, reference),
        ).fetchall()
        if len(rows) == 1:
            found: UUID = rows[0]["id"]
            return found
        reason = "no such organization" if not rows else "matches several organizations; use its id"
        raise RowError("organization", reference, reason, field="--organization")
    rows = conn.execute("SELECT id FROM organizations ORDER BY created_at LIMIT 2").fetchall()
    if len(rows) == 1:
        only: UUID = rows[0]["id"]
        return only
    reason = "there is no organization yet" if not rows else "there are several organizations; pass --organization"
    raise RowError("organization", None, reason, field="--organization")


def instantiate_template(
    conn: psycopg.Connection[Any],
    *,
    template_name: str,
    version: str | None,
    instance_name: str,
    customizations: Any,
    organization_id: UUID | str,
    created_by: UUID | str | None = None,
) -> Instance:
    """Create an integration from a template for an organization; return the instance."""
    row = find_template(conn, template_name, version, organization_id, active_only=True)
    document = document_from_row(row)
    custom = validate_customizations(document, customizations, instance_name=instance_name)
    check_effective(document, custom, instance_name)
    try:
        with tenant_transaction(conn, organization_id):
            config = conn.execute(
                "SELECT create_integration_from_template(%s, %s, %s, %s, %s) AS config_id",
                (row["id"], instance_name, Jsonb(custom), organization_id, created_by),
            ).fetchone()
            add_library_transformations(conn, document, organization_id, created_by)
    except psycopg.Error as exc:
        raise InstanceError(instance_name, database_reason(exc)) from exc
    assert config is not None
    return load_instance(conn, str(config["config_id"]), organization_id, by="config")


_TRANSFORMATION_COLUMNS = (
    "transformation_name",
    "description",
    "transformation_type",
    "input_schema",
    "output_schema",
    "transformation_logic",
    "language",
    "is_reusable",
    "performance_tier",
    "timeout_seconds",
    "error_output_schema",
    "test_cases",
)
_JSON_COLUMNS = {"input_schema", "output_schema", "transformation_logic", "error_output_schema", "test_cases"}


def add_library_transformations(
    conn: psycopg.Connection[Any],
    document: TemplateDocument,
    organization_id: UUID | str,
    created_by: UUID | str | None,
) -> list[str]:
    """The template's library transformations become reusable ``integration_transformations``
    rows of the organization (pipelines can use them); one the organization already has
    under that name is left alone. Returns the names added."""
    added = []
    for item in document.transformation_library.get("transformations") or []:
        name = item["transformation_name"]
        if conn.execute("SELECT 1 FROM integration_transformations WHERE transformation_name = %s", (name,)).fetchone():
            continue
        columns = [c for c in _TRANSFORMATION_COLUMNS if item.get(c) is not None]
        values = [Jsonb(item[c]) if c in _JSON_COLUMNS else item[c] for c in columns]
        conn.execute(
            "INSERT INTO integration_transformations "  # noqa: S608 - the column names are constants
            f"({', '.join(columns)}, organization_id, created_by, updated_by) "
            f"VALUES ({', '.join(['%s'] * len(columns))}, %s, %s, %s)",
            (*values, organization_id, created_by, created_by),
        )
        added.append(name)
    return added


def check_effective(document: TemplateDocument, custom: dict[str, Any], instance_name: str) -> None:
    """The mappings and the connection the instance will really have must be valid."""
    mappings = effective_mappings(document, custom)
    try:
        compile_mappings(
            mappings, source=f"instance `{instance_name}`", field_prefix="customizations.mappings", by_name=True
        )
        check_connection(
            deep_merge(document.connection_template, custom.get("connection")), source=f"instance `{instance_name}`"
        )
    except RowError as exc:
        raise InstanceError(instance_name, exc.reason, field=exc.field) from exc


def database_reason(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None and diag.message_primary else str(exc).strip()
    return primary.splitlines()[0]


def load_instance(
    conn: psycopg.Connection[Any], reference: str, organization_id: UUID | str, *, by: str = "any"
) -> Instance:
    """An instance of the organization by id or name (``by="config"``: by its config id)."""
    where = {
        "config": "i.config_id::text = %(ref)s",
        "any": "(i.id::text = %(ref)s OR i.instance_name = %(ref)s)",
    }[by]
    with tenant_transaction(conn, organization_id):
        rows = conn.execute(
            "SELECT i.id, i.config_id, i.instance_name, i.template_id, "  # noqa: S608 - fixed clauses
            "i.organization_id, i.deployment_status::text AS deployment_status, i.customizations, "
            "t.template_name, t.version "
            "FROM integration_template_instances i JOIN integration_templates t ON t.id = i.template_id "
            f"WHERE {where}",
            {"ref": reference},
        ).fetchall()
    if len(rows) != 1:
        reason = (
            "no such template instance in this organization"
            if not rows
            else "several instances have this name; use the id"
        )
        raise InstanceError(reference, reason)
    r = rows[0]
    return Instance(
        id=r["id"],
        config_id=r["config_id"],
        instance_name=r["instance_name"],
        template_id=r["template_id"],
        template_name=r["template_name"],
        version=r["version"],
        organization_id=r["organization_id"],
        deployment_status=r["deployment_status"],
        customizations=r["customizations"] or {},
    )
