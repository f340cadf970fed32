"""Schedule and sensor evaluation at scale: 10,000 schedules, 10,000 pending events.

    .venv/bin/python benchmarks/schedules_bench.py [--database-url URL] [--schedules N] [--events N]

Creates a scratch database on the server of ``--database-url`` (default: the platform
database's server, embedded when nothing is set), fills it, and measures in one run:

* build: ``build_schedule_definitions`` over N rows (code-location load);
* schedule tick: one due tick of each schedule (concurrency check against a Dagster
  instance on dagster-postgres, as deployed, last recorded tick, write-back row insert,
  run request with tags), against a baseline of plain ``ScheduleDefinition`` ticks
  returning a RunRequest with no DB work;
* event sensor: N pending events spread over event_based schedules, every sensor
  evaluated until all are consumed, against a baseline plain sensor returning the same
  number of RunRequests without the database.

Prints per-tick / per-event times and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from integration_orchestrator.db import connect, resolve_database_url, upgrade
from integration_orchestrator.db.urls import with_database
from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.schedules.build import build_schedule_definitions

CONFIGS = 100
TICK = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _setup(admin_url: str, schedules: int, events: int, event_schedules: int) -> tuple[str, str]:
    name = f"io_bench_sched_{uuid.uuid4().hex[:8]}"
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    upgrade(url)
    with connect(url, autocommit=True) as conn:
        org = conn.execute("INSERT INTO organizations (name, slug) VALUES ('Bench', 'bench') RETURNING id").fetchone()[
            "id"
        ]
        conn.execute(
            "INSERT INTO integration_configs (integration_name, integration_type, organization_id)"
            " SELECT 'integration ' || g, 'sync', %s FROM generate_series(1, %s) g", (org, CONFIGS))
        configs = [r["id"] for r in conn.execute("SELECT id FROM integration_configs ORDER BY integration_name")]
        timed_rows = schedules - event_schedules
        # a third each: hourly cron in a DST timezone, fixed times, 45-minute interval
        conn.execute(
            """
            INSERT INTO integration_schedules (config_id, organization_id, schedule_name, schedule_type,
                cron_expression, interval_minutes, fixed_times, timezone, last_run_time,
                concurrent_execution_allowed, missed_execution_policy)
            SELECT c.ids[1 + g %% %(configs)s], %(org)s, 'schedule ' || g,
                   (ARRAY['cron', 'fixed_time', 'interval'])[1 + g %% 3]::schedule_type,
                   CASE WHEN g %% 3 = 0 THEN '0 * * * *' END,
                   CASE WHEN g %% 3 = 2 THEN 45 END,
                   CASE WHEN g %% 3 = 1 THEN ARRAY['12:00'::time, '14:00'::time] END,
                   CASE WHEN g %% 3 = 2 THEN 'UTC' ELSE 'Europe/Berlin' END,
                   CASE WHEN g %% 3 = 2 THEN %(anchor)s::timestamptz END,
                   false, 'run_once'
            FROM generate_series(1, %(n)s) g, (SELECT %(ids)s::uuid[] AS ids) c
            """,
            {"configs": CONFIGS, "org": org, "n": timed_rows, "ids": configs,
             "anchor": TICK - dt.timedelta(minutes=45 * 8)},
        )
        conn.execute(
            "INSERT INTO integration_schedules (config_id, organization_id, schedule_name, schedule_type,"
            " concurrent_execution_allowed)"
            " SELECT c.ids[1 + g %% %(configs)s], %(org)s, 'events ' || g, 'event_based', true"
            " FROM generate_series(1, %(n)s) g, (SELECT %(ids)s::uuid[] AS ids) c",
            {"configs": CONFIGS, "org": org, "n": event_schedules, "ids": configs},
        )
        conn.execute(
            "INSERT INTO integration_events (config_id, organization_id, event_type, payload)"
            " SELECT c.ids[1 + (1 + g %% %(sensors)s) %% %(configs)s], %(org)s, 'order.created',"
            " jsonb_build_object('order', g)"
            " FROM generate_series(1, %(n)s) g, (SELECT %(ids)s::uuid[] AS ids) c",
            {"configs": CONFIGS, "sensors": event_schedules, "org": org, "n": events, "ids": configs},
        )
    return url, name


def _per_call(label: str, calls: list[Callable[[], object]]) -> float:
    samples = []
    started = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    p95 = statistics.quantiles(samples, n=20)[18] if len(samples) >= 20 else max(samples)
    print(f"  {label:<44} {len(calls):>6} calls  {total:8.2f} s  mean {statistics.mean(samples) * 1e3:7.3f} ms"
          f"  p95 {p95 * 1e3:7.3f} ms")
    return statistics.mean(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--event-schedules", type=int, default=CONFIGS)
    args = parser.parse_args()
    admin = with_database(resolve_database_url(args.database_url), "postgres")
    t0 = time.perf_counter()
    url, name = _setup(admin, args.schedules, args.events, args.event_schedules)
    print(f"setup: {args.schedules} schedules ({args.event_schedules} event_based), {args.events} pending events"
          f" in {time.perf_counter() - t0:.1f} s")
    try:
        with connect(url) as conn:
            rows = conn.execute("SELECT * FROM integration_schedules ORDER BY created_at, id").fetchall()
        jobs = {str(r["config_id"]): "job_" + str(r["config_id"]).replace("-", "")[:8] for r in rows}

        t0 = time.perf_counter()
        records = [ScheduleRecord.from_row(r) for r in rows]
        defs = build_schedule_definitions(records, jobs, database_url=url, clock=lambda: TICK + dt.timedelta(seconds=2))
        build_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        for index, record in enumerate(records):
            if record.schedule_type != "event_based":
                dg.ScheduleDefinition(name=f"plain_{index}", cron_schedule="0 * * * *", job_name="job",
                                      execution_timezone=record.timezone)
        plain_seconds = time.perf_counter() - t0
        print(f"build: {len(defs)} definitions from {len(rows)} rows in {build_seconds:.2f} s"
              f" ({build_seconds / len(rows) * 1e3:.3f} ms/row); baseline plain ScheduleDefinition construction"
              f" {plain_seconds:.2f} s; ratio {build_seconds / plain_seconds:.1f}x")

        schedules = [d for d in defs if isinstance(d, dg.ScheduleDefinition)]
        sensors = [d for d in defs if isinstance(d, dg.SensorDefinition) and d.name.endswith("_sensor")]
        storage_db = f"{name}_dagster"
        with connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{storage_db}"')
        storage = {"storage": {"postgres": {"postgres_url": with_database(admin, storage_db)}}}
        with dg.instance_for_test(overrides=storage) as instance:
            context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
            baseline = [
                dg.ScheduleDefinition(name=f"plain_{i}", cron_schedule="0 * * * *", job_name="job",
                                      execution_fn=lambda ctx: dg.RunRequest(run_key="k", tags={"a": "b"}))
                for i in range(len(schedules))
            ]
            print("schedule tick (one due tick per schedule):")
            base = _per_call(
                "baseline: plain ScheduleDefinition", [functools.partial(s.evaluate_tick, context) for s in baseline]
            )
            launched: list[int] = []

            def launch(schedule: dg.ScheduleDefinition) -> None:
                result = schedule.evaluate_tick(context)
                assert result.run_requests is not None
                launched.append(len(result.run_requests))

            ours = _per_call(
                "integration schedule (DB + instance)", [functools.partial(launch, s) for s in schedules]
            )
            print(f"  run requests: {sum(launched)} of {len(schedules)} ticks; ratio to baseline: {ours / base:.1f}x")

            print(f"event sensors ({len(sensors)} sensors, {args.events} events):")
            per_sensor = max(1, args.events // max(1, len(sensors)))
            plain = [
                dg.SensorDefinition(
                    name=f"plain_s{i}",
                    job_name="job",
                    evaluation_fn=lambda ctx: [dg.RunRequest(run_key=str(k)) for k in range(per_sensor)],
                )
                for i in range(len(sensors))
            ]
            sensor_context = dg.build_sensor_context(instance=instance)
            base_s = _per_call(
                "baseline: plain sensor, same run requests",
                [functools.partial(s.evaluate_tick, sensor_context) for s in plain],
            )
            requested: list[int] = []
            cursors: dict[str, str | None] = {}

            def evaluate(sensor: dg.SensorDefinition) -> None:
                result = sensor.evaluate_tick(
                    dg.build_sensor_context(instance=instance, cursor=cursors.get(sensor.name))
                )
                cursors[sensor.name] = result.cursor
                assert result.run_requests is not None
                requested.append(len(result.run_requests))

            ours_s = _per_call(
                "event sensor (query, mark consumed, cursor)", [functools.partial(evaluate, s) for s in sensors]
            )
            print(f"  run requests: {sum(requested)} for {args.events} events;"
                  f" {ours_s / per_sensor * 1e3:.3f} ms per event; ratio to baseline: {ours_s / base_s:.1f}x")
            _per_call("event sensor, nothing pending (idle tick)", [functools.partial(evaluate, s) for s in sensors])
    finally:
        with connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP DATABASE IF EXISTS "{name}_dagster" WITH (FORCE)')


if __name__ == "__main__":
    main()
