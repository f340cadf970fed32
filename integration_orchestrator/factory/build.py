"""The chain: snapshot → validate → name → translate → integration jobs and their checks.

At code-location load :func:`load_or_reconstruct` queries the integration tables once and
records the snapshot as reconstruction metadata; run and step workers (``RECONSTRUCTION``)
rebuild from that snapshot and never query the integration tables. The assembly
(:mod:`integration_orchestrator.assembly`) turns the result into ``dagster.Definitions``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)

from integration_orchestrator.db import existing_database_url
from integration_orchestrator.errors import DatabaseUnavailableError
from integration_orchestrator.factory.checks import check_specs, evaluate_mapping_checks
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.integration_job import IntegrationJob
from integration_orchestrator.factory.load import load_snapshot_from_url
from integration_orchestrator.factory.resources import (
    DATABASE_RESOURCE_KEY,
    IntegrationDatabase,
)
from integration_orchestrator.factory.sensors import RECONCILE_SENSOR_NAME
from integration_orchestrator.factory.snapshot import (
    SNAPSHOT_METADATA_KEY,
    snapshot_from_json,
    snapshot_to_json,
)
from integration_orchestrator.factory.translator import (
    IntegrationTranslator,
    IntegrationTranslatorData,
)
from integration_orchestrator.factory.validate import validate_snapshot
from integration_orchestrator.model import InvalidRow, Snapshot, default_names

__all__ = ["FactoryResult", "declared_checks", "load_or_reconstruct", "translate"]

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
            snapshot = load_snapshot_from_url(existing_database_url(database_url), organization_id)
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


def declared_checks(jobs: Sequence[IntegrationJob]) -> list[dg.AssetChecksDefinition]:
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
    def _run(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
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
