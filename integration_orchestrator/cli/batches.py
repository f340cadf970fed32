"""``batches prune``: delete the record batches failed runs keep for re-execution."""

from __future__ import annotations

import argparse
import datetime as dt

from integration_orchestrator.cli import EXIT_OK

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("batches", help="the record batches runs keep between ops")
    commands = parser.add_subparsers(dest="batches_command", required=True)
    prune = commands.add_parser(
        "prune", help="delete the batches of finished runs (failed runs keep theirs for re-execution)"
    )
    prune.add_argument("--older-than-days", type=float, default=7.0,
                       help="only directories unchanged for this many days (default 7)")
    prune.add_argument("--storage", default=None,
                       help="the batch storage (a path or UPath URL); default: the Dagster instance's")
    prune.set_defaults(handler=_prune)


def _prune(args: argparse.Namespace) -> int:
    import dagster as dg
    from upath import UPath

    from integration_orchestrator.factory.retention import default_storage, prune_batches

    with dg.DagsterInstance.get() as instance:
        storage = UPath(args.storage) if args.storage else default_storage(instance)
        report = prune_batches(instance, storage, dt.timedelta(days=args.older_than_days))
    for run_id in report.removed:
        print(f"removed the batches of run {run_id}")
    print(f"{len(report.removed)} run(s) pruned, {len(report.kept)} kept (in progress or recent) under {storage}")
    return EXIT_OK
