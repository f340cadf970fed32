"""Typed snapshot records: what the factory knows about the integration tables.

Every record keeps ``row``, the full row normalised to JSON types (UUIDs and timestamps
as strings), because the snapshot is shipped to run workers as JSON and both paths —
initial load and reconstruction — must build from exactly the same values. The typed
attributes are the columns the factory itself reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = [
    "ConfigRecord",
    "MappingRow",
    "MappingTestRecord",
    "PipelineRecord",
    "Record",
    "RejectedRow",
    "Row",
    "Snapshot",
    "TransformationRecord",
]

#: a database row as read (column → value)
Row = Mapping[str, Any]
#: one data record flowing through an integration (a JSON object)
Record = dict[str, Any]


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
    #: the whole row as read (normalised to JSON types in a snapshot); empty when built by hand
    row: Row = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MappingRow:
        """Build from a database row or a plain dict; unknown columns go to ``extra``.

        ``None`` in a column with a default (e.g. a NULL ``mapping_type``) takes the default.
        """
        known = {f.name: f for f in fields(cls) if f.name not in ("extra", "row")}
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

    @classmethod
    def from_row(cls, row: Row) -> MappingRow:
        """:meth:`from_dict` keeping the whole row (what the snapshot ships)."""
        return replace(cls.from_dict(row), row=row)

    @property
    def label(self) -> str:
        return self.mapping_name

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
    mappings: tuple[MappingRow, ...] = ()
    mapping_tests: tuple[MappingTestRecord, ...] = ()
    transformations: tuple[TransformationRecord, ...] = ()
    schedules: tuple[ScheduleRecord, ...] = ()
    #: rows that could not be typed (a schedule Dagster cannot honour), with the reason
    rejected: tuple[RejectedRow, ...] = ()
    loaded_at: str = ""
    organization_id: str | None = None
    #: the normalised rows by snapshot attribute, as read: what ships to run workers
    rows: Mapping[str, tuple[Row, ...]] = field(default_factory=dict, repr=False, compare=False)
