"""``demo``: the main job, end to end, on the embedded default database."""

from __future__ import annotations

import argparse
import os

from integration_orchestrator.cli import EXIT_FAILED, EXIT_OK
from integration_orchestrator.dagster_home import prepare_dagster_home
from integration_orchestrator.db import (
    dagster_storage_url,
    resolve_database_url,
    upgrade,
)
from integration_orchestrator.db.embedded import default_home
from integration_orchestrator.db.urls import mask_url
from integration_orchestrator.demo import (
    DEMO_JOB,
    DEMO_TABLE,
    DemoSummary,
    read_summary,
    run_demo_job,
    seed_demo,
)

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("demo", help="run the sample integration end to end")
    parser.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    url = resolve_database_url(args.database_url)
    applied = upgrade(url)
    print(f"database      {mask_url(url)} ({len(applied)} migration(s) applied)")
    ids = seed_demo(url)
    print(f"seeded        organization {ids.organization_id}: 1 integration, 6 mappings with tests, "
          "a 3-step pipeline, a nightly schedule")
    os.environ["INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL"] = dagster_storage_url(url)
    home = default_home() / "dagster_home"
    prepare_dagster_home(home)
    result = run_demo_job(url, home)
    summary = read_summary(url, ids, result.run_id)
    _print(summary, result.run_id, result.success)
    return EXIT_OK if result.success and summary.execution.get("status") == "succeeded" else EXIT_FAILED


def _print(summary: DemoSummary, run_id: str, success: bool) -> None:
    e = summary.execution
    print(f"dagster run   {run_id} ({'SUCCESS' if success else 'FAILURE'}) of job `{DEMO_JOB}`")
    print(f"execution     status={e.get('status')} records in={e.get('records_in')} "
          f"out={e.get('records_out')} failed={e.get('records_failed')}")
    print(f"\n{DEMO_TABLE} ({len(summary.rows)} rows):")
    columns = ["employee_id", "full_name", "department", "hired_on", "risk_tier", "review_label"]
    widths = [max(len(c), *(len(str(r.get(c))) for r in summary.rows)) for c in columns] if summary.rows else []
    if summary.rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
        for row in summary.rows:
            print("  " + "  ".join(str(row.get(c)).ljust(w) for c, w in zip(columns, widths, strict=True)))
    passed = sum(1 for c in summary.checks if c["status"] == "passed")
    print(f"\nmapping tests (asset checks): {passed}/{len(summary.checks)} passed")
    for check in summary.checks:
        print(f"  {check['status']:<7} {check['mapping_name']}: {check['test_name']}")
    print(f"dead letters: {len(summary.dead_letters)}")
    for letter in summary.dead_letters:
        print(f"  step `{letter['step_name']}`: {letter['error_message']}")
    print("next runs of `HR access review nightly` (Europe/Berlin): "
          + ", ".join(t.isoformat() for t in summary.next_runs))
    print("\nOpen the Dagster UI on these rows:  .venv/bin/integration-orchestrator dev   (http://127.0.0.1:3000)")
