"""The columns an integration file manages, per table, with the database's defaults.

An object in a file is the whole truth for the columns listed here: a column the file
leaves out takes the default below (the same as the column's SQL default), so applying a
file twice changes nothing and ``export`` leaves out every column at its default. Columns
not listed (ids, ``organization_id``, ``created_*``/``updated_*``, ``version``, run results
such as ``test_status`` or ``test_coverage``, computed times, user ids) are never written by
``apply`` and never exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TABLES", "Table"]


@dataclass(frozen=True, eq=False)
class Table:
    """One table as the file format sees it."""

    table: str
    kind: str  # the human name used in messages ("mapping", "schedule", ...)
    key: tuple[str, ...]  # natural key columns, inside the parent
    columns: dict[str, Any]  # managed column → default (None: SQL NULL)
    required: tuple[str, ...]
    json_columns: frozenset[str] = frozenset()
    parent: str | None = None  # column referencing the parent row

    def resolved(self, values: dict[str, Any]) -> dict[str, Any]:
        """Every managed column: the value given, else the default."""
        return {column: values.get(column, default) for column, default in self.columns.items()}


TRANSFORMATIONS = Table(
    "integration_transformations", "transformation", ("transformation_name",),
    {
        "transformation_name": None, "description": None, "transformation_type": "map", "input_schema": None,
        "output_schema": None, "transformation_logic": None, "language": None, "is_reusable": True,
        "performance_tier": "standard", "timeout_seconds": 30, "error_output_schema": None, "test_cases": None,
    },
    ("transformation_name", "transformation_logic", "language"),
    frozenset({"input_schema", "output_schema", "transformation_logic", "error_output_schema", "test_cases"}),
)
CONFIGS = Table(
    "integration_configs", "integration", ("integration_name",),
    {
        "integration_name": None, "integration_type": None, "description": None, "connection_config": {},
        "timezone": "UTC", "is_active": True,
    },
    ("integration_name", "integration_type", "connection_config"),
    frozenset({"connection_config"}),
)
MAPPINGS = Table(
    "integration_mappings", "mapping", ("source_path", "target_path"),
    {
        "mapping_name": None, "mapping_type": "field", "source_path": None, "target_path": None,
        "source_data_type": None, "target_data_type": None, "is_required": False, "default_value": None,
        "transformation_rules": None, "validation_rules": None, "mapping_direction": "inbound", "is_active": True,
        "error_handling": "fail", "mapping_notes": None,
    },
    ("mapping_name", "source_path", "target_path"),
    frozenset({"transformation_rules", "validation_rules"}),
    parent="config_id",
)
MAPPING_TESTS = Table(
    "integration_mapping_tests", "mapping test", ("test_name",),
    {"test_name": None, "test_type": "unit", "input_data": None, "expected_output": None, "is_active": True},
    ("test_name", "input_data", "expected_output"),
    frozenset({"input_data", "expected_output"}),
    parent="mapping_id",
)
PIPELINES = Table(
    "integration_pipeline_definitions", "pipeline", ("pipeline_name",),
    {
        "pipeline_name": None, "description": None, "pipeline_type": "linear", "pipeline_steps": None,
        "error_handling_strategy": "fail_fast", "dead_letter_config": None, "performance_config": None,
        "monitoring_config": None, "is_active": True,
    },
    ("pipeline_name", "pipeline_steps"),
    frozenset({"pipeline_steps", "dead_letter_config", "performance_config", "monitoring_config"}),
    parent="config_id",
)
SCHEDULES = Table(
    "integration_schedules", "schedule", ("schedule_name",),
    {
        "schedule_name": None, "schedule_type": None, "cron_expression": None, "interval_minutes": None,
        "fixed_times": None, "timezone": "UTC", "is_active": True, "start_date": None, "end_date": None,
        "retry_policy": None, "execution_timeout_seconds": 300, "concurrent_execution_allowed": False,
        "missed_execution_policy": "run_once", "notification_on_failure": True, "execution_parameters": None,
    },
    ("schedule_name", "schedule_type"),
    frozenset({"retry_policy", "execution_parameters"}),
    parent="config_id",
)

#: file list key → table, in the order they are applied
TABLES: dict[str, Table] = {
    "transformations": TRANSFORMATIONS,
    "integrations": CONFIGS,
    "mappings": MAPPINGS,
    "tests": MAPPING_TESTS,
    "pipelines": PIPELINES,
    "schedules": SCHEDULES,
}
