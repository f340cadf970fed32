"""``IntegrationJob``: the execution row a run writes (tags: only the project's own)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator_tests.rows import (
    add_config,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

DAGSTER_INTERNAL = {".dagster/grpc_info": '{"socket": "/tmp/tmpabc/grpc.sock"}', "dagster/from_ui": "true"}


def test_execution_row_stores_only_the_projects_own_tags(db: psycopg.Connection[Any], database_url: str) -> None:
    org = add_organization(db)
    config = add_config(db, org, "First", [{"id": 1}])
    add_pipeline(db, org, config, "first", [jmespath_step("a", 1, "map", "@")])
    create_target_table(db)
    job = build_definitions(database_url).get_job_def("first")
    with dg.instance_for_test() as instance:
        tags = {**DAGSTER_INTERNAL, "integration/serial_wait_seconds": "0"}
        result = job.execute_in_process(instance=instance, tags=tags)
    assert result.success
    row = db.execute("SELECT tags FROM integration_executions WHERE dagster_run_id = %s", (result.run_id,)).fetchone()
    tags = row["tags"]
    assert tags["integration/config_id"] == str(config)
    assert tags["integration/serial_wait_seconds"] == "0"
    assert not set(tags) & set(DAGSTER_INTERNAL)
    assert all(key.startswith("integration/") for key in tags), tags
