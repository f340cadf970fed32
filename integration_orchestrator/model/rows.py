"""Typed snapshot records: what the factory knows about the integration tables.

Every record keeps ``row``, the full row normalised to JSON types (UUIDs and timestamps
as strings), because the snapshot is shipped to run workers as JSON and both paths —
initial load and reconstruction — must build from exactly the same values. The typed
attributes are the columns the factory itself reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = [
    "ConfigRecord",
    "MappingRecord",
    "MappingTestRecord",
    "PipelineRecord",
    "RejectedRow",
    "Row",
    "Snapshot",
    "TransformationRecord",
]

Row = Mapping[str, Any]


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _order(row: Row) -> tuple[str, str]:
    return (str(row.get("created_at") or ""), str(row.get("id")))


@dataclass(frozen=True)
class ConfigRecord:
    id: str
    organization_id: str
    integration_name: str
    integration_type: str
    connection_config: Mapping[str, Any]
    timezone: str
    version: int
    row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> ConfigRecord:
        return cls(
            id=str(row["id"]),
            organization_id=str(row["organization_id"]),
            integration_name=str(row["integration_name"]),
            integration_type=str(row.get("integration_type") or ""),
            connection_config=row.get("connection_config") or {},
            timezone=str(row.get("timezone") or "UTC"),
            version=int(row.get("version") or 1),
            row=row,
        )

    @property
    def order(self) -> tuple[str, str]:
        return _order(self.row)


@dataclass(frozen=True)
class PipelineRecord:
    id: str
    config_id: str | None
    organization_id: str
    pipeline_name: str
    pipeline_type: str
    pipeline_steps: Any
    error_handling_strategy: str
    dead_letter_config: Mapping[str, Any]
    performance_config: Mapping[str, Any]
    monitoring_config: Mapping[str, Any]
    row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> PipelineRecord:
        return cls(
            id=str(row["id"]),
            config_id=_str_or_none(row.get("config_id")),
            organization_id=str(row["organization_id"]),
            pipeline_name=str(row["pipeline_name"]),
            pipeline_type=str(row.get("pipeline_type") or "linear"),
            pipeline_steps=row.get("pipeline_steps"),
            error_handling_strategy=str(row.get("error_handling_strategy") or "fail_fast"),
            dead_letter_config=row.get("dead_letter_config") or {},
            performance_config=row.get("performance_config") or {},
            monitoring_config=row.get("monitoring_config") or {},
            row=row,
        )

    @property
    def order(self) -> tuple[str, str]:
        return _order(self.row)


@dataclass(frozen=True)
class MappingRecord:
    id: str
    config_id: str
    mapping_name: str
    mapping_direction: str
    is_required: bool
    row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> MappingRecord:
        return cls(
            id=str(row["id"]),
            config_id=str(row["config_id"]),
            mapping_name=str(row["mapping_name"]),
            mapping_direction=str(row.get("mapping_direction") or "inbound"),
            is_required=bool(row.get("is_required")),
            row=row,
        )

    @property
    def order(self) -> tuple[str, str]:
        return _order(self.row)


@dataclass(frozen=True)
class MappingTestRecord:
    id: str
    mapping_id: str
    test_name: str
    row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> MappingTestRecord:
        return cls(id=str(row["id"]), mapping_id=str(row["mapping_id"]), test_name=str(row["test_name"]), row=row)


@dataclass(frozen=True)
class TransformationRecord:
    id: str
    transformation_name: str
    row: Row = field(repr=False)

    @classmethod
    def from_row(cls, row: Row) -> TransformationRecord:
        return cls(id=str(row["id"]), transformation_name=str(row["transformation_name"]), row=row)


@dataclass(frozen=True)
class RejectedRow:
    """A row of ``table`` that failed to parse into its typed record."""

    table: str
    row: Row = field(repr=False)
    error: RowError


@dataclass(frozen=True)
class Snapshot:
    """The active integration rows at one instant, grouped by table."""

    configs: tuple[ConfigRecord, ...] = ()
    pipelines: tuple[PipelineRecord, ...] = ()
    mappings: tuple[MappingRecord, ...] = ()
    mapping_tests: tuple[MappingTestRecord, ...] = ()
    transformations: tuple[TransformationRecord, ...] = ()
    schedules: tuple[ScheduleRecord, ...] = ()
    #: rows that could not be typed (a schedule Dagster cannot honour), with the reason
    rejected: tuple[RejectedRow, ...] = ()
    loaded_at: str = ""
    organization_id: str | None = None
    #: the normalised rows by snapshot attribute, as read: what ships to run workers
    rows: Mapping[str, tuple[Row, ...]] = field(default_factory=dict, repr=False, compare=False)
