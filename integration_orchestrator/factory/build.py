"""The chain: snapshot → validate → name → translate → ``dagster.Definitions``.

:func:`build_definitions` is what ``integration_orchestrator.definitions:defs`` calls. At
code-location load it queries the integration tables once and records the snapshot as
reconstruction metadata; run and step workers (``RECONSTRUCTION``) rebuild from that
snapshot and never query the integration tables.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.definitions_load_context import DefinitionsLoadContext, DefinitionsLoadType

from integration_orchestrator.db import resolve_database_url
from integration_orchestrator.errors import DatabaseUnavailableError
from integration_orchestrator.factory.checks import check_specs, evaluate_mapping_checks
from integration_orchestrator.factory.engines import Engines, default_engines
from integration_orchestrator.factory.health import health_asset_spec
from integration_orchestrator.factory.jobs import build_job
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.naming import default_names
from integration_orchestrator.factory.ops import IntegrationJob
from integration_orchestrator.factory.records import Snapshot
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.sensors import RECONCILE_SENSOR_NAME, reconcile_sensor
from integration_orchestrator.factory.snapshot import SNAPSHOT_METADATA_KEY, snapshot_from_json, snapshot_to_json
from integration_orchestrator.factory.translator import IntegrationTranslator, IntegrationTranslatorData
from integration_orchestrator.factory.validate import InvalidRow, validate_snapshot

__all__ = [
    "FactoryResult",
    "build_definitions",
    "definitions_from_snapshot",
    "load_or_reconstruct",
    "schedule_definitions",
    "translate",
]

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class FactoryResult:
    jobs: tuple[IntegrationJob, ...]
    invalid: tuple[InvalidRow, ...]


def _metadata_key(organization_id: str | None) -> str:
    return f"{SNAPSHOT_METADATA_KEY}/{organization_id or 'all'}"


def load_or_reconstruct(database_url: str | None = None, organization_id: str | None = None) -> Snapshot:
    """The snapshot: from reconstruction metadata in run workers, else from the database."""
    context = DefinitionsLoadContext.get()
    key = _metadata_key(organization_id)
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION and key in context.reconstruction_metadata:
        text = context.reconstruction_metadata[key]
        snapshot = snapshot_from_json(text)
    else:
        try:
            snapshot = load_snapshot_from_url(resolve_database_url(database_url), organization_id)
        except DatabaseUnavailableError as error:
            raise DatabaseUnavailableError(error.url, error.reason) from None  # one clear line, no chain
        text = snapshot_to_json(snapshot)
    context.add_to_pending_reconstruction_metadata(key, text)
    return snapshot


def translate(snapshot: Snapshot, translator: IntegrationTranslator, engines: Engines) -> FactoryResult:
    """Validate, name and translate every integration; a failing one becomes an InvalidRow."""
    validated = validate_snapshot(snapshot, engines)
    names = default_names(validated.integrations)
    invalid = list(validated.invalid)
    jobs: list[IntegrationJob] = []
    taken: set[str] = {RECONCILE_SENSOR_NAME}
    for record in validated.integrations:
        name = names[record.key]
        data = IntegrationTranslatorData(record, name.job_name, dg.AssetKey(list(name.asset_path)), name.check_names)
        table, row_id, human = (
            ("integration_pipeline_definitions", record.pipeline.id, record.pipeline.pipeline_name)
            if record.pipeline else ("integration_configs", record.config.id, record.config.integration_name)
        )
        try:
            spec = translator.get_integration_spec(data)
            if not _NAME.match(spec.job_name):
                raise ValueError(f"translated job name {spec.job_name!r} is not [A-Za-z0-9_]")
            if spec.job_name in taken:
                raise ValueError(f"translated job name {spec.job_name!r} is already used by another integration")
        except Exception as error:  # noqa: BLE001 - a translator bug skips one integration only
            reason = f"translator: {error}"
            invalid.append(InvalidRow(table, row_id, human, None, reason,
                                      f"In {table} `{human}` (id {row_id}): {reason}", record.config.id))
            continue
        taken.add(spec.job_name)
        jobs.append(IntegrationJob(record=record, spec=spec, engines=engines))
    return FactoryResult(tuple(jobs), tuple(invalid))


def _declared_checks(jobs: Sequence[IntegrationJob]) -> list[dg.AssetChecksDefinition]:
    """Every mapping check of every integration asset, declared by one subsettable
    multi-asset check (one definition instead of one per integration keeps loads of
    thousands of integrations cheap). Executing checks from the UI runs the selected
    mappings' tests; the integration jobs evaluate them in their own runs."""
    owner: dict[dg.AssetCheckKey, IntegrationJob] = {}
    specs: list[dg.AssetCheckSpec] = []
    seen_assets: set[dg.AssetKey] = set()
    for job in jobs:
        key = job.spec.asset_spec.key
        if key in seen_assets:
            continue
        seen_assets.add(key)
        for spec in check_specs(key, job.record.mappings, job.spec.check_names):
            specs.append(spec)
            owner[spec.key] = job
    if not specs:
        return []

    @dg.multi_asset_check(
        specs=specs, name="integration_mapping_checks", can_subset=True,
        required_resource_keys={DATABASE_RESOURCE_KEY},
        description="Mapping tests of the integrations (each is also evaluated by its integration's job)",
    )
    def _run(context):  # type: ignore[no-untyped-def]
        db: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
        selected = set(context.selected_asset_check_keys)
        for job in {id(owner[k]): owner[k] for k in selected}.values():
            for evaluation, _blocking in evaluate_mapping_checks(job.record, job.spec, db):
                key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
                if key in selected:
                    yield dg.AssetCheckResult(
                        asset_key=evaluation.asset_key, check_name=evaluation.check_name, passed=evaluation.passed,
                        severity=evaluation.severity, description=evaluation.description,
                        metadata=evaluation.metadata,
                    )

    return [_run]


