"""Run and step workers rebuild from the snapshot recorded at load, never from the tables.

Loads the code location the way a code server does (``initialize_repository_def_from_pointer``
on ``integration_orchestrator.definitions:defs``), renames the integration tables so any
query of them fails, then executes the job under the multiprocess executor: every step
runs in its own process, rebuilt from the reconstruction metadata.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._core.definitions.reconstruct import ReconstructableRepository, initialize_repository_def_from_pointer

from integration_orchestrator.factory.build import _metadata_key
from integration_orchestrator.factory.snapshot import snapshot_from_json
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    create_target_table,
    jmespath_step,
)

TABLES = ["integration_configs", "integration_mappings", "integration_mapping_tests",
          "integration_pipeline_definitions", "integration_transformations", "integration_schedules"]


pytestmark = pytest.mark.usefixtures("fresh_load_context")


@pytest.mark.slow
def test_multiprocess_run_rebuilds_from_snapshot(
    db: psycopg.Connection[Any], database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    org = add_organization(db)
    config = add_config(db, org, "People", [{"p": {"id": i}} for i in range(1, 6)])
    add_mapping(db, org, config, "id", "p.id", "id", target_data_type="integer")
    add_pipeline(db, org, config, "people mp", [
        jmespath_step("odd", 1, "filter", "id != `2`"),
        jmespath_step("tier", 2, "enrich", "{tier: 'x'}"),
    ], pipeline_type="parallel", performance={"batch_size": 2})
    create_target_table(db)
    monkeypatch.setenv("INTEGRATION_ORCHESTRATOR_DATABASE_URL", database_url)

    repo = ReconstructableRepository.for_module("integration_orchestrator.definitions", "defs")
    repo_def = initialize_repository_def_from_pointer(repo.pointer)
    load_data = repo_def.repository_load_data
    assert load_data is not None
    snapshot = snapshot_from_json(load_data.reconstruction_metadata[_metadata_key(None)].data)
    assert [c.integration_name for c in snapshot.configs] == ["People"]

    for table in TABLES:  # from now on, any query of the integration tables fails
        db.execute(f"ALTER TABLE {table} RENAME TO hidden_{table}")
    try:
        recon_job = repo.with_repository_load_data(load_data).get_reconstructable_job("people_mp")
        with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
            result = dg.execute_job(recon_job, instance=instance)
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            step_pids = {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
            assert len(step_pids) > 1  # steps ran in separate processes
    finally:
        for table in TABLES:
            db.execute(f"ALTER TABLE hidden_{table} RENAME TO {table}")
    assert [r["id"] for r in db.execute("SELECT id FROM people_out ORDER BY id").fetchall()] == [1, 3, 4, 5]
    execution = db.execute(
        "SELECT status, records_in, records_out, dagster_run_id FROM integration_executions"
    ).fetchone()
    assert execution == {"status": "succeeded", "records_in": 5, "records_out": 4, "dagster_run_id": result.run_id}
