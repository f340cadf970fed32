"""The definitions assembly: integration jobs (the factory) + schedules and sensors → ``dagster.Definitions``.

:func:`build_definitions` is what ``integration_orchestrator.definitions:defs`` calls. The
factory and the schedules package do not know each other; this module joins them: the
schedules of the integrations that loaded become schedules and sensors of their jobs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from integration_orchestrator.db.urls import env_database_url
from integration_orchestrator.errors import RowError
from integration_orchestrator.factory.assets import asset_job_resource, integration_asset
from integration_orchestrator.factory.build import (
    declared_checks,
    load_or_reconstruct,
    translate,
)
from integration_orchestrator.factory.dataplane import preload
from integration_orchestrator.factory.engines import Engines, default_engines
from integration_orchestrator.factory.health import health_asset_spec
from integration_orchestrator.factory.integration_job import IntegrationJob
from integration_orchestrator.factory.integration_job import INTEGRATION_RESOURCE_KEY
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
) -> Checked:
    """Validate and translate ``snapshot`` (the default translator unless one is given), schedules included."""
    result = translate(snapshot, translator or IntegrationTranslator(), engines or default_engines())
    schedules, schedule_invalid = schedule_definitions(snapshot, result.jobs, database_url)
    return Checked(result.jobs, tuple(schedules), (*result.invalid, *schedule_invalid))


def definitions_from_snapshot(
    snapshot: Snapshot,
    translator: IntegrationTranslator | None = None,
    engines: Engines | None = None,
    database_url: str | None = None,
) -> dg.Definitions:
    """Pure: the Definitions of ``snapshot`` (no database access while building)."""
    result = check_snapshot(snapshot, database_url, engines, translator)
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
        jobs.append(build_job(job, database, asset))
    health = health_asset_spec(invalid, integrations=len(result.jobs), loaded_at=snapshot.loaded_at)
    for row in invalid:
        log.warning("integration-orchestrator skipped an invalid row: %s", row.message)
    return dg.Definitions(
        assets=[*assets.values(), *lineage.sources, health],
        asset_checks=declared_checks(result.jobs),
        jobs=jobs,
        schedules=[d for d in schedules if isinstance(d, dg.ScheduleDefinition)],
        sensors=[reconcile_sensor(), *(d for d in schedules if isinstance(d, dg.SensorDefinition))],
        resources={DATABASE_RESOURCE_KEY: database, INTEGRATION_RESOURCE_KEY: asset_job_resource(result.jobs)},
    )


def build_definitions(
    database_url: str | None = None,
    translator: IntegrationTranslator | None = None,
    organization_id: str | None = None,
    *,
    engines: Engines | None = None,
) -> dg.Definitions:
    """Integration rows → ``dagster.Definitions`` (see the module docstring)."""
    snapshot = load_or_reconstruct(database_url, organization_id)
    return definitions_from_snapshot(snapshot, translator, engines, database_url)