def schedule_definitions(
    snapshot: Snapshot, jobs: Sequence[IntegrationJob], database_url: str | None
) -> tuple[list[dg.ScheduleDefinition | dg.SensorDefinition], list[InvalidRow]]:
    """Schedule rows → schedules/sensors (the schedules package), errors → InvalidRows."""
    from integration_orchestrator.errors import RowError
    from integration_orchestrator.schedules.build import build_schedule_definitions

    job_by_config: dict[str, str] = {}
    for job in jobs:
        job_by_config.setdefault(job.record.config.id, job.name)
    loaded = set(job_by_config)
    rows = [s for s in snapshot.schedules if s.config_id in loaded]
    errors: list[RowError] = []
    definitions = build_schedule_definitions(rows, job_by_config, database_url=database_url, errors=errors)
    invalid = [
        InvalidRow.from_error("integration_schedules", e, config_id=None, fallback=(str(e.row_id), str(e.name)))
        for e in errors
    ]
    return definitions, invalid


def definitions_from_snapshot(
    snapshot: Snapshot,
    translator: IntegrationTranslator | None = None,
    engines: Engines | None = None,
    database_url: str | None = None,
) -> dg.Definitions:
    """Pure: the Definitions of ``snapshot`` (no database access while building)."""
    result = translate(snapshot, translator or IntegrationTranslator(), engines or default_engines())
    database = IntegrationDatabase(database_url=database_url)
    schedules, schedule_invalid = schedule_definitions(snapshot, result.jobs, database_url)
    invalid = (*result.invalid, *schedule_invalid)
    assets: dict[dg.AssetKey, dg.AssetSpec] = {}
    for job in result.jobs:
        assets.setdefault(job.spec.asset_spec.key, job.spec.asset_spec)
    health = health_asset_spec(invalid, integrations=len(result.jobs), loaded_at=snapshot.loaded_at)
    for row in invalid:
        log.warning("integration-orchestrator skipped an invalid row: %s", row.message)
    return dg.Definitions(
        assets=[*assets.values(), health],
        asset_checks=_declared_checks(result.jobs),
        jobs=[build_job(job, database) for job in result.jobs],
        schedules=[d for d in schedules if isinstance(d, dg.ScheduleDefinition)],
        sensors=[reconcile_sensor(), *(d for d in schedules if isinstance(d, dg.SensorDefinition))],
        resources={DATABASE_RESOURCE_KEY: database},
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
