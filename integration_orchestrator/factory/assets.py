"""The integration's asset, produced by its job's sink (ARCHITECTURE.md §9.2).

Each integration job is a one-asset job: its op graph (``source`` → ``mappings`` →
``step_<slug>``... → ``sink``, built from the shared op definitions) is the graph of a
graph-backed :class:`dagster.AssetsDefinition` whose one output, the sink's, is the
integration's asset. The job is built from an asset graph holding only that asset, so
building stays linear in the number of integrations; the asset therefore lists its job
(GraphQL ``jobNames``), the schedules and sensors that target the job, and can be
materialized from the UI.

The UI materializes an asset through Dagster's implicit asset job (``__ASSET_JOB``). Its
``integration_job`` resource (:func:`asset_job_resource`) finds the one integration the run
selects and guards the run as a launch of that integration's job would be: the job's
tags, its execution row, its lease (§10.6). A run that selects several integration assets
is refused with a message naming them: one integration per run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from integration_orchestrator.factory.failures import IntegrationRunFailure
from integration_orchestrator.factory.gcpause import young_collections_only
from integration_orchestrator.factory.incremental import window_partitions
from integration_orchestrator.factory.integration_job import INTEGRATION_RESOURCE_KEY, IntegrationJob
from integration_orchestrator.factory.pipelines import compose_pipeline
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY, IntegrationDatabase
from integration_orchestrator.factory.serial import run_guard

__all__ = ["GRAPH_SUFFIX", "asset_job_resource", "graph_name", "integration_asset", "pipeline_graph"]

#: the job's graph-backed asset's graph is named ``<job name>__pipeline`` (its nodes' step
#: keys: ``<job name>__pipeline.source`` ...); the job's own top graph has the job's name
GRAPH_SUFFIX = "__pipeline"


def graph_name(job: IntegrationJob) -> str:
    return f"{job.name}{GRAPH_SUFFIX}"


def integration_asset(job: IntegrationJob, deps: Iterable[dg.AssetKey] = ()) -> dg.AssetsDefinition:
    """``job``'s op graph as the graph-backed asset of ``job.spec.asset_spec`` (plus ``deps``:
    lineage, see ``factory.lineage``). The sink's output is the asset."""
    spec = job.spec.asset_spec
    extra = [d for d in deps if d not in {dep.asset_key for dep in spec.deps}]
    if extra:
        spec = spec.replace_attributes(deps=[*spec.deps, *extra])
    partitions = window_partitions(job.record)  # a window source: one partition per window (§10.9)
    if partitions is not None:
        spec = spec.replace_attributes(partitions_def=partitions)
    graph = dg.graph(name=graph_name(job), description=job.spec.description)(compose_pipeline(job))
    return dg.AssetsDefinition(
        node_def=graph, keys_by_input_name={}, keys_by_output_name={"result": spec.key}, specs=[spec],
    )


def _selected(run: dg.DagsterRun, owners: Mapping[dg.AssetKey, IntegrationJob]) -> list[IntegrationJob]:
    keys = owners.keys() if run.asset_selection is None else run.asset_selection
    found: dict[str, IntegrationJob] = {}
    for key in keys:
        if key in owners:
            found.setdefault(owners[key].name, owners[key])
    return list(found.values())


def asset_job_resource(jobs: Sequence[IntegrationJob]) -> dg.ResourceDefinition:
    """The ``integration_job`` resource of Dagster's implicit asset job (UI "Materialize"):
    the one integration the run selects, guarded like a run of its own job. ``jobs`` in
    the order their assets were declared: the first job of an asset key owns it."""
    owners: dict[dg.AssetKey, IntegrationJob] = {}
    for job in jobs:
        owners.setdefault(job.spec.asset_spec.key, job)

    def resource(context: dg.InitResourceContext) -> Any:
        run = context.dagster_run
        if run is None:  # built outside a run (tests, tools)
            yield None
            return
        selected = _selected(run, owners)
        if len(selected) != 1:
            names = ", ".join(sorted(j.name for j in selected)[:5])
            raise IntegrationRunFailure(
                f"A run materializes one integration (it runs as that integration's job); this run selects "
                f"{len(selected)}{': ' + names if names else ''}. Materialize the assets one at a time, "
                "or launch their jobs.",
                metadata={"integrations": len(selected)},
            )
        job = selected[0]
        database: IntegrationDatabase = getattr(context.resources, DATABASE_RESOURCE_KEY)
        tagged = run.with_tags({**job.spec.run_tags, **run.tags})
        with run_guard(job, database, tagged, context.instance), young_collections_only():
            yield job

    return dg.ResourceDefinition(
        resource_fn=resource, required_resource_keys={DATABASE_RESOURCE_KEY},
        description=f"{INTEGRATION_RESOURCE_KEY}: the integration whose asset a run of the implicit asset job "
                    "materializes",
    )


def pipeline_graph(job_def: dg.JobDefinition) -> dg.GraphDefinition:
    """The op graph inside an integration job (its one node, ``<job>__pipeline``)."""
    definition = job_def.graph.node_named(f"{job_def.name}{GRAPH_SUFFIX}").definition
    assert isinstance(definition, dg.GraphDefinition)
    return definition
