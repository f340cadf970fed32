"""The demo integration: HR records → mappings (with tests) → a 3-step pipeline → a table.

``seed_demo`` writes the rows (idempotent: an existing demo organization is replaced),
``run_demo`` builds the Definitions from the database, runs the job on a real Dagster
instance (dagster-postgres storage, the same one ``dev`` shows in the UI) and reads the
results back from PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from integration_orchestrator.db import connect
from integration_orchestrator.db.rows import insert_row
from integration_orchestrator.schedules.timing import next_run_times

__all__ = [
    "DEMO_JOB",
    "DEMO_ORGANIZATION_SLUG",
    "DEMO_TABLE",
    "DemoIds",
    "DemoSummary",
    "read_summary",
    "run_demo_job",
    "seed_demo",
]

DEMO_ORGANIZATION_SLUG = "demo-compliance"
DEMO_TABLE = "demo_access_register"
DEMO_JOB = "hr_access_review"

EMPLOYEES: list[dict[str, Any]] = [
    {"employee": {"id": "1001", "first": "Ada", "last": "Lovelace"}, "email": "ADA@EXAMPLE.COM",
     "dept": "ENG", "hired": "2019-03-04", "status": "active"},
    {"employee": {"id": "1002", "first": "Grace", "last": "Hopper"}, "email": "grace@example.com",
     "dept": "FIN", "hired": "2020-11-30", "status": "active"},
    {"employee": {"id": "1003", "first": "Alan", "last": "Turing"}, "email": "alan@example.com",
     "dept": "OPS", "hired": "2018-07-15", "status": "terminated"},
    {"employee": {"id": "1004", "first": "Katherine", "last": "Johnson"}, "email": "kj@example.com",
     "dept": "ENG", "hired": "2021-01-11", "status": "active"},
    {"employee": {"id": "1005", "first": "Edsger", "last": "Dijkstra"}, "email": "ewd@example.com",
     "dept": "HR", "hired": "2022-05-02", "status": "active"},
    {"employee": {"id": "1006", "first": "Barbara", "last": "Liskov"}, "email": "bl@example.com",
     "dept": "XX", "hired": "2023-09-18", "status": "active"},
    {"employee": {"id": "1007", "first": "Donald", "last": "Knuth"}, "email": "not-an-email",
     "dept": "ENG", "hired": "2024-02-29", "status": "active"},
]

DEPARTMENTS = {"ENG": "Engineering", "FIN": "Finance", "OPS": "Operations", "HR": "People"}

MAPPINGS: list[dict[str, Any]] = [
    {"mapping_name": "employee_id", "source_path": "$.employee.id", "target_path": "employee_id",
     "source_data_type": "string", "target_data_type": "integer", "is_required": True,
     "transformation_rules": {"type": "cast", "to": "integer"}, "error_handling": "fail",
     "tests": [("numeric id", "unit", {"employee": {"id": "42"}}, {"employee_id": 42}),
               ("missing id fails", "edge_case", {"employee": {}}, {"error": "employee_id"})]},
    {"mapping_name": "full_name", "source_path": "$.employee", "target_path": "full_name",
     "target_data_type": "string", "transformation_rules": {"type": "template", "template": "{first} {last}"},
     "tests": [("first and last", "unit", {"employee": {"first": "Ada", "last": "Lovelace"}},
                {"full_name": "Ada Lovelace"})]},
    {"mapping_name": "email", "source_path": "email", "target_path": "email", "target_data_type": "string",
     "transformation_rules": {"type": "jmespath", "expression": "@"},
     "validation_rules": {"post": {"type": "string", "pattern": "^[^@]+@[^@]+$"}}, "tests": []},
    {"mapping_name": "department", "source_path": "dept", "target_path": "department",
     "transformation_rules": {"type": "lookup", "values": DEPARTMENTS}, "error_handling": "skip",
     "tests": [("known code", "unit", {"dept": "FIN"}, {"department": "Finance"}),
               ("unknown code drops the record", "edge_case", {"dept": "??"}, {"dropped": True})]},
    {"mapping_name": "hired_on", "source_path": "hired", "target_path": "hired_on", "target_data_type": "date",
     "transformation_rules": {"type": "direct"},
     "tests": [("iso date", "unit", {"hired": "2020-11-30"}, {"hired_on": "2020-11-30"})]},
    {"mapping_name": "status", "source_path": "status", "target_path": "status",
     "transformation_rules": {"type": "direct"}, "tests": []},
]

STEPS: list[dict[str, Any]] = [
    {"name": "active only", "order": 1, "reusable": "active_employees"},
    {"name": "risk tier", "order": 2, "transformation": {
        "transformation_name": "risk tier", "transformation_type": "enrich", "language": "jmespath",
        "transformation_logic": {"expression":
            "{risk_tier: (department == 'Engineering' || department == 'Finance') && 'high' || 'standard'}"}}},
    {"name": "review label", "order": 3, "transformation": {
        "transformation_name": "review label", "transformation_type": "map", "language": "jmespath",
        "transformation_logic": {"expression": "merge(@, {review_label: join(' / ', [department, risk_tier])})"}}},
]

TABLE_DDL = f"""
CREATE TABLE IF NOT EXISTS {DEMO_TABLE} (
    employee_id integer PRIMARY KEY,
    full_name   text NOT NULL,
    email       text,
    department  text,
    hired_on    date,
    status      text,
    risk_tier   text,
    review_label text
)"""


@dataclass(frozen=True)
class DemoIds:
    organization_id: str
    config_id: str
    pipeline_id: str
    schedule_id: str


def seed_demo(url: str) -> DemoIds:
    """(Re)create the demo organization and its integration rows in one transaction."""
    with connect(url) as conn, conn.transaction():
        conn.execute("DELETE FROM organizations WHERE slug = %s", (DEMO_ORGANIZATION_SLUG,))
        conn.execute(f"DROP TABLE IF EXISTS {DEMO_TABLE}")
        conn.execute(TABLE_DDL)
        org = insert_row(conn, "organizations", {"name": "Demo Compliance Co", "slug": DEMO_ORGANIZATION_SLUG})
        config = insert_row(conn, "integration_configs", {
            "integration_name": "HR access review", "integration_type": "hr", "organization_id": org,
            "description": "Employees from the HR system into the access-review register",
            "connection_config": {
                "source": {"type": "inline", "records": EMPLOYEES},
                "target": {"type": "postgres_table", "table": DEMO_TABLE, "mode": "upsert", "key": ["employee_id"]},
            },
        })
        active = insert_row(conn, "integration_transformations", {
            "transformation_name": "active_employees", "transformation_type": "filter", "language": "jmespath",
            "transformation_logic": {"expression": "status == 'active'"}, "organization_id": org,
            "test_cases": {"cases": [
                {"name": "active kept", "input": {"status": "active"}, "expected": True},
                {"name": "terminated dropped", "input": {"status": "terminated"}, "expected": False},
            ]},
        })
        for mapping in MAPPINGS:
            values = {k: v for k, v in mapping.items() if k != "tests"}
            mapping_id = insert_row(
                conn, "integration_mappings", {**values, "config_id": config, "organization_id": org}
            )
            for name, kind, given, expected in mapping["tests"]:
                insert_row(conn, "integration_mapping_tests", {
                    "mapping_id": mapping_id, "organization_id": org, "test_name": name, "test_type": kind,
                    "input_data": given, "expected_output": expected,
                })
        steps = [
            {"name": s["name"], "order": s["order"], "transformation_id": active} if "reusable" in s
            else {"name": s["name"], "order": s["order"], "transformation": s["transformation"]}
            for s in STEPS
        ]
        pipeline = insert_row(conn, "integration_pipeline_definitions", {
            "pipeline_name": DEMO_JOB, "config_id": config, "organization_id": org, "pipeline_type": "linear",
            "pipeline_steps": {"steps": steps}, "error_handling_strategy": "dead_letter",
        })
        schedule = insert_row(conn, "integration_schedules", {
            "config_id": config, "organization_id": org, "schedule_name": "HR access review nightly",
            "schedule_type": "cron", "cron_expression": "0 2 * * *", "timezone": "Europe/Berlin",
        })
    return DemoIds(org, config, pipeline, schedule)


def run_demo_job(url: str, dagster_home: Path) -> dg.ExecuteInProcessResult:
    """Build the Definitions from the rows and run the demo job on the instance in ``dagster_home``."""
    from integration_orchestrator.assembly import build_definitions

    defs = build_definitions(url)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    with dg.DagsterInstance.get() as instance:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        return defs.get_job_def(DEMO_JOB).execute_in_process(
            instance=instance, raise_on_error=False, run_config=quiet
        )


@dataclass
class DemoSummary:
    execution: dict[str, Any]
    rows: list[dict[str, Any]]
    checks: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    next_runs: list[Any] = field(default_factory=list)


def read_summary(url: str, ids: DemoIds, run_id: str) -> DemoSummary:
    """What the run wrote back, read from PostgreSQL."""
    with connect(url) as conn:
        execution = conn.execute(
            "SELECT status, records_in, records_out, records_failed, dagster_run_id, error_message "
            "FROM integration_executions WHERE dagster_run_id = %s", (run_id,),
        ).fetchone() or {}
        rows = conn.execute(f"SELECT * FROM {DEMO_TABLE} ORDER BY employee_id").fetchall()  # noqa: S608 - a constant
        checks = conn.execute(
            "SELECT m.mapping_name, t.test_name, t.test_status::text AS status FROM integration_mapping_tests t "
            "JOIN integration_mappings m ON m.id = t.mapping_id WHERE m.config_id = %s "
            "ORDER BY m.mapping_name, t.test_name", (ids.config_id,),
        ).fetchall()
        letters = conn.execute(
            "SELECT step_name, error_message FROM integration_dead_letters WHERE config_id = %s", (ids.config_id,),
        ).fetchall()
        schedule = conn.execute("SELECT * FROM integration_schedules WHERE id = %s", (ids.schedule_id,)).fetchone()
        runs = next_run_times(conn, schedule, dt.datetime.now(dt.UTC), 3) if schedule else []
    return DemoSummary(dict(execution), [dict(r) for r in rows], [dict(c) for c in checks],
                       [dict(d) for d in letters], runs)
