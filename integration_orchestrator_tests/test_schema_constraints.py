"""Every CHECK / UNIQUE / foreign key of the schema with good and bad input (table-driven):
bad input fails with the intended constraint and writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from integration_orchestrator.db.schema import TENANT_TABLES
from integration_orchestrator_tests.rows import insert_row, valid_row

Conn = psycopg.Connection[dict[str, Any]]

# ---------------------------------------------------------------------------------------
# Constraints: good and bad input, table-driven
# ---------------------------------------------------------------------------------------

Ids = dict[str, Any]
Override = Callable[[Ids, Ids], dict[str, Any]]  # (org A ids, org B ids) -> column overrides


def _same(values: dict[str, Any]) -> Override:
    return lambda a, b: values


def _dup(table: str, *columns: str) -> Override:
    """Override copying ``columns`` of org A's existing row (a UNIQUE violation)."""

    def build(a: Ids, b: Ids) -> dict[str, Any]:
        return {"__copy__": (table, columns)}

    return build


BAD: list[tuple[str, str, Override, str]] = [
    # table, case, override, expected constraint (or SQLSTATE for errors without one)
    ("organizations", "bad slug", _same({"slug": "Not A Slug"}), "valid_organization_slug"),
    ("organizations", "blank name", _same({"name": "  "}), "valid_organization_name"),
    ("organizations", "settings array", _same({"settings": Jsonb([])}), "valid_organization_settings"),
    ("users", "bad email", _same({"email": "nobody"}), "valid_user_email"),
    ("users", "duplicate email", _dup("users", "email"), "users_email_key"),
    ("integration_configs", "connection array", _same({"connection_config": Jsonb([])}), "valid_connection_config"),
    (
        "integration_configs",
        "source not object",
        _same({"connection_config": Jsonb({"source": 1})}),
        "valid_connection_endpoints",
    ),
    ("integration_configs", "unknown timezone", _same({"timezone": "Mars/Olympus"}), "valid_config_timezone"),
    ("integration_configs", "blank name", _same({"integration_name": ""}), "valid_integration_name"),
    ("integration_configs", "no type", _same({"integration_type": None}), "23502"),
    (
        "integration_configs",
        "unknown creator",
        _same({"created_by": uuid.uuid4()}),
        "integration_configs_created_by_fkey",
    ),
    ("integration_transformations", "input schema", _same({"input_schema": Jsonb([])}), "valid_input_schema"),
    ("integration_transformations", "output schema", _same({"output_schema": Jsonb(1)}), "valid_output_schema"),
    ("integration_transformations", "logic", _same({"transformation_logic": Jsonb("x")}), "valid_logic"),
    ("integration_transformations", "error schema", _same({"error_output_schema": Jsonb([])}), "valid_error_schema"),
    ("integration_transformations", "test cases", _same({"test_cases": Jsonb([])}), "valid_test_cases"),
    ("integration_transformations", "timeout", _same({"timeout_seconds": 0}), "valid_timeout_seconds"),
    ("integration_transformations", "language", _same({"language": "COBOL!"}),
     "integration_transformations_language_name"),
    ("integration_mappings", "rules array", _same({"transformation_rules": Jsonb([])}), "valid_transformation"),
    (
        "integration_mappings",
        "rules without type",
        _same({"transformation_rules": Jsonb({"to": "int"})}),
        "transformation_rules_type",
    ),
    (
        "integration_mappings",
        "type not string",
        _same({"transformation_rules": Jsonb({"type": 3})}),
        "transformation_rules_type",
    ),
    ("integration_mappings", "validation", _same({"validation_rules": Jsonb("x")}), "valid_validation"),
    ("integration_mappings", "coverage", _same({"test_coverage": 100.5}), "valid_test_coverage"),
    ("integration_mappings", "blank source", _same({"source_path": " "}), "valid_source_path"),
    ("integration_mappings", "blank target", _same({"target_path": ""}), "valid_target_path"),
    ("integration_mappings", "mapping type", _same({"mapping_type": "blob"}), "22P02"),
    (
        "integration_mappings",
        "config of other org",
        lambda a, b: {"config_id": b["integration_configs"]},
        "integration_mappings_config_id_fkey",
    ),
    ("integration_mapping_tests", "input", _same({"input_data": Jsonb([1])}), "valid_input"),
    ("integration_mapping_tests", "expected", _same({"expected_output": Jsonb(None)}), "valid_expected"),
    ("integration_mapping_tests", "actual", _same({"actual_output": Jsonb([])}), "valid_actual"),
    ("integration_mapping_tests", "time", _same({"execution_time_ms": -1}), "valid_execution_time"),
    ("integration_pipeline_definitions", "steps array", _same({"pipeline_steps": Jsonb([])}), "valid_steps"),
    (
        "integration_pipeline_definitions",
        "steps key",
        _same({"pipeline_steps": Jsonb({"steps": {}})}),
        "valid_steps_array",
    ),
    ("integration_pipeline_definitions", "no steps key", _same({"pipeline_steps": Jsonb({})}), "valid_steps_array"),
    ("integration_pipeline_definitions", "dead letter", _same({"dead_letter_config": Jsonb([])}), "valid_dead_letter"),
    ("integration_pipeline_definitions", "performance", _same({"performance_config": Jsonb(1)}), "valid_performance"),
    ("integration_pipeline_definitions", "monitoring", _same({"monitoring_config": Jsonb("x")}), "valid_monitoring"),
    ("integration_schedules", "cron without expression", _same({"schedule_type": "cron"}), "valid_schedule"),
    ("integration_schedules", "interval without minutes", _same({"schedule_type": "interval"}), "valid_schedule"),
    ("integration_schedules", "fixed without times", _same({"schedule_type": "fixed_time"}), "valid_schedule"),
    (
        "integration_schedules",
        "zero interval",
        _same({"schedule_type": "interval", "interval_minutes": 0}),
        "valid_interval_minutes",
    ),
    (
        "integration_schedules",
        "empty fixed times",
        _same({"schedule_type": "fixed_time", "fixed_times": []}),
        "valid_fixed_times",
    ),
    ("integration_schedules", "retry policy", _same({"retry_policy": Jsonb([])}), "valid_retry_policy"),
    ("integration_schedules", "exec params", _same({"execution_parameters": Jsonb(1)}), "valid_exec_params"),
    ("integration_schedules", "timeout", _same({"execution_timeout_seconds": 0}), "valid_execution_timeout"),
    (
        "integration_schedules",
        "dates",
        _same({"start_date": dt.date(2026, 2, 1), "end_date": dt.date(2026, 1, 1)}),
        "valid_date_range",
    ),
    ("integration_schedules", "no type", _same({"schedule_type": None}), "23502"),
    (
        "integration_schedules",
        "unknown recipient",
        _same({"notification_recipients": [uuid.UUID(int=1)]}),
        "valid_notification_recipients",
    ),
    (
        "integration_schedules",
        "recipient of other org",
        lambda a, b: {"notification_recipients": [a["users"], b["users"]]},
        "valid_notification_recipients",
    ),
    (
        "integration_executions",
        "duplicate run id",
        _dup("integration_executions", "dagster_run_id"),
        "integration_executions_dagster_run_id_key",
    ),
    ("integration_executions", "negative records", _same({"records_in": -1}), "valid_execution_records"),
    (
        "integration_executions",
        "finished before start",
        _same(
            {
                "started_at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                "finished_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            }
        ),
        "valid_execution_times",
    ),
    ("integration_executions", "config versions", _same({"config_versions": Jsonb([])}), "valid_config_versions"),
    ("integration_executions", "tags", _same({"tags": Jsonb([])}), "valid_execution_tags"),
    ("integration_executions", "metadata", _same({"metadata": Jsonb(1)}), "valid_execution_metadata"),
    (
        "integration_executions",
        "pipeline of other org",
        lambda a, b: {"pipeline_id": b["integration_pipeline_definitions"]},
        "integration_executions_pipeline_id_fkey",
    ),
    ("integration_schedule_executions", "counts", _same({"error_count": -1}), "valid_schedule_execution_counts"),
    (
        "integration_schedule_executions",
        "times",
        _same(
            {
                "actual_start_time": dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
                "actual_end_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            }
        ),
        "valid_schedule_execution_times",
    ),
    ("integration_schedule_executions", "status", _same({"execution_status": "done"}), "22P02"),
    ("integration_templates", "connection", _same({"connection_template": Jsonb([])}), "valid_connection"),
    ("integration_templates", "mappings array", _same({"mapping_templates": Jsonb([])}), "valid_mappings"),
    (
        "integration_templates",
        "mappings key",
        _same({"mapping_templates": Jsonb({"mappings": {}})}),
        "valid_mappings_array",
    ),
    ("integration_templates", "transforms", _same({"transformation_library": Jsonb([])}), "valid_transforms"),
    ("integration_templates", "tests", _same({"test_suite": Jsonb([])}), "valid_tests"),
    ("integration_templates", "rate limits", _same({"rate_limits": Jsonb(5)}), "valid_rate_limits"),
    (
        "integration_templates",
        "duplicate",
        _dup("integration_templates", "template_name", "version"),
        "integration_templates_template_name_version_organization_id_key",
    ),
    ("integration_template_instances", "customizations", _same({"customizations": Jsonb([])}), "valid_customizations"),
    (
        "integration_template_instances",
        "template of other org",
        lambda a, b: {"template_id": b["integration_templates"]},
        "template_instance_same_organization",
    ),
    ("integration_events", "payload", _same({"payload": Jsonb([])}), "valid_event_payload"),
    ("integration_events", "event type", _same({"event_type": ""}), "valid_event_type"),
    ("integration_dead_letters", "details", _same({"error_details": Jsonb([])}), "valid_dead_letter_details"),
    ("integration_dead_letters", "replay count", _same({"replay_count": -1}), "valid_replay_count"),
    ("integration_dead_letters", "no record", _same({"record": None}), "23502"),
    ("integration_notifications", "channel", _same({"channel": "E Mail"}), "valid_notification_channel"),
    ("integration_notifications", "payload", _same({"payload": Jsonb([])}), "valid_notification_payload"),
    (
        "integration_notifications",
        "recipient of other org",
        lambda a, b: {"recipient_id": b["users"]},
        "integration_notifications_recipient_id_fkey",
    ),
    (
        "integration_credentials",
        "duplicate name",
        _dup("integration_credentials", "config_id", "name"),
        "integration_credentials_organization_config_name_key",
    ),
    ("integration_credentials", "bad name", _same({"name": "has space"}), "valid_credential_name"),
    ("integration_credentials", "empty ciphertext", _same({"ciphertext": b""}), "valid_credential_ciphertext"),
    ("integration_credentials", "empty key id", _same({"key_id": " "}), "valid_credential_key_id"),
]


def _count(sdb: Conn, table: str) -> int:
    return sdb.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))).fetchone()["n"]


