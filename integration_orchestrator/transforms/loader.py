"""Reading ``integration_transformations`` rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from integration_orchestrator.transforms.row import TransformationRow

__all__ = ["load_transformation_rows"]


def load_transformation_rows(
    conn: Any, ids: Iterable[Any] | None = None, organization_id: Any = None
) -> list[TransformationRow]:
    """Rows by name (optionally only ``ids`` / one organization), not yet validated.

    Validation happens in :func:`compile_transformation`, so one bad row does not stop
    the others from loading. ``conn`` is a psycopg connection with dict rows.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if ids is not None:
        clauses.append("id = ANY(%s::uuid[])")
        params.append([str(i) for i in ids])
    if organization_id is not None:
        clauses.append("organization_id = %s::uuid")
        params.append(str(organization_id))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    query = f"SELECT * FROM integration_transformations{where} ORDER BY transformation_name, id"  # noqa: S608 - fixed
    rows = conn.execute(query, params).fetchall()
    return [TransformationRow.from_mapping(dict(row), validate=False) for row in rows]
