"""Definitions factory benchmark: rows → Definitions for 100 / 300 / 1,000 / 3,000 integrations.

    .venv/bin/python benchmarks/factory_bench.py [--sizes 100,300,1000,3000]

Each integration: a config (inline source, postgres_table target), 3 mappings (2 with a
test), a 3-step linear pipeline (inline jmespath map/filter/enrich) and a cron schedule.

- factory: ``definitions_from_snapshot`` on the in-memory snapshot (validation with the
  real engines, naming, translator, ops/jobs, checks, schedules) — what a code location
  load does after its one query per table;
- hand: the same-shaped Definitions written directly with plain Dagster APIs, the
  issue's linear design (per integration: an ``AssetSpec``, a ``multi_asset_check`` with
  2 check specs, an op job of 7 own ops source → mappings → 3 steps → checks → sink with
  tags and a failure hook, a cron ``ScheduleDefinition``; one sensor);
- component: ``IntegrationsComponent.build_defs_from_state`` on the same snapshot written
  as its defs-state file (the JSON read back, then the factory);
- shared: plain Dagster in the factory's own structure (7 op definitions shared by every
  job and aliased per node, one resource per job, one subsettable multi-asset check for
  all check specs) — the factory's overhead over plain Dagster is factory / shared.

Both are resolved the same way (``get_repository_def()``, every job, the asset graph).
Each measurement runs in a fresh subprocess, best of ``--repeat`` (seconds and peak RSS growth over the
process's RSS after imports; the engines' one-time imports are not counted). Mappings
and step expressions differ per integration, so nothing is validated only once.
Target: factory / hand ≤ 1.2 and linear growth.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import uuid
from typing import Any

__all__ = ["build_factory", "build_hand", "main", "snapshot_of"]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def snapshot_of(n: int) -> Any:
    from integration_orchestrator.factory.snapshot import snapshot_from_rows

    org = str(uuid.UUID(int=1))
    tables: dict[str, list[dict[str, Any]]] = {k: [] for k in
                                               ("configs", "pipelines", "mappings", "mapping_tests", "schedules")}
    for i in range(n):
        config = str(uuid.UUID(int=10_000_000 + i))
        created = f"2026-01-01T00:00:{i % 60:02d}+00:00"
        tables["configs"].append({
            "id": config, "organization_id": org, "integration_name": f"Integration {i}", "integration_type": "bench",
            "connection_config": {"source": {"type": "inline", "records": [{"a": {"id": i}}]},
                                  "target": {"type": "postgres_table", "table": "out", "mode": "append"}},
            "timezone": "UTC", "version": 1, "created_at": created,
        })
        paths = [(f"a.id_{i}", "id"), (f"a.name_{i}", "name"), (f"a.kind_{i}", "kind")]  # no two alike
        for j, (src, dst) in enumerate(paths):
            mapping = str(uuid.UUID(int=20_000_000 + i * 10 + j))
            tables["mappings"].append({
                "id": mapping, "config_id": config, "organization_id": org, "mapping_name": f"map {dst}",
                "source_path": src, "target_path": dst, "mapping_type": "field", "mapping_direction": "inbound",
                "transformation_rules": {"type": "direct"}, "is_required": j == 0, "error_handling": "fail",
                "created_at": created,
            })
            if j < 2:
                tables["mapping_tests"].append(
                    {
                        "id": str(uuid.UUID(int=30_000_000 + i * 10 + j)),
                        "mapping_id": mapping,
                        "test_name": "t",
                        "input_data": {"a": {f"id_{i}": 1, f"name_{i}": "x"}},
                        "expected_output": {dst: 1 if j == 0 else "x"},
                        "organization_id": org,
                    }
                )
        steps = [
            {
                "name": "upper",
                "order": 1,
                "transformation": {
                    "transformation_type": "map",
                    "language": "jmespath",
                    "transformation_logic": {"expression": f"merge(@, {{n: `{i}`}})"},
                },
            },
            {
                "name": "keep",
                "order": 2,
                "transformation": {
                    "transformation_type": "filter",
                    "language": "jmespath",
                    "transformation_logic": {"expression": f"id > `{i}`"},
                },
            },
            {
                "name": "tag",
                "order": 3,
                "transformation": {
                    "transformation_type": "enrich",
                    "language": "jmespath",
                    "transformation_logic": {"expression": f"{{t: '{i}'}}"},
                },
            },
        ]
        tables["pipelines"].append({
            "id": str(uuid.UUID(int=40_000_000 + i)), "config_id": config, "organization_id": org,
            "pipeline_name": f"Pipeline {i}", "pipeline_type": "linear", "pipeline_steps": {"steps": steps},
            "error_handling_strategy": "fail_fast", "performance_config": {}, "created_at": created, "version": 1,
        })
        tables["schedules"].append({
            "id": str(uuid.UUID(int=50_000_000 + i)), "config_id": config, "organization_id": org,
            "schedule_name": f"Schedule {i}", "schedule_type": "cron", "cron_expression": "0 * * * *",
            "timezone": "UTC", "is_active": True, "created_at": created, "execution_timeout_seconds": 300,
            "missed_execution_policy": "skip", "concurrent_execution_allowed": False, "retry_policy": None,
            "execution_parameters": {}, "interval_minutes": None, "fixed_times": None, "start_date": None,
            "end_date": None, "last_run_time": None, "next_run_time": None, "notification_on_failure": False,
            "notification_recipients": None, "updated_at": created, "version": 1,
        })
    return snapshot_from_rows(tables, loaded_at="bench")


def build_factory(snapshot: Any) -> Any:
    from integration_orchestrator.assembly import definitions_from_snapshot

    return definitions_from_snapshot(snapshot, database_url="postgresql://bench@127.0.0.1/bench")


def build_component(state: Any) -> Any:
    """``IntegrationsComponent.build_defs_from_state``: the snapshot read back from its defs-state file."""
    from integration_orchestrator.component import IntegrationsComponent

    return IntegrationsComponent(database_url="postgresql://bench@127.0.0.1/bench").build_defs_from_state(
        None, state_path=state)  # type: ignore[arg-type]  # the context is not used


def _state_file(snapshot: Any) -> Any:
    import tempfile
    from pathlib import Path

    from integration_orchestrator.factory.snapshot import snapshot_to_json

    path = Path(tempfile.mkdtemp(prefix="io-bench-state-")) / "state"
    path.write_text(snapshot_to_json(snapshot))
    return path


def build_hand(n: int) -> Any:
    import dagster as dg

    @dg.failure_hook
    def on_failure(context: Any) -> None:
        return None

    @dg.sensor(minimum_interval_seconds=60)
    def reconcile(context: Any) -> Any:
        return dg.SkipReason("bench")

    assets, checks, jobs, schedules = [], [], [], []
    for i in range(n):
        key = dg.AssetKey(["integrations", f"integration_{i}"])
        assets.append(dg.AssetSpec(key, description="x", group_name="integrations", kinds={"inline"},
                                   metadata={"integration/config_id": str(i)}))
        specs = [dg.AssetCheckSpec(f"mapping_map_{c}", asset=key, blocking=c == "id") for c in ("id", "name")]

        def make_check(specs: list[dg.AssetCheckSpec], i: int = i) -> dg.AssetChecksDefinition:
            @dg.multi_asset_check(specs=specs, name=f"pipeline_{i}__mapping_checks")
            def _check(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
                yield from ()

            return _check

        checks.append(make_check(specs))
        name = f"pipeline_{i}"

        def mk(suffix: str, n_in: int, name: str = name) -> dg.OpDefinition:
            @dg.op(name=f"{name}__{suffix}", ins={f"in_{k}": dg.In(list) for k in range(n_in)}, tags={"j": name})
            def _op(context, **kwargs):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
                return [r for k in sorted(kwargs) for r in kwargs[k]]

            return _op

        source, mapping, s1, s2, s3, check_op, sink = (mk("source", 0), mk("mappings", 1), mk("step_upper", 1),
                                                       mk("step_keep", 1), mk("step_tag", 1), mk("checks", 0),
                                                       mk("sink", 2))

        def composition(ops: tuple[dg.OpDefinition, ...]) -> Any:
            source, mapping, s1, s2, s3, check_op, sink = ops

            def graph() -> None:
                sink(in_0=s3(in_0=s2(in_0=s1(in_0=mapping(in_0=source())))), in_1=check_op())

            return graph

        job = dg.job(name=name, tags={"integration/config_id": str(i)}, hooks={on_failure})(
            composition((source, mapping, s1, s2, s3, check_op, sink)))
        jobs.append(job)
        schedules.append(dg.ScheduleDefinition(name=f"schedule_{i}_schedule", cron_schedule="0 * * * *",
                                               execution_timezone="UTC", job_name=name))
    return dg.Definitions(assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules, sensors=[reconcile])


def build_hand_shared(n: int) -> Any:
    """Plain Dagster in the factory's structure: 7 shared op definitions aliased per node,
    one subsettable multi-asset check declaring every check, one resource per job."""
    import dagster as dg

    @dg.failure_hook
    def on_failure(context: Any) -> None:
        return None

    @dg.sensor(minimum_interval_seconds=60)
    def reconcile(context: Any) -> Any:
        return dg.SkipReason("bench")

    def mk(suffix: str, n_in: int) -> dg.OpDefinition:
        @dg.op(name=f"shared_{suffix}", ins={f"in_{k}": dg.In(list) for k in range(n_in)},
               required_resource_keys={"integration"})
        def _op(context, **kwargs):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
            return [r for k in sorted(kwargs) for r in kwargs[k]]

        return _op

    ops = {"source": mk("source", 0), "mappings": mk("mappings", 1), "step": mk("step", 1), "checks": mk("checks", 0),
           "sink": mk("sink", 2)}
    assets, specs, jobs, schedules = [], [], [], []
    for i in range(n):
        key = dg.AssetKey(["integrations", f"integration_{i}"])
        assets.append(dg.AssetSpec(key, description="x", group_name="integrations", kinds={"inline"},
                                   metadata={"integration/config_id": str(i)}))
        specs += [dg.AssetCheckSpec(f"mapping_map_{c}", asset=key, blocking=c == "id") for c in ("id", "name")]
        name = f"pipeline_{i}"

        def graph() -> None:
            tags = {"j": "x"}
            batch = ops["mappings"].alias("mappings").tag(tags)(in_0=ops["source"].alias("source").tag(tags)())
            for step in ("upper", "keep", "tag"):
                batch = ops["step"].alias(f"step_{step}").tag(tags)(in_0=batch)
            ops["sink"].alias("sink").tag(tags)(in_0=batch, in_1=ops["checks"].alias("checks").tag(tags)())

        jobs.append(dg.job(name=name, tags={"integration/config_id": str(i)}, hooks={on_failure},
                           resource_defs={"integration": dg.ResourceDefinition.hardcoded_resource(i)})(graph))
        schedules.append(dg.ScheduleDefinition(name=f"schedule_{i}_schedule", cron_schedule="0 * * * *",
                                               execution_timezone="UTC", job_name=name))

    @dg.multi_asset_check(specs=specs, name="all_checks", can_subset=True)
    def all_checks(context):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        yield from ()

    return dg.Definitions(assets=assets, asset_checks=[all_checks], jobs=jobs, schedules=schedules,
                          sensors=[reconcile])


def _resolve(defs: Any) -> int:
    repo = defs.get_repository_def()
    jobs = repo.get_all_jobs()
    repo.asset_graph.get_all_asset_keys()
    return len(jobs)


def measure(variant: str, n: int) -> dict[str, Any]:
    import dagster  # noqa: F401 - imports are not part of the measurement

    import integration_orchestrator.connectors
    import integration_orchestrator.factory.build
    import integration_orchestrator.mapping
    import integration_orchestrator.schedules.build
    import integration_orchestrator.transforms  # noqa: F401

    snapshot = snapshot_of(n) if variant in ("factory", "component") else None
    state = _state_file(snapshot) if variant == "component" else None
    base = _rss_mb()
    started = time.perf_counter()
    builders = {"hand": build_hand, "hand_shared": build_hand_shared}
    if variant == "factory":
        defs = build_factory(snapshot)
    elif variant == "component":
        defs = build_component(state)
    else:
        defs = builders[variant](n)
    jobs = _resolve(defs)
    seconds = time.perf_counter() - started
    return {"variant": variant, "n": n, "seconds": seconds, "peak_mb": _rss_mb() - base, "jobs": jobs}


def _run_child(variant: str, n: int) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", variant, str(n)], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,1000,3000")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (variants interleaved)")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    print(f"{'integrations':>12} {'hand s':>8} {'shared s':>9} {'factory s':>10} {'component s':>12} {'f/hand':>7}"
          f" {'f/shared':>9} {'c/f':>6} {'hand MB':>8} {'shared MB':>10} {'factory MB':>11} {'factory s/1k':>12}")
    variants = ("hand", "hand_shared", "factory", "component")
    for n in (int(s) for s in args.sizes.split(",")):
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for _ in range(args.repeat):  # interleaved, so load changes on a shared machine hit all of them
            for variant in runs:
                runs[variant].append(_run_child(variant, n))
        hand, shared, factory, component = (min(runs[v], key=lambda r: r["seconds"]) for v in variants)
        assert factory["jobs"] == hand["jobs"] == shared["jobs"] == component["jobs"], (factory, hand, shared)
        print(f"{n:>12} {hand['seconds']:>8.2f} {shared['seconds']:>9.2f} {factory['seconds']:>10.2f}"
              f" {component['seconds']:>12.2f} {factory['seconds'] / hand['seconds']:>7.2f}"
              f" {factory['seconds'] / shared['seconds']:>9.2f} {component['seconds'] / factory['seconds']:>6.2f}"
              f" {hand['peak_mb']:>8.0f} {shared['peak_mb']:>10.0f} {factory['peak_mb']:>11.0f}"
              f" {factory['seconds'] / n * 1000:>12.2f}", flush=True)

if __name__ == "__main__":
    main()
