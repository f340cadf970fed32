"""A code location for the real-daemon test: the schedule rows of the database named by
``IO_SCHEDULES_TEST_DATABASE_URL`` (read at definitions load, not at import), each
integration as a one-op job named ``job_<first 8 hex of the config id>``."""

from __future__ import annotations

import os
import time

import dagster as dg

from integration_orchestrator.db import connect
from integration_orchestrator.schedules.build import build_schedule_definitions

DATABASE_ENV = "IO_SCHEDULES_TEST_DATABASE_URL"


def job_name(config_id: str) -> str:
    return "job_" + config_id.replace("-", "")[:8]


@dg.op
def work(context) -> None:  # type: ignore[no-untyped-def]
    context.log.info(f"tags: {dict(context.run.tags)}")
    time.sleep(1)


@dg.definitions
def defs() -> dg.Definitions:
    url = os.environ[DATABASE_ENV]
    with connect(url) as conn:
        rows = conn.execute("SELECT * FROM integration_schedules ORDER BY created_at").fetchall()
    names = {str(r["config_id"]): job_name(str(r["config_id"])) for r in rows}
    jobs = [dg.GraphDefinition(name=name, node_defs=[work]).to_job() for name in sorted(set(names.values()))]
    built = build_schedule_definitions(rows, names, database_url=url)
    return dg.Definitions(
        jobs=jobs,
        schedules=[d for d in built if isinstance(d, dg.ScheduleDefinition)],
        sensors=[d for d in built if not isinstance(d, dg.ScheduleDefinition)],
    )
