"""The integration behind a job, as its ops see it: the ``integration_job`` resource.

:class:`IntegrationJob` carries the validated record, the translated spec and the
engines (compiled plans are cached on it per process); :func:`handle_failures` applies
the pipeline's error strategy to the records a node could not process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import dagster as dg

from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.failures import (
    IntegrationRunFailure,
)
from integration_orchestrator.factory.letters import record_key
from integration_orchestrator.factory.resources import (
    DATABASE_RESOURCE_KEY,
    IntegrationDatabase,
)
from integration_orchestrator.factory.translator import IntegrationDefinitionSpec
from integration_orchestrator.factory.writeback import (
    ensure_execution,
    insert_dead_letters,
)
from integration_orchestrator.masking import (
    Masker,
    load_keyring_or_none,
    masker_for,
    protect_failures,
)
from integration_orchestrator.model import (
    DEFAULT_BATCH_SIZE,
    FailedRecord,
    Integration,
    StepRecord,
)
from integration_orchestrator.model.tags import OWN_TAG_PREFIX, TAG_SCHEDULE_ID

__all__ = ["INTEGRATION_RESOURCE_KEY", "IntegrationJob", "db_of", "handle_failures", "job_of", "lineage"]

INTEGRATION_RESOURCE_KEY = "integration_job"
_T = TypeVar("_T")


@dataclass
class IntegrationJob:
    """Everything the ops of one job need; ``cache`` holds compiled engines per process."""

    record: Integration
    spec: IntegrationDefinitionSpec
    engines: Engines
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.spec.job_name

    def compiled(self, key: str, build: Callable[[], _T]) -> _T:
        if key not in self.cache:
            self.cache[key] = build()
        return cast(_T, self.cache[key])  # each key is only ever built by one kind of builder

    @property
    def batch_size(self) -> int:
        settings = self.record.settings
        return settings.batch_size if settings else DEFAULT_BATCH_SIZE

    @property
    def masker(self) -> Masker:
        """Masks secrets and the integration's sensitive fields (see integration_orchestrator.masking)."""
        return self.compiled("masker", lambda: masker_for(self.record))

    def step(self, node_name: str) -> StepRecord:
        steps = self.record.settings.steps if self.record.settings else ()
        for step in steps:
            if f"step_{step.op_suffix}" == node_name:
                return step
        raise KeyError(f"job {self.name} has no step node {node_name!r}")

    def execution_row(self, run: dg.DagsterRun) -> dict[str, Any]:
        """The ``ensure_execution`` arguments of ``run`` (a re-execution linked to its parent and root)."""
        from integration_orchestrator.history import run_config_versions

        config, pipeline = self.record.config, self.record.pipeline
        schedule_id = run.tags.get(TAG_SCHEDULE_ID)
        return {
            "run_id": run.run_id, "job_name": self.name, "organization_id": config.organization_id,
            "config_id": config.id, "pipeline_id": pipeline.id if pipeline else None, "schedule_id": schedule_id,
            "config_versions": run_config_versions(self.record, schedule_id), "tags": self.own_tags(run),
            "metadata": lineage(run),
        }

    def own_tags(self, run: dg.DagsterRun) -> dict[str, str]:
        """The run's tags that are the project's: ``integration/*`` and the job's own run tags
        (a translator's included); never Dagster's internal ones (``.dagster/grpc_info``, ...)."""
        own = self.spec.run_tags
        return {k: v for k, v in run.tags.items() if k.startswith(OWN_TAG_PREFIX) or k in own}

    def execution(self, context: Any) -> str:
        """The run's ``integration_executions`` id (the job resource creates the row when the run starts)."""
        with db_of(context).connection() as conn:
            return ensure_execution(conn, **self.execution_row(context.run))


def lineage(run: dg.DagsterRun) -> dict[str, str]:
    """``parent_run_id``/``root_run_id`` of a re-execution (empty for a first run)."""
    links = {"parent_run_id": run.parent_run_id, "root_run_id": run.root_run_id}
    return {k: v for k, v in links.items() if v}


def job_of(context: Any) -> IntegrationJob:
    job: IntegrationJob = getattr(context.resources, INTEGRATION_RESOURCE_KEY)
    return job


def db_of(context: Any) -> IntegrationDatabase:
    db: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
    return db


def handle_failures(
    context: dg.OpExecutionContext, job: IntegrationJob, step: str, failures: list[FailedRecord],
    masker: Masker | None = None,
) -> None:
    """Apply the pipeline's error strategy to the records ``step`` could not process."""
    if not failures:
        return
    masker = masker or job.masker
    strategy = job.record.strategy
    first = failures[0]
    message = masker.text_for(first.message, first.record)
    summary = f"Step `{step}`: {len(failures)} record(s) failed; first (record {first.index}): {message}"
    if strategy in ("fail_fast", "retry"):
        raise IntegrationRunFailure(summary, metadata={"step": step, "failed": len(failures), "strategy": strategy})
    if strategy == "dead_letter":
        execution_id = job.execution(context)
        config_id, pipeline_id = job.record.config.id, job.record.pipeline.id if job.record.pipeline else None
        keys = [record_key(config_id, pipeline_id, f.step, f.record) for f in failures]  # of the plain records
        with db_of(context).connection() as conn:
            insert_dead_letters(
                conn, organization_id=job.record.config.organization_id, execution_id=execution_id,
                config_id=config_id, pipeline_id=pipeline_id,
                failures=protect_failures(failures, masker, load_keyring_or_none()), keys=keys,
            )
        context.log.warning(f"{summary} — staged in integration_dead_letters (pending once the load commits)")
        return
    context.log.warning(f"{summary} — dropped (continue_on_error)")
