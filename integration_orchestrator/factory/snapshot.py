"""The snapshot as JSON: what ships to run workers as Dagster reconstruction metadata.

At code-location load the factory queries the integration tables once, and
:func:`snapshot_to_json` is recorded with
``DefinitionsLoadContext.add_to_pending_reconstruction_metadata``. Run and step workers
(``DefinitionsLoadType.RECONSTRUCTION``) rebuild the same Definitions from
:func:`snapshot_from_json` and never query the integration tables.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from integration_orchestrator.errors import RowError
from integration_orchestrator.model import (
    ConfigRecord,
    MappingRow,
    MappingTestRecord,
    PipelineRecord,
    RejectedRow,
    Row,
    ScheduleRecord,
    Snapshot,
    TransformationRecord,
)

__all__ = [
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_METADATA_KEY",
    "TABLE_RECORDS",
    "normalize_rows",
    "snapshot_from_json",
    "snapshot_from_rows",
    "snapshot_to_json",
]

SNAPSHOT_METADATA_KEY = "integration_orchestrator/snapshot"
SNAPSHOT_FORMAT = 1

#: snapshot attribute → (table, record class)
TABLE_RECORDS: dict[str, tuple[str, Callable[[Row], Any]]] = {
    "configs": ("integration_configs", ConfigRecord.from_row),
    "pipelines": ("integration_pipeline_definitions", PipelineRecord.from_row),
    "mappings": ("integration_mappings", MappingRow.from_row),
    "mapping_tests": ("integration_mapping_tests", MappingTestRecord.from_row),
    "transformations": ("integration_transformations", TransformationRecord.from_row),
    "schedules": ("integration_schedules", ScheduleRecord.from_row),
}


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (uuid.UUID, _dt.timedelta)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot put a {type(value).__name__} into the snapshot")


def normalize_rows(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Rows as they will look after a JSON round trip (UUIDs, dates, decimals → strings)."""
    normalized: list[dict[str, Any]] = orjson.loads(orjson.dumps(list(rows), default=_default))
    return normalized


def snapshot_from_rows(
    tables: Mapping[str, Iterable[Row]], *, loaded_at: str = "", organization_id: str | None = None
) -> Snapshot:
    """Typed records from normalised rows keyed by snapshot attribute (``configs`` ...).

    A row that cannot be typed (a schedule Dagster cannot honour) becomes a :class:`RejectedRow`.
    """
    fields: dict[str, Any] = {}
    rows = {attribute: tuple(tables.get(attribute, ())) for attribute in TABLE_RECORDS}
    rejected: list[RejectedRow] = []
    for attribute, (table, from_row) in TABLE_RECORDS.items():
        typed = []
        for row in rows[attribute]:
            try:
                typed.append(from_row(row))
            except RowError as error:
                rejected.append(RejectedRow(table, row, error))
        fields[attribute] = tuple(typed)
    return Snapshot(**fields, rejected=tuple(rejected), loaded_at=loaded_at, organization_id=organization_id,
                    rows=rows)


def snapshot_to_json(snapshot: Snapshot) -> str:
    payload = {
        "format": SNAPSHOT_FORMAT,
        "loaded_at": snapshot.loaded_at,
        "organization_id": snapshot.organization_id,
        "tables": {attr: list(snapshot.rows.get(attr, ())) for attr in TABLE_RECORDS},
    }
    return orjson.dumps(payload, default=_default).decode()


def snapshot_from_json(text: str) -> Snapshot:
    payload = orjson.loads(text)
    if payload.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"unknown snapshot format {payload.get('format')!r}")
    return snapshot_from_rows(
        payload["tables"], loaded_at=payload["loaded_at"], organization_id=payload["organization_id"]
    )
