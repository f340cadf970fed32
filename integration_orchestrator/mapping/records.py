"""Loading ``integration_mappings`` rows as :class:`~integration_orchestrator.model.MappingRow`."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from integration_orchestrator.model.rows import MappingRow

__all__ = ["MAPPING_COLUMNS", "load_mapping_rows"]


MAPPING_COLUMNS = tuple(f.name for f in fields(MappingRow) if f.name not in ("extra", "row"))


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
