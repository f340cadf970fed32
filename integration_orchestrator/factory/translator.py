"""``IntegrationTranslator``: how one integration becomes Dagster names, tags and specs.

One override point, :meth:`IntegrationTranslator.get_integration_spec`, fed a typed
:class:`IntegrationTranslatorData` (the validated rows plus the default, collision-free
names). Subclass it to change names, tags, the asset spec, op retry policies, pools or
the job's default run config (``run_config=None`` under an executor other than Dagster's
multiprocess one)::

    class MyTranslator(IntegrationTranslator):
        def get_integration_spec(self, data):
            spec = super().get_integration_spec(data)
            return spec.replace(
                asset_spec=spec.asset_spec.replace_attributes(group_name="erp"),
                op_tags={**spec.op_tags, "team": "finance"},
                pool="erp_api",
            )

    defs = build_definitions(translator=MyTranslator())

Names must stay ``[A-Za-z0-9_]``; two integrations whose translated job names collide
are reported as invalid rows, never silently merged.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg

from integration_orchestrator.model import Integration, RetrySettings
from integration_orchestrator.model.slugs import slugify
from integration_orchestrator.model.tags import (
    TAG_CONFIG_ID,
    TAG_CONFIG_VERSION,
    TAG_JOB,
    TAG_ORGANIZATION_ID,
    TAG_PIPELINE_ID,
    TAG_SERIAL,
    TAG_SOURCE,
    TAG_TARGET,
    TAG_TYPE,
)

__all__ = [
    "IntegrationDefinitionSpec",
    "IntegrationTranslator",
    "IntegrationTranslatorData",
    "default_run_config",
    "retry_policy_from",
    "serial_value",
]



@dataclass(frozen=True)
class IntegrationTranslatorData:
    """What the translator gets: the integration and its default (ARCHITECTURE.md §5) names."""

    record: Integration
    job_name: str
    asset_key: dg.AssetKey
    check_names: Mapping[str, str]  # mapping id → check name


@dataclass(frozen=True)
class IntegrationDefinitionSpec:
    """What the factory builds for one integration job."""

    job_name: str
    asset_spec: dg.AssetSpec
    check_names: Mapping[str, str]
    run_tags: Mapping[str, str]
    op_tags: Mapping[str, Any]
    retry_policy: dg.RetryPolicy | None
    pool: str | None
    description: str | None
    #: The job's default run config; by default Dagster's in-process executor for linear
    #: and conditional pipelines, its multiprocess executor for parallel and hybrid ones
    #: (see :func:`default_run_config`). None when the Definitions bring another executor
    #: (dagster-k8s, celery, docker), whose config differs.
    run_config: Mapping[str, Any] | None = None
    #: Where the ops write their output batches (a ``UPath``: a directory or an object
    #: store URL such as ``s3://bucket/prefix``); None: ``integration_batches`` under the
    #: Dagster instance's storage directory (ARCHITECTURE.md §10).
    batch_storage: str | None = None

    def replace(self, **changes: Any) -> IntegrationDefinitionSpec:
        return dataclasses.replace(self, **changes)


def retry_policy_from(settings: RetrySettings | None) -> dg.RetryPolicy | None:
    """A Dagster ``RetryPolicy`` from a ``retry_policy`` row value."""
    if settings is None:
        return None
    backoff = dg.Backoff.EXPONENTIAL if settings.backoff == "exponential" else dg.Backoff.LINEAR
    return dg.RetryPolicy(
        max_retries=settings.max_retries,
        delay=settings.delay_seconds,
        backoff=backoff,
        jitter=dg.Jitter.PLUS_MINUS if settings.jitter else None,
    )


def default_run_config(record: Integration) -> dict[str, Any]:
    """Linear and conditional pipelines (and integrations without one): Dagster's in-process
    executor, as their steps run one after another anyway; every step is still its own op
    in the graph, the UI and the event log. Parallel and hybrid pipelines: the multiprocess
    executor with forkserver step processes (where the platform has them: each step forks
    from a server that has already imported Dagster and the code location, instead of
    starting Python afresh), bounded by ``performance_config.parallelism`` for a parallel
    pipeline."""
    settings, pipeline = record.settings, record.pipeline
    if pipeline is None or pipeline.pipeline_type in ("linear", "conditional"):
        return {"execution": {"config": {"in_process": {}}}}
    multiprocess: dict[str, Any] = {}
    if "forkserver" in multiprocessing.get_all_start_methods():
        multiprocess["start_method"] = {"forkserver": {}}
    if settings is not None and pipeline.pipeline_type == "parallel" and settings.parallelism:
        multiprocess["max_concurrent"] = settings.parallelism
    return {"execution": {"config": {"multiprocess": multiprocess}}}


def serial_value(record: Integration) -> str | None:
    """The ``integration/serial`` value of every run of ``record``'s job: its config id (the
    target belongs to the config, so all its pipelines queue behind each other), or None when
    the integration has schedules and every one allows concurrent execution. A job tag, so
    UI launches, ``dagster job launch``, re-executions, schedules and sensors all carry it."""
    schedules = record.schedules
    if schedules and all(s.concurrent_execution_allowed for s in schedules):
        return None
    return record.config.id


def _endpoint_type(record: Integration, role: str) -> str | None:
    endpoint = record.config.connection_config.get(role)
    return str(endpoint.get("type")) if isinstance(endpoint, Mapping) and endpoint.get("type") else None


class IntegrationTranslator:
    """Default translation of an integration into Dagster names and specs (ARCHITECTURE.md §5)."""

    def get_integration_spec(self, data: IntegrationTranslatorData) -> IntegrationDefinitionSpec:
        """The single override point: return the spec for ``data`` (call ``super()`` to adjust)."""
        record = data.record
        config = record.config
        source, target = _endpoint_type(record, "source"), _endpoint_type(record, "target")
        run_tags = {TAG_CONFIG_ID: config.id, TAG_ORGANIZATION_ID: config.organization_id}
        if record.pipeline is not None:
            run_tags[TAG_PIPELINE_ID] = record.pipeline.id
        serial = serial_value(record)
        if serial is not None:
            run_tags[TAG_SERIAL] = serial
        kinds = {k for k in (slugify(source or "", ""), slugify(target or "", "")) if k}
        description = str(config.row.get("description") or f"Integration {config.integration_name}")
        asset_spec = dg.AssetSpec(
            key=data.asset_key,
            description=description,
            group_name="integrations",
            kinds=kinds or None,
            metadata={
                TAG_CONFIG_ID: config.id,
                TAG_ORGANIZATION_ID: config.organization_id,
                TAG_TYPE: config.integration_type,
                TAG_SOURCE: source or "",
                TAG_TARGET: target or "",
                TAG_CONFIG_VERSION: config.version,
            },
        )
        pipeline = record.pipeline
        job_description = (
            str(pipeline.row.get("description") or f"Pipeline {pipeline.pipeline_name} ({pipeline.pipeline_type})")
            if pipeline is not None
            else f"Integration {config.integration_name} (no pipeline)"
        )
        return IntegrationDefinitionSpec(
            job_name=data.job_name,
            asset_spec=asset_spec,
            check_names=dict(data.check_names),
            run_tags=run_tags,
            op_tags={TAG_JOB: data.job_name},
            retry_policy=retry_policy_from(record.retry),
            pool=None,
            description=job_description,
            run_config=default_run_config(record),
        )
