"""``MappingRow``: one ``integration_mappings`` row as a typed record, and its loader."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["MAPPING_COLUMNS", "MappingRow", "load_mapping_rows"]


@dataclass(frozen=True)
class MappingRow:
    """The columns of ``integration_mappings`` that the engine uses (seed names).

    Nested mappings: an ``object`` or ``array`` row lists its children by
    ``mapping_name`` (or id) in ``transformation_rules["children"]``; a child's
    ``source_path`` is relative to the parent's source value (or array element) and its
    ``target_path`` relative to the parent's target object (or element). A row that is
    some row's child is not applied at the top level.
    """

    mapping_name: str
    source_path: str
    target_path: str
    mapping_type: str = "field"
    id: Any = None
    config_id: Any = None
    source_data_type: str | None = None
    target_data_type: str | None = None
    is_required: bool = False
    default_value: str | None = None
    transformation_rules: Mapping[str, Any] | None = None
    validation_rules: Mapping[str, Any] | None = None
    mapping_direction: str = "inbound"
    is_active: bool = True
    error_handling: str = "fail"
    mapping_notes: str | None = None
    test_coverage: Any = None
    organization_id: Any = None
    version: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingRow:
        """Build from a database row or a plain dict; unknown columns go to ``extra``.

        ``None`` in a column with a default (e.g. a NULL ``mapping_type``) takes the default.
        """
        known = {f.name: f for f in fields(cls) if f.name != "extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                default = known[key].default
                if value is None and default is not None and not isinstance(default, type(None)):
                    continue
                values[key] = value
            else:
                extra[key] = value
        return cls(**values, extra=extra)

    @property
    def label(self) -> str:
        return self.mapping_name


MAPPING_COLUMNS = tuple(f.name for f in fields(MappingRow) if f.name != "extra")


def load_mapping_rows(conn: Any, config_id: Any, *, include_inactive: bool = False) -> list[MappingRow]:
    """The mappings of ``config_id`` (active ones unless ``include_inactive``), oldest first.

    ``conn`` is a psycopg connection with dict rows (``integration_orchestrator.db.connect``).
    """
    query = "SELECT * FROM integration_mappings WHERE config_id = %s"
    if not include_inactive:
        query += " AND is_active"
    query += " ORDER BY created_at, mapping_name, id"
    rows = conn.execute(query, (config_id,)).fetchall()
    return [MappingRow.from_dict(row) for row in rows]