@pytest.mark.parametrize(("table", "case", "override", "expected"), BAD, ids=[f"{t}:{c}" for t, c, _, _ in BAD])
def test_bad_input_is_rejected_by_the_intended_constraint(
    sdb: Conn, organizations: tuple[Ids, Ids], table: str, case: str, override: Override, expected: str
) -> None:
    a, b = organizations
    row = valid_row(table, a)
    changes = override(a, b)
    if "__copy__" in changes:
        source_table, columns = changes.pop("__copy__")
        existing = sdb.execute(
            sql.SQL("SELECT {} FROM {} WHERE id = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(source_table)
            ),
            (a[source_table],),
        ).fetchone()
        assert existing is not None
        changes.update(existing)
    row.update(changes)
    before = _count(sdb, table)
    error = _insert_error(sdb, table, row, constraints_only=table == "integration_schedules")
    assert error is not None, f"{case}: the row was accepted"
    got = error.diag.constraint_name or error.sqlstate
    assert got == expected, f"{case}: {error}"
    assert _count(sdb, table) == before


# The next-run trigger of 0006 validates schedules before the CHECKs are evaluated; to test
# the CHECKs themselves (the backstop when that trigger does not fire) it is disabled
# inside a transaction that is always rolled back.
_NEXT_RUN_TRIGGER = "update_next_run_time"


