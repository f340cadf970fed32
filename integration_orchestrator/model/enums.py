"""The SQL enums as Python tuples, taken from one place: :data:`integration_orchestrator.db.schema.ENUMS`.

A test compares ``ENUMS`` with the database catalog, so these are the values PostgreSQL accepts,
in declaration order.
"""

from __future__ import annotations

from typing import Final

from integration_orchestrator.db.schema import enum_values

__all__ = [
    "DEAD_LETTER_STATUSES",
    "DEPLOYMENT_STATUSES",
    "ERROR_STRATEGIES",
    "EXECUTION_STATUSES",
    "MAPPING_DIRECTIONS",
    "MAPPING_ERROR_HANDLING",
    "MAPPING_TEST_STATUSES",
    "MAPPING_TEST_TYPES",
    "MAPPING_TYPES",
    "MISSED_POLICIES",
    "PERFORMANCE_TIERS",
    "PIPELINE_TYPES",
    "SCHEDULE_EXECUTION_STATUSES",
    "SCHEDULE_TYPES",
    "TEMPLATE_CATEGORIES",
    "TRANSFORMATION_LANGUAGES",
    "TRANSFORMATION_TYPES",
    "TRIGGER_TYPES",
]

DEAD_LETTER_STATUSES: Final = enum_values("dead_letter_status")
DEPLOYMENT_STATUSES: Final = enum_values("deployment_status")
ERROR_STRATEGIES: Final = enum_values("error_handling_strategy")
EXECUTION_STATUSES: Final = enum_values("execution_status")
MAPPING_DIRECTIONS: Final = enum_values("mapping_direction")
MAPPING_ERROR_HANDLING: Final = enum_values("mapping_error_handling")
MAPPING_TEST_STATUSES: Final = enum_values("mapping_test_status")
MAPPING_TEST_TYPES: Final = enum_values("mapping_test_type")
MAPPING_TYPES: Final = enum_values("mapping_type")
MISSED_POLICIES: Final = enum_values("missed_execution_policy")
PERFORMANCE_TIERS: Final = enum_values("performance_tier")
PIPELINE_TYPES: Final = enum_values("pipeline_type")
SCHEDULE_EXECUTION_STATUSES: Final = enum_values("schedule_execution_status")
SCHEDULE_TYPES: Final = enum_values("schedule_type")
TEMPLATE_CATEGORIES: Final = enum_values("template_category")
TRANSFORMATION_LANGUAGES: Final = enum_values("transformation_language")
TRANSFORMATION_TYPES: Final = enum_values("transformation_type")

#: the schedule types that become a Dagster ScheduleDefinition
TRIGGER_TYPES: Final = ("cron", "interval", "fixed_time")
