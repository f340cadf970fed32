"""One plain op job per integration (no asset job: see the module note below).

Dagster resolves every asset job against the whole asset graph, so one asset job per
integration grows quadratically with the number of integrations. An op job whose sink
emits ``AssetMaterialization`` (and whose checks op emits ``AssetCheckEvaluation``) for
the integration's declared ``AssetSpec``/check specs keeps the asset and its checks in
the UI and grows linearly.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from integration_orchestrator.factory.gcpause import young_collections_only
from integration_orchestrator.factory.incremental import window_partitions
from integration_orchestrator.factory.ops import INTEGRATION_RESOURCE_KEY, IntegrationJob
from integration_orchestrator.factory.pipelines import compose_pipeline
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.serial import run_guard

__all__ = ["build_job"]


def _job_resource(job: IntegrationJob) -> dg.ResourceDefinition:
    """The job itself. Before any op of a run (or of a step process) gets it, the run has its
    execution row and, for a serial integration, the lease (see ``serial``); while held, full GC
    collections wait (see ``gcpause``)."""

    def resource(context: dg.InitResourceContext) -> Any:
        database: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
        with run_guard(job, database, context.run, context.instance), young_collections_only():
            yield job

    return dg.ResourceDefinition(resource_fn=resource, required_resource_keys={DATABASE_RESOURCE_KEY},
                                 description=f"the integration behind `{job.name}`")


def build_job(job: IntegrationJob, database: IntegrationDatabase) -> dg.JobDefinition:
    """The op job of ``job``; its resources: the platform database and the job itself."""
    record = job.record
    metadata: dict[str, Any] = {
        "integration": record.config.integration_name,
        "pipeline_type": record.pipeline.pipeline_type if record.pipeline else "none",
        "error_handling_strategy": record.strategy,
        "asset": job.spec.asset_spec.key.to_user_string(),
    }
    return dg.job(
        name=job.name,
        description=job.spec.description,
        tags=dict(job.spec.run_tags),
        metadata=metadata,
        resource_defs={
            INTEGRATION_RESOURCE_KEY: _job_resource(job),
            DATABASE_RESOURCE_KEY: database,
        },
        config=dict(job.spec.run_config) if job.spec.run_config is not None else None,  # type: ignore[arg-type]  # None: no config (the stubs omit it)
        partitions_def=window_partitions(record),  # a window source: one partition per window, for backfills
    )(compose_pipeline(job))