def _insert_error(conn: Conn, table: str, row: dict[str, Any], *, constraints_only: bool) -> psycopg.Error | None:
    error: psycopg.Error | None = None
    with conn.transaction() as outer:
        if constraints_only:
            found = conn.execute(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname = %s", (table, _NEXT_RUN_TRIGGER)
            ).fetchone()
            if found:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                        sql.Identifier(table), sql.Identifier(_NEXT_RUN_TRIGGER)
                    )
                )
        try:
            with conn.transaction():
                insert_row(conn, table, row)
        except psycopg.Error as exc:
            error = exc
        raise psycopg.Rollback(outer)
    return error


@pytest.mark.parametrize(
    "override",
    [{"schedule_type": "cron"}, {"schedule_type": "interval", "interval_minutes": 0}],
    ids=["cron without expression", "zero interval"],
)
def test_bad_schedules_fail_with_every_trigger_active(
    sdb: Conn, organizations: tuple[Ids, Ids], override: dict[str, Any]
) -> None:
    a, _ = organizations
    before = _count(sdb, "integration_schedules")
    with pytest.raises(psycopg.Error):
        insert_row(sdb, "integration_schedules", {**valid_row("integration_schedules", a), **override})
    assert _count(sdb, "integration_schedules") == before


def test_the_valid_rows_insert(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, _ = organizations
    for table in [*sorted(set(TENANT_TABLES) - {"integration_config_history"}), "organizations"]:
        before = _count(sdb, table)
        insert_row(sdb, table, valid_row(table, a))
        assert _count(sdb, table) == before + 1, table


GOOD: list[tuple[str, dict[str, Any]]] = [
    ("integration_schedules", {"schedule_type": "interval", "interval_minutes": 15}),
    ("integration_schedules", {"schedule_type": "fixed_time", "fixed_times": [dt.time(9), dt.time(17, 30)]}),
    ("integration_schedules", {"schedule_type": "cron", "cron_expression": "0 * * * *"}),
    ("integration_schedules", {"schedule_type": "event_based", "start_date": dt.date(2026, 1, 1),
                               "end_date": dt.date(2026, 1, 1)}),
    ("integration_mappings", {"transformation_rules": None, "validation_rules": Jsonb({"pre": {"type": "object"}})}),
    ("integration_mappings", {"transformation_rules": Jsonb({"type": "cast", "to": "integer"}),
                              "source_data_type": "string", "target_data_type": "integer", "test_coverage": 100}),
    ("integration_configs", {"timezone": "UTC", "connection_config": Jsonb({})}),
    ("integration_configs", {"timezone": "Australia/Lord_Howe"}),
    ("integration_credentials", {"config_id": None}),
    ("integration_templates", {"organization_id": None, "test_suite": Jsonb({"tests": []})}),
    ("integration_pipeline_definitions", {"pipeline_steps": Jsonb({"steps": [{"name": "a", "order": 1}]})}),
    ("integration_dead_letters", {"record": Jsonb([1, 2]), "execution_id": None, "pipeline_id": None}),
]


@pytest.mark.parametrize(("table", "override"), GOOD, ids=[f"{t}:{i}" for i, (t, _) in enumerate(GOOD)])
def test_good_input_is_accepted(
    sdb: Conn, organizations: tuple[Ids, Ids], table: str, override: dict[str, Any]
) -> None:
    a, _ = organizations
    new_id = insert_row(sdb, table, {**valid_row(table, a), **override})
    assert sdb.execute(
        sql.SQL("SELECT 1 AS ok FROM {} WHERE id = %s").format(sql.Identifier(table)), (new_id,)
    ).fetchone()


def test_recipients_of_the_schedules_organization_are_accepted(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, b = organizations
    row = {**valid_row("integration_schedules", a), "notification_recipients": [a["users"]]}
    schedule_id = insert_row(sdb, "integration_schedules", row)
    with pytest.raises(
        errors.ForeignKeyViolation, match=r"field `notification_recipients`: not users of .*" + str(b["users"])
    ):
        sdb.execute("UPDATE integration_schedules SET notification_recipients = %s WHERE id = %s",
                    ([a["users"], b["users"]], schedule_id))
    stored = sdb.execute("SELECT notification_recipients AS r FROM integration_schedules WHERE id = %s", (schedule_id,))
    assert stored.fetchone()["r"] == [a["users"]]


def test_system_templates_and_org_wide_credentials_are_unique_too(sdb: Conn, organizations: tuple[Ids, Ids]) -> None:
    a, _ = organizations
    template = {**valid_row("integration_templates", a), "organization_id": None}
    insert_row(sdb, "integration_templates", template)
    with pytest.raises(errors.UniqueViolation):
        insert_row(sdb, "integration_templates", {**template})
    credential = {**valid_row("integration_credentials", a), "config_id": None}
    insert_row(sdb, "integration_credentials", credential)
    with pytest.raises(errors.UniqueViolation):
        insert_row(sdb, "integration_credentials", {**credential})
