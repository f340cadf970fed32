"""The catalog of sql/0001-0005: the seed's tables, columns, enums, constraints and
indexes under their names; the constants of integration_orchestrator.db.schema."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from integration_orchestrator.db.schema import ENUM_COLUMNS, ENUMS, TENANT_TABLES, enum_values

Conn = psycopg.Connection[dict[str, Any]]


_AUDIT = ["organization_id", "created_by", "created_at", "updated_by", "updated_at"]

#: The seed's tables and columns (plus the base tables' documented columns).
SEED_COLUMNS: dict[str, list[str]] = {
    "integration_mappings": [
        "id", "config_id", "mapping_name", "mapping_type", "source_path", "target_path", "source_data_type",
        "target_data_type", "is_required", "default_value", "transformation_rules", "validation_rules",
        "mapping_direction", "is_active", "error_handling", "mapping_notes", "test_coverage", *_AUDIT, "version",
    ],
    "integration_mapping_tests": [
        "id", "mapping_id", "test_name", "test_type", "input_data", "expected_output", "test_status",
        "actual_output", "execution_time_ms", "error_message", "last_run", "is_active", *_AUDIT,
    ],
    "integration_schedules": [
        "id", "config_id", "schedule_name", "schedule_type", "cron_expression", "interval_minutes", "fixed_times",
        "timezone", "is_active", "start_date", "end_date", "next_run_time", "last_run_time", "retry_policy",
        "execution_timeout_seconds", "concurrent_execution_allowed", "missed_execution_policy",
        "notification_on_failure", "notification_recipients", "execution_parameters", *_AUDIT, "version",
    ],
    "integration_schedule_executions": [
        "id", "schedule_id", "execution_id", "scheduled_time", "actual_start_time", "actual_end_time",
        "execution_status", "records_processed", "error_count", "warning_count", "execution_notes",
        "organization_id",
    ],
    "integration_templates": [
        "id", "template_name", "description", "integration_type", "template_category", "version", "is_active",
        "is_certified", "certification_date", "connection_template", "mapping_templates", "transformation_library",
        "test_suite", "documentation_url", "prerequisites", "supported_operations", "rate_limits", *_AUDIT,
    ],
    "integration_template_instances": [
        "id", "template_id", "config_id", "instance_name", "customizations", "deployment_status", "deployed_date",
        "deployed_by", "organization_id", "created_at", "updated_at",
    ],
    "integration_transformations": [
        "id", "transformation_name", "description", "transformation_type", "input_schema", "output_schema",
        "transformation_logic", "language", "is_reusable", "performance_tier", "timeout_seconds",
        "error_output_schema", "test_cases", *_AUDIT, "version",
    ],
    "integration_pipeline_definitions": [
        "id", "pipeline_name", "description", "config_id", "pipeline_type", "pipeline_steps",
        "error_handling_strategy", "dead_letter_config", "performance_config", "monitoring_config", "is_active",
        *_AUDIT, "version",
    ],
    "organizations": ["id", "name", "created_at", "updated_at"],
    "users": ["id", "organization_id", "email"],
    "integration_configs": [
        "id", "integration_name", "integration_type", "description", "connection_config", "timezone", "is_active",
        *_AUDIT, "version",
    ],
    "integration_executions": [
        "id", "config_id", "pipeline_id", "schedule_id", "dagster_run_id", "dagster_job_name", "status",
        "started_at", "finished_at", "records_in", "records_out", "records_failed", "error_message",
        "config_versions", "tags", "metadata", "organization_id",
    ],
    "integration_events": [
        "id", "config_id", "event_type", "payload", "status", "consumed_at", "consumed_by_run_id",
        "organization_id", "created_at",
    ],
    "integration_dead_letters": [
        "id", "execution_id", "config_id", "pipeline_id", "step_name", "record", "error_message", "error_details",
        "status", "replay_count", "replayed_at", "replay_execution_id", "organization_id", "created_at",
    ],
    "integration_notifications": [
        "id", "schedule_id", "execution_id", "recipient_id", "channel", "status", "payload", "error", "sent_at",
        "organization_id", "created_at",
    ],
    "integration_credentials": [
        "id", "organization_id", "config_id", "name", "ciphertext", "key_id", "created_at", "updated_at", "rotated_at",
    ],
    "integration_config_history": [
        "id", "table_name", "row_id", "version", "operation", "old_row", "new_row", "changed_by", "changed_at",
        "organization_id",
    ],
}

#: The seed's named CHECK constraints by table.
SEED_CHECKS: dict[str, list[str]] = {
    "integration_mappings": ["valid_transformation", "valid_validation"],
    "integration_mapping_tests": ["valid_input", "valid_expected", "valid_actual"],
    "integration_schedules": ["valid_retry_policy", "valid_exec_params", "valid_schedule"],
    "integration_templates": [
        "valid_connection", "valid_mappings", "valid_transforms", "valid_tests", "valid_rate_limits",
        "integration_templates_template_name_version_organization_id_key",
    ],
    "integration_template_instances": ["valid_customizations"],
    "integration_transformations": [
        "valid_input_schema", "valid_output_schema", "valid_logic", "valid_error_schema", "valid_test_cases",
    ],
    "integration_pipeline_definitions": [
        "valid_steps", "valid_steps_array", "valid_dead_letter", "valid_performance", "valid_monitoring",
    ],
}

#: index name -> (table, access method, partial predicate fragment or None)
SEED_INDEXES: dict[str, tuple[str, str, str | None]] = {
    "idx_integration_mappings_config": ("integration_mappings", "btree", None),
    "idx_schedules_next_run": ("integration_schedules", "btree", "is_active = true"),
    "idx_schedule_executions_status": ("integration_schedule_executions", "btree", None),
    "idx_integration_mappings_active": ("integration_mappings", "btree", "is_active = true"),
    "idx_mapping_tests_status": ("integration_mapping_tests", "btree", None),
    "idx_schedules_active_next": ("integration_schedules", "btree", "is_active = true"),
    "idx_schedule_executions_recent": ("integration_schedule_executions", "btree", None),
    "idx_templates_active": ("integration_templates", "btree", "is_active = true"),
    "idx_transformations_reusable": ("integration_transformations", "btree", "is_reusable = true"),
    "idx_mappings_transformation": ("integration_mappings", "gin", None),
    "idx_schedules_retry": ("integration_schedules", "gin", None),
    "idx_templates_mappings": ("integration_templates", "gin", None),
    "idx_pipeline_steps": ("integration_pipeline_definitions", "gin", None),
}


def _columns(sdb: Conn, table: str) -> set[str]:
    rows = sdb.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
        (table,),
    ).fetchall()
    return {r["column_name"] for r in rows}


@pytest.mark.parametrize("table", sorted(SEED_COLUMNS))
def test_table_has_the_documented_columns(sdb: Conn, table: str) -> None:
    missing = set(SEED_COLUMNS[table]) - _columns(sdb, table)
    assert missing == set(), f"{table} lacks {sorted(missing)}"


@pytest.mark.parametrize("table", sorted(SEED_CHECKS))
def test_seed_constraints_exist_under_their_names(sdb: Conn, table: str) -> None:
    rows = sdb.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass", (table,)).fetchall()
    missing = set(SEED_CHECKS[table]) - {r["conname"] for r in rows}
    assert missing == set()


@pytest.mark.parametrize("name", sorted(SEED_INDEXES))
def test_seed_indexes_exist_with_method_and_predicate(sdb: Conn, name: str) -> None:
    table, method, predicate = SEED_INDEXES[name]
    row = sdb.execute(
        "SELECT t.relname AS table, am.amname AS method, pg_get_expr(x.indpred, x.indrelid) AS predicate "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_am am ON am.oid = i.relam WHERE i.relname = %s",
        (name,),
    ).fetchone()
    assert row is not None, f"index {name} is missing"
    assert (row["table"], row["method"]) == (table, method)
    if predicate is None:
        assert row["predicate"] is None
    else:
        assert predicate in row["predicate"]


def test_enum_constants_match_the_catalog(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels FROM pg_type t "
        "JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = current_schema()::regnamespace "
        "GROUP BY t.typname"
    ).fetchall()
    assert {r["typname"]: tuple(r["labels"]) for r in rows} == dict(ENUMS)


def test_enum_columns_match_the_catalog(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT c.table_name, c.column_name, c.udt_name FROM information_schema.columns c "
        "JOIN pg_type t ON t.typname = c.udt_name AND t.typtype = 'e' "
        "WHERE c.table_schema = current_schema()"
    ).fetchall()
    assert {(r["table_name"], r["column_name"]): r["udt_name"] for r in rows} == dict(ENUM_COLUMNS)


def test_enum_values_names_the_known_types() -> None:
    assert enum_values("schedule_type") == ("cron", "interval", "fixed_time", "event_based", "manual")
    with pytest.raises(KeyError, match="known: dead_letter_status, deployment_status"):
        enum_values("nope")


def test_tenant_tables_constant_matches_the_catalog(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'organization_id'"
    ).fetchall()
    assert sorted(r["table_name"] for r in rows) == sorted(TENANT_TABLES)


def test_ids_default_to_gen_random_uuid_and_uuid_generate_v4_exists(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT table_name, column_default FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND column_name = 'id' AND data_type = 'uuid'"
    ).fetchall()
    assert rows and all(r["column_default"] == "gen_random_uuid()" for r in rows)
    value = sdb.execute("SELECT uuid_generate_v4() AS u").fetchone()["u"]
    assert isinstance(value, uuid.UUID) and value.version == 4


def test_organization_id_defaults_to_the_sessions_organization(sdb: Conn) -> None:
    rows = sdb.execute(
        "SELECT table_name, column_default, is_nullable FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND column_name = 'organization_id'"
    ).fetchall()
    found = {r["table_name"]: (r["column_default"], r["is_nullable"]) for r in rows}
    # history rows take the organization of the changed row (trigger); templates may be system-wide
    assert found.pop("integration_config_history") == (None, "NO")
    assert found.pop("integration_templates") == ("current_organization_id()", "YES")
    assert set(found.values()) == {("current_organization_id()", "NO")}
