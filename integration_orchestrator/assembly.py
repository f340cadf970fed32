"""The definitions assembly: integration jobs (the factory) + schedules and sensors → ``dagster.Definitions``.

:func:`build_definitions` is what ``integration_orchestrator.definitions:defs`` calls. The
factory and the schedules package do not know each other; this module joins them: the
schedules of the integrations that loaded become schedules and sensors of their jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from integration_orchestrator.db.urls import env_database_url
from integration_orchestrator.errors import RowError
from integration_orchestrator.factory.assets import asset_job_resource, integration_asset
from integration_orchestrator.factory.build import (
    declared_checks,
    load_or_reconstruct,
    translate,
)
from integration_orchestrator.factory.custom_ops import registered_ops
from integration_orchestrator.factory.dataplane import preload
from integration_orchestrator.factory.engines import Engines, default_engines
from integration_orchestrator.factory.health import health_asset_spec
from integration_orchestrator.factory.integration_job import INTEGRATION_RESOURCE_KEY, IntegrationJob
from integration_orchestrator.factory.jobs import build_job
from integration_orchestrator.factory.lineage import link
from integration_orchestrator.factory.resources import (
    DATABASE_RESOURCE_KEY,
    IntegrationDatabase,
)
from integration_orchestrator.factory.sensors import reconcile_sensor
from integration_orchestrator.factory.translator import IntegrationTranslator
from integration_orchestrator.model import InvalidRow, Snapshot
from integration_orchestrator.schedules.build import build_schedule_definitions

__all__ = ["Checked", "build_definitions", "check_snapshot", "definitions_from_snapshot", "schedule_definitions"]

log = logging.getLogger(__name__)
SCHEDULES_TABLE = "integration_schedules"


def _invalid_schedule(error: RowError) -> InvalidRow:
    return InvalidRow.from_error(SCHEDULES_TABLE, error, config_id=None, fallback=(str(error.row_id), str(error.name)))


def schedule_definitions(
    snapshot: Snapshot, jobs: Sequence[IntegrationJob], database_url: str | None
) -> tuple[list[dg.ScheduleDefinition | dg.SensorDefinition], list[InvalidRow]]:
    """The schedules of loaded integrations → schedules/sensors; their problems → InvalidRows."""
    job_by_config: dict[str, str] = {}
    for job in jobs:
        job_by_config.setdefault(job.record.config.id, job.name)
    loaded = set(job_by_config)
    rejected = [
        r.error for r in snapshot.rejected if r.table == SCHEDULES_TABLE and str(r.row.get("config_id")) in loaded
    ]
    records = [s for s in snapshot.schedules if s.config_id in loaded]
    errors: list[RowError] = []
    definitions = build_schedule_definitions(records, job_by_config, database_url=database_url, errors=errors)
    return definitions, [_invalid_schedule(e) for e in (*rejected, *errors)]


@dataclass(frozen=True)
class Checked:
    """What a code location loads from a snapshot: the jobs, their schedules and sensors, every row it skips."""

    jobs: tuple[IntegrationJob, ...]
    schedules: tuple[dg.ScheduleDefinition | dg.SensorDefinition, ...]
    invalid: tuple[InvalidRow, ...]


def check_snapshot(
    snapshot: Snapshot,
    database_url: str | None = None,
    engines: Engines | None = None,
    translator: IntegrationTranslator | None = None,
    resources: Mapping[str, Any] | None = None,
) -> Checked:
    """Validate and translate ``snapshot`` (the default translator unless one is given), schedules
    included; with ``resources``, a job whose op steps need a resource not among them is an invalid row."""
    result = translate(snapshot, translator or IntegrationTranslator(), engines or default_engines())
    jobs, missing = _without_missing_resources(result.jobs, resources)
    schedules, schedule_invalid = schedule_definitions(snapshot, jobs, database_url)
    return Checked(tuple(jobs), tuple(schedules), (*result.invalid, *missing, *schedule_invalid))


def _without_missing_resources(
    found: Sequence[IntegrationJob], resources: Mapping[str, Any] | None,
) -> tuple[list[IntegrationJob], list[InvalidRow]]:
    """Jobs whose op steps need a resource the Definitions lack become invalid rows naming the op
    (``resources`` None: not checked, the caller adds resources itself)."""
    if resources is None:
        return list(found), []
    jobs: list[IntegrationJob] = []
    invalid: list[InvalidRow] = []
    for job in found:
        steps = job.record.settings.steps if job.record.settings else ()
        missing = [(s, sorted(set(registered_ops()[str(s.op)].required_resource_keys) - set(resources)))
                   for s in steps if s.op is not None]
        problem = next(((s, keys) for s, keys in missing if keys), None)
        if problem is None:
            jobs.append(job)
            continue
        step, keys = problem
        pipeline = job.record.pipeline
        table, row_id, human = ("integration_pipeline_definitions", pipeline.id, pipeline.pipeline_name) if pipeline \
            else ("integration_configs", job.record.config.id, job.record.config.integration_name)
        reason = (f"step `{step.name}`: op `{step.op}` needs resource(s) {', '.join(keys)}, which the Definitions "
                  "lack (build_definitions(resources={...}))")
        invalid.append(InvalidRow(table, row_id, human, "pipeline_steps", reason,
                                  f"In {table} `{human}` (id {row_id}): {reason}", job.record.config.id))
    return jobs, invalid


def definitions_from_snapshot(
    snapshot: Snapshot,
    translator: IntegrationTranslator | None = None,
    engines: Engines | None = None,
    database_url: str | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Pure: the Definitions of ``snapshot`` (no database access while building); ``resources``:
    the user's own (what data teams' ops require, see ``integration_orchestrator.ops``)."""
    resources = dict(resources or {})
    result = check_snapshot(snapshot, database_url, engines, translator, resources)
    if result.jobs:
        preload()
    invalid, schedules = result.invalid, result.schedules
    database = IntegrationDatabase(database_url=database_url)
    lineage = link(result.jobs, database_url or env_database_url())
    assets: dict[dg.AssetKey, dg.AssetsDefinition] = {}
    jobs: list[dg.JobDefinition] = []
    for job in result.jobs:  # every job materializes its asset; the first job of a key backs it in the repository
        key = job.spec.asset_spec.key
        asset = integration_asset(job, lineage.deps.get(key, ()))
        assets.setdefault(key, asset)
        jobs.append(build_job(job, database, asset, resources))
    health = health_asset_spec(invalid, integrations=len(result.jobs), loaded_at=snapshot.loaded_at)
    for row in invalid:
        log.warning("integration-orchestrator skipped an invalid row: %s", row.message)
    return dg.Definitions(
        assets=[*assets.values(), *lineage.sources, health],
        asset_checks=declared_checks(result.jobs),
        jobs=jobs,
        schedules=[d for d in schedules if isinstance(d, dg.ScheduleDefinition)],
        sensors=[reconcile_sensor(), *(d for d in schedules if isinstance(d, dg.SensorDefinition))],
        resources={**resources, DATABASE_RESOURCE_KEY: database,
                   INTEGRATION_RESOURCE_KEY: asset_job_resource(result.jobs)},
    )


def build_definitions(
    database_url: str | None = None,
    translator: IntegrationTranslator | None = None,
    organization_id: str | None = None,
    *,
    engines: Engines | None = None,
    resources: Mapping[str, Any] | None = None,
) -> dg.Definitions:
    """Integration rows → ``dagster.Definitions`` (see the module docstring); ``resources``:
    the user's own, e.g. those the data teams' ops require."""
    snapshot = load_or_reconstruct(database_url, organization_id)
    return definitions_from_snapshot(snapshot, translator, engines, database_url, resources)
