"""Loading what a plan needs from the platform database: rows, timezone, transformations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from integration_orchestrator.mapping.compiler import compile_plan
from integration_orchestrator.mapping.plan import MappingPlan
from integration_orchestrator.mapping.records import load_mapping_rows
from integration_orchestrator.model.rows import MappingRow

__all__ = ["config_timezone", "load_plan", "load_transformations", "referenced_transformation_ids"]


def referenced_transformation_ids(rows: Iterable[MappingRow]) -> list[str]:
    """Ids of ``integration_transformations`` rows used by ``transformation`` rules."""
    found: list[str] = []

    def visit(rule: Any) -> None:
        if not isinstance(rule, Mapping):
            return
        if rule.get("type") == "transformation" and rule.get("transformation_id") is not None:
            ident = str(rule["transformation_id"])
            if ident not in found:
                found.append(ident)
        for step in rule.get("steps") or []:
            visit(step)
        visit(rule.get("inverse"))

    for row in rows:
        visit(row.transformation_rules)
    return found


def load_transformations(conn: Any, rows: Sequence[MappingRow]) -> dict[str, Any]:
    """Compiled transformations referenced by ``rows``, by id.

    A transformation that fails to compile maps to its exception: the mapping using it is
    then rejected naming that error. Ids that are not valid UUIDs or do not exist are left
    out (the mapping is rejected as "not found"). Empty when the transformation engine is
    not installed (``transformation`` rules are then rejected as not yet supported).
    """
    ids = referenced_transformation_ids(rows)
    if not ids:
        return {}
    try:
        from integration_orchestrator.transforms import compile_transformation, load_transformation_rows
    except ImportError:
        return {}
    valid = [i for i in ids if _is_uuid(i)]
    compiled: dict[str, Any] = {}
    for row in load_transformation_rows(conn, valid) if valid else []:
        try:
            compiled[str(row.id)] = compile_transformation(row)
        except Exception as exc:  # noqa: BLE001 - a bad transformation row is that mapping's definition error
            compiled[str(row.id)] = exc
    return compiled


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def config_timezone(conn: Any, config_id: Any) -> str:
    """The ``timezone`` of an integration config (UTC when unset)."""
    row = conn.execute("SELECT timezone FROM integration_configs WHERE id = %s", (config_id,)).fetchone()
    return (row or {}).get("timezone") or "UTC"


def load_plan(conn: Any, config_id: Any, *, direction: str = "inbound") -> MappingPlan:
    """Load the active mappings of ``config_id`` and compile them (strict)."""
    rows = load_mapping_rows(conn, config_id)
    return compile_plan(
        rows,
        direction=direction,
        timezone=config_timezone(conn, config_id),
        transformations=load_transformations(conn, rows),
    )
