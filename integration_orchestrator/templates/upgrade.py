"""Template upgrades: what changes between two versions, applied to an instance.

``diff_documents(old, new)`` lists the mappings added, removed and changed (with the
columns that differ) and whether the connection template or the tests changed.
``upgrade_instance`` applies the new version to the instance's integration while keeping
the instance's customizations: mappings are re-derived from the new template plus the
instance's overrides (disabled mappings stay disabled), the connection is the new
template deep-merged with the instance's connection customizations, and the template's
tests of each mapping are replaced by the new version's. The instance then goes through
``testing`` and becomes ``active`` only when its mapping tests pass (:mod:`.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.templates.instantiate import (
    Instance,
    InstanceError,
    check_effective,
    database_reason,
    effective_mappings,
    load_instance,
)
from integration_orchestrator.templates.library import document_from_row, find_template
from integration_orchestrator.templates.lifecycle import DeploymentResult, deploy_instance
from integration_orchestrator.templates.model import TemplateDocument

__all__ = ["MappingChange", "TemplateDiff", "UpgradeResult", "diff_documents", "upgrade_instance"]

_MAPPING_COLUMNS = (
    "mapping_type",
    "source_path",
    "target_path",
    "source_data_type",
    "target_data_type",
    "is_required",
    "default_value",
    "transformation_rules",
    "validation_rules",
    "mapping_direction",
    "is_active",
    "error_handling",
    "mapping_notes",
)
_DEFAULTS: dict[str, Any] = {
    "mapping_type": "field",
    "is_required": False,
    "mapping_direction": "inbound",
    "is_active": True,
    "error_handling": "fail",
}


@dataclass(frozen=True)
class MappingChange:
    name: str
    columns: list[str]


@dataclass(frozen=True)
class TemplateDiff:
    """Mapping-level difference between two template versions."""

    from_version: str
    to_version: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[MappingChange] = field(default_factory=list)
    connection_changed: bool = False
    tests_changed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.connection_changed or self.tests_changed)

    def lines(self) -> list[str]:
        out = [f"{self.from_version} -> {self.to_version}"]
        out += [f"  + mapping {name}" for name in self.added]
        out += [f"  - mapping {name}" for name in self.removed]
        out += [f"  ~ mapping {c.name}: {', '.join(c.columns)}" for c in self.changed]
        if self.connection_changed:
            out.append("  ~ connection_template")
        if self.tests_changed:
            out.append(f"  ~ tests of: {', '.join(self.tests_changed)}")
        if self.empty:
            out.append("  (no mapping, connection or test changes)")
        return out


@dataclass(frozen=True)
class UpgradeResult:
    instance: Instance
    diff: TemplateDiff
    applied: bool
    deployment: DeploymentResult | None


def _normalised(mapping: Mapping[str, Any]) -> dict[str, Any]:
    item = dict(mapping)
    if "transformation" in item and "transformation_rules" not in item:
        item["transformation_rules"] = item.pop("transformation")
    return {column: item.get(column, _DEFAULTS.get(column)) for column in _MAPPING_COLUMNS}


def _tests_by_mapping(document: TemplateDocument) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for test in document.tests:
        grouped.setdefault(test["mapping"], []).append(test)
    return grouped


def diff_documents(old: TemplateDocument, new: TemplateDocument) -> TemplateDiff:
    before = {m["name"]: _normalised(m) for m in old.mappings}
    after = {m["name"]: _normalised(m) for m in new.mappings}
    changed = [
        MappingChange(name, [c for c in _MAPPING_COLUMNS if before[name][c] != after[name][c]])
        for name in after
        if name in before and before[name] != after[name]
    ]
    old_tests, new_tests = _tests_by_mapping(old), _tests_by_mapping(new)
    return TemplateDiff(
        from_version=old.version,
        to_version=new.version,
        added=[name for name in after if name not in before],
        removed=[name for name in before if name not in after],
        changed=changed,
        connection_changed=old.connection_template != new.connection_template,
        tests_changed=sorted(
            n for n in set(old_tests) | set(new_tests) if n in after and old_tests.get(n) != new_tests.get(n)
        ),
    )


def upgrade_instance(
    conn: psycopg.Connection[Any],
    reference: str,
    to_version: str,
    organization_id: UUID | str,
    *,
    dry_run: bool = False,
    updated_by: UUID | str | None = None,
) -> UpgradeResult:
    """Move an instance to another version of its template (diff only when ``dry_run``)."""
    instance = load_instance(conn, reference, organization_id)
    old_row = find_template(conn, instance.template_name, instance.version, organization_id)
    new_row = find_template(conn, instance.template_name, to_version, organization_id, active_only=True)
    if new_row["id"] == instance.template_id:
        raise InstanceError(instance.instance_name, f"already on version {to_version}", field="--to")
    old, new = document_from_row(old_row), document_from_row(new_row)
    diff = diff_documents(old, new)
    check_effective(new, instance.customizations, instance.instance_name)
    if dry_run:
        return UpgradeResult(instance, diff, applied=False, deployment=None)
    try:
        with tenant_transaction(conn, organization_id):
            _apply(conn, instance, old, new, diff, new_row["id"], updated_by)
    except psycopg.Error as exc:
        raise InstanceError(instance.instance_name, f"upgrade to {to_version} refused: {database_reason(exc)}") from exc
    upgraded = load_instance(conn, str(instance.id), organization_id)
    deployment = deploy_instance(conn, str(instance.id), organization_id)
    return UpgradeResult(upgraded, diff, applied=True, deployment=deployment)


def _apply(
    conn: psycopg.Connection[Any],
    instance: Instance,
    old: TemplateDocument,
    new: TemplateDocument,
    diff: TemplateDiff,
    new_template_id: UUID,
    updated_by: UUID | str | None,
) -> None:
    custom = instance.customizations
    wanted = {m["name"]: m for m in effective_mappings(new, custom)}
    existing = {
        r["mapping_name"]: r["id"]
        for r in conn.execute(
            "SELECT id, mapping_name FROM integration_mappings WHERE config_id = %s", (instance.config_id,)
        ).fetchall()
    }
    for name in diff.removed:
        if name in existing:
            conn.execute("DELETE FROM integration_mappings WHERE id = %s", (existing.pop(name),))
    for name, mapping in wanted.items():
        values = _normalised(mapping)
        if name in existing:
            assignments = ", ".join(f"{c} = %({c})s" for c in _MAPPING_COLUMNS)
            conn.execute(
                f"UPDATE integration_mappings SET {assignments}, "  # noqa: S608 - column names are constants
                "updated_by = %(by)s WHERE id = %(id)s",
                {**_adapt(values), "by": updated_by, "id": existing[name]},
            )
        else:
            existing[name] = _insert_mapping(conn, instance, name, values, updated_by)
    _replace_tests(conn, instance, old, new, {n: existing[n] for n in wanted}, updated_by)
    conn.execute(
        "UPDATE integration_configs SET connection_config = jsonb_deep_merge(%s, %s), updated_by = %s WHERE id = %s",
        (Jsonb(new.connection_template), _jsonb_or_null(custom.get("connection")), updated_by, instance.config_id),
    )
    conn.execute(
        "UPDATE integration_template_instances SET template_id = %s, deployment_status = 'testing' WHERE id = %s",
        (new_template_id, instance.id),
    )


def _jsonb_or_null(value: Any) -> Jsonb | None:
    """SQL NULL for an absent value (``Jsonb(None)`` would be JSON null)."""
    return None if value is None else Jsonb(value)


def _adapt(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    for column in ("transformation_rules", "validation_rules"):
        out[column] = _jsonb_or_null(out[column])
    return out


def _insert_mapping(
    conn: psycopg.Connection[Any], instance: Instance, name: str, values: dict[str, Any], by: UUID | str | None
) -> UUID:
    columns = ", ".join(_MAPPING_COLUMNS)
    placeholders = ", ".join(f"%({c})s" for c in _MAPPING_COLUMNS)
    row = conn.execute(
        f"INSERT INTO integration_mappings (config_id, mapping_name, {columns}, "  # noqa: S608 - constant column names
        "organization_id, created_by, updated_by) "
        f"VALUES (%(config)s, %(name)s, {placeholders}, %(org)s, %(by)s, %(by)s) RETURNING id",
        {**_adapt(values), "config": instance.config_id, "name": name, "org": instance.organization_id, "by": by},
    ).fetchone()
    if row is None:  # pragma: no cover - INSERT ... RETURNING always returns the row
        raise RuntimeError("INSERT INTO integration_mappings returned no row")
    mapping_id: UUID = row["id"]
    return mapping_id


def _replace_tests(
    conn: psycopg.Connection[Any],
    instance: Instance,
    old: TemplateDocument,
    new: TemplateDocument,
    mapping_ids: dict[str, UUID],
    by: UUID | str | None,
) -> None:
    """The template's tests of each mapping become the new version's; tests the
    organization added itself (other names) are kept."""
    old_tests, new_tests = _tests_by_mapping(old), _tests_by_mapping(new)
    for name, mapping_id in mapping_ids.items():
        names = [t["name"] for t in old_tests.get(name, []) + new_tests.get(name, [])]
        if names:
            conn.execute(
                "DELETE FROM integration_mapping_tests WHERE mapping_id = %s AND test_name = ANY(%s)",
                (mapping_id, names),
            )
        for test in new_tests.get(name, []):
            conn.execute(
                "INSERT INTO integration_mapping_tests (mapping_id, test_name, test_type, input_data, "
                "expected_output, organization_id, created_by, updated_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    mapping_id,
                    test["name"],
                    test["test_type"],
                    Jsonb(test["input_data"]),
                    Jsonb(test["expected_output"]),
                    instance.organization_id,
                    by,
                    by,
                ),
            )

