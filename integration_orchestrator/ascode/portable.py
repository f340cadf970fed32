"""Row values ⇄ file values: what makes a file portable between databases.

Files name what rows point at instead of giving ids: a pipeline step's
``transformation_id`` is ``transformation_name`` in a file, as is a ``transformation``
mapping rule's (at any depth: chains, inverses); an object/array mapping's children
(``transformation_rules.children``) are exported by mapping name. Times of
``fixed_times`` are ``"HH:MM"``, dates ISO strings.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from integration_orchestrator.ascode.columns import Table

__all__ = ["canonical", "file_values", "rename_references", "row_values"]


def canonical(value: Any) -> str:
    """A comparable text of a JSON value (``true`` never equals ``1``; key order ignored)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _time(value: Any) -> Any:
    if isinstance(value, dt.time):
        value = value.isoformat()
    if isinstance(value, str) and len(value) == 8 and value.endswith(":00"):
        return value[:5]
    return value


def file_values(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """Managed values in their file form: times ``HH:MM``, dates ISO, everything else as is."""
    out: dict[str, Any] = {}
    for column in table.columns:
        value = values.get(column, table.columns[column])
        if column == "fixed_times" and isinstance(value, list):
            value = [_time(v) for v in value]
        elif isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        out[column] = value
    return out


def rename_references(value: Any, rename: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    """``value`` with every object passed through ``rename`` (depth first, copies)."""
    if isinstance(value, dict):
        return rename({k: rename_references(v, rename) for k, v in value.items()})
    if isinstance(value, list):
        return [rename_references(v, rename) for v in value]
    return value


def row_values(
    table: Table,
    row: Mapping[str, Any],
    transformation_names: Mapping[str, str],
    mapping_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A database row's managed values in file form (ids of transformations and child
    mappings replaced by names; an id with no name is kept)."""
    values = file_values(table, row)

    def rename(item: dict[str, Any]) -> dict[str, Any]:
        ref = item.get("transformation_id")
        if isinstance(ref, str) and ref in transformation_names and (
            item.get("type") == "transformation" or "name" in item
        ):
            item = {("transformation_name" if k == "transformation_id" else k): v for k, v in item.items()}
            item["transformation_name"] = transformation_names[ref]
        return item

    for column in ("pipeline_steps", "transformation_rules"):
        if values.get(column) is not None:
            values[column] = rename_references(values[column], rename)
    rules = values.get("transformation_rules")
    if mapping_names and isinstance(rules, dict) and isinstance(rules.get("children"), list):
        rules["children"] = [mapping_names.get(c, c) if isinstance(c, str) else c for c in rules["children"]]
    return values
