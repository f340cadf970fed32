"""What the SQL migrations define, as Python constants (no database access).

These mirror ``sql/0001_base.sql`` ... ``sql/0005_tenancy.sql``; a test compares them
with the database catalog, so they can be trusted for validation in Python (e.g.
``value in ENUMS["transformation_language"]``) without a query.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from integration_orchestrator.db.connection import APP_ROLE, ORG_SETTING

__all__ = [
    "APP_ROLE",
    "ENUMS",
    "ENUM_COLUMNS",
    "HISTORY_TABLE",
    "ORGANIZATIONS_TABLE",
    "ORG_SETTING",
    "READ_ONLY_TABLES",
    "SYSTEM_READABLE_TABLES",
    "TENANT_TABLES",
    "USER_SETTING",
    "VERSIONED_TABLES",
    "enum_values",
]

#: Per-transaction setting naming the acting user; recorded as ``changed_by`` in history.
USER_SETTING: Final = "integration.user_id"

ORGANIZATIONS_TABLE: Final = "organizations"
HISTORY_TABLE: Final = "integration_config_history"

#: Every table with an ``organization_id`` column, isolated by row-level security for
#: the application role (``organizations`` itself is isolated on ``id``).
TENANT_TABLES: Final[tuple[str, ...]] = (
    "integration_config_history",
    "integration_configs",
    "integration_credentials",
    "integration_dead_letters",
    "integration_events",
    "integration_executions",
    "integration_http_batches",
    "integration_http_loads",
    "integration_mapping_tests",
    "integration_mappings",
    "integration_notifications",
    "integration_pipeline_definitions",
    "integration_schedule_executions",
    "integration_schedules",
    "integration_template_instances",
    "integration_templates",
    "integration_transformations",
    "users",
)

#: Tables whose rows with ``organization_id IS NULL`` (system rows) every organization reads.
SYSTEM_READABLE_TABLES: Final[tuple[str, ...]] = ("integration_templates",)

#: Tables the application role may only read (written by triggers).
READ_ONLY_TABLES: Final[tuple[str, ...]] = ("integration_config_history",)

#: Configuration tables with an integer ``version`` bumped on change and a row in
#: ``integration_config_history`` per insert / versioned update / delete.
VERSIONED_TABLES: Final[tuple[str, ...]] = (
    "integration_configs",
    "integration_mappings",
    "integration_pipeline_definitions",
    "integration_schedules",
    "integration_transformations",
)

#: PostgreSQL enum type -> its values, in declaration order.
ENUMS: Final = MappingProxyType(
    {
        "deployment_status": ("draft", "testing", "active", "deprecated"),
        "dead_letter_status": ("staged", "pending", "replayed", "discarded"),
        "error_handling_strategy": ("fail_fast", "continue_on_error", "dead_letter", "retry"),
        "event_status": ("pending", "consumed", "failed", "skipped"),
        "execution_status": ("queued", "running", "succeeded", "failed", "cancelled"),
        "history_operation": ("insert", "update", "delete"),
        "mapping_direction": ("inbound", "outbound", "bidirectional"),
        "mapping_error_handling": ("fail", "skip", "default", "null"),
        "mapping_test_status": ("pending", "passed", "failed", "skipped"),
        "mapping_test_type": ("unit", "integration", "edge_case", "performance"),
        "mapping_type": ("field", "object", "array", "custom"),
        "missed_execution_policy": ("run_once", "run_all", "skip"),
        "notification_status": ("pending", "sent", "failed"),
        "performance_tier": ("lightweight", "standard", "heavy"),
        "pipeline_type": ("linear", "conditional", "parallel", "hybrid"),
        "schedule_execution_status": ("scheduled", "running", "completed", "failed", "cancelled", "skipped"),
        "schedule_type": ("cron", "interval", "fixed_time", "event_based", "manual"),
        "template_category": ("compliance", "security", "hr", "finance", "operations", "custom"),
        "transformation_language": ("jmespath", "jsonpath", "javascript", "python", "sql"),
        "transformation_type": ("map", "filter", "aggregate", "enrich", "validate", "custom"),
    }
)

#: (table, column) -> the enum type of that column.
ENUM_COLUMNS: Final = MappingProxyType(
    {
        ("integration_config_history", "operation"): "history_operation",
        ("integration_dead_letters", "status"): "dead_letter_status",
        ("integration_events", "status"): "event_status",
        ("integration_executions", "status"): "execution_status",
        ("integration_mapping_tests", "test_status"): "mapping_test_status",
        ("integration_mapping_tests", "test_type"): "mapping_test_type",
        ("integration_mappings", "error_handling"): "mapping_error_handling",
        ("integration_mappings", "mapping_direction"): "mapping_direction",
        ("integration_mappings", "mapping_type"): "mapping_type",
        ("integration_notifications", "status"): "notification_status",
        ("integration_pipeline_definitions", "error_handling_strategy"): "error_handling_strategy",
        ("integration_pipeline_definitions", "pipeline_type"): "pipeline_type",
        ("integration_schedule_executions", "execution_status"): "schedule_execution_status",
        ("integration_schedules", "missed_execution_policy"): "missed_execution_policy",
        ("integration_schedules", "schedule_type"): "schedule_type",
        ("integration_template_instances", "deployment_status"): "deployment_status",
        ("integration_templates", "template_category"): "template_category",
        ("integration_transformations", "performance_tier"): "performance_tier",
        ("integration_transformations", "transformation_type"): "transformation_type",
    }
)


def enum_values(name: str) -> tuple[str, ...]:
    """The values of enum type ``name`` (e.g. ``"schedule_type"``); KeyError names the known ones."""
    try:
        return ENUMS[name]
    except KeyError:
        raise KeyError(f"unknown enum type {name!r}; known: {', '.join(sorted(ENUMS))}") from None
