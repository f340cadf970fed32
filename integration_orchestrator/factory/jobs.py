"""One job per integration, materializing the integration's asset (``factory.assets``).

Dagster resolves every ``define_asset_job`` against the whole asset graph, so one such
job per integration grows quadratically with the number of integrations. Each job here
is built from an asset graph holding only its own graph-backed asset, which keeps the
build linear; its ``checks`` node emits ``AssetCheckEvaluation`` for the check specs
that one shared multi-asset check declares (``build.declared_checks``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.assets.job.asset_job import build_asset_job

from integration_orchestrator.factory.gcpause import young_collections_only
from integration_orchestrator.factory.ops import INTEGRATION_RESOURCE_KEY, IntegrationJob
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.serial import run_guard

__all__ = ["build_job", "execution_config"]


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


def build_job(job: IntegrationJob, database: IntegrationDatabase, asset: dg.AssetsDefinition,
              resources: Mapping[str, Any] | None = None) -> dg.JobDefinition:
    """The job of ``job``, materializing ``asset`` (``factory.assets.integration_asset``); its
    resources: the platform database, the job itself and the user's ``resources`` (those
    the data teams' ops require)."""
    record = job.record
    metadata: dict[str, Any] = {
        "integration": record.config.integration_name,
        "pipeline_type": record.pipeline.pipeline_type if record.pipeline else "none",
        "error_handling_strategy": record.strategy,
        "asset": job.spec.asset_spec.key.to_user_string(),
    }
    return build_asset_job(  # one asset's graph, not the whole asset graph: linear
        name=job.name,
        asset_graph=AssetGraph.from_assets([asset]),
        allow_different_partitions_defs=False,
        description=job.spec.description,
        tags=dict(job.spec.run_tags),
        metadata=metadata,
        resource_defs={
            **(resources or {}),
            INTEGRATION_RESOURCE_KEY: _job_resource(job),
            DATABASE_RESOURCE_KEY: database,
        },
        **_execution(job.spec.run_config),
    )


def _execution(run_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` or ``executor_def`` for build_asset_job. A run config that only picks the
    default executor's mode becomes that executor configured (shared by every job with the
    same config): a default run config makes Dagster build the job's whole run config
    schema when the repository is assembled, which is most of a large location's load."""
    if run_config is None:
        return {}
    execution = run_config.get("execution")
    if set(run_config) == {"execution"} and isinstance(execution, Mapping) and set(execution) == {"config"}:
        return {"executor_def": _configured_executor(json.dumps(execution["config"], sort_keys=True))}
    return {"config": dict(run_config)}


_EXECUTION: dict[int, Mapping[str, Any]] = {}


@functools.cache
def _configured_executor(config: str) -> dg.ExecutorDefinition:
    executor = dg.multi_or_in_process_executor.configured(json.loads(config), name="integration_executor")
    _EXECUTION[id(executor)] = json.loads(config)
    return executor


def execution_config(job_def: dg.JobDefinition) -> Mapping[str, Any] | None:
    """The execution config a job runs with by default: its configured executor's, else its run config's."""
    configured = _EXECUTION.get(id(job_def.executor_def))
    if configured is not None:
        return configured
    execution = (job_def.run_config or {}).get("execution")
    return execution.get("config") if isinstance(execution, Mapping) else None
