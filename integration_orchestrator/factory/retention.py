"""Deleting the record batches of finished runs (``integration-orchestrator batches prune``).

A succeeded run's batches are deleted by its sink; a failed run's stay under
``<batch storage>/<run id>/`` so it can be re-executed from the failed step
(ARCHITECTURE.md §10.2). Pruning removes the directories of runs that Dagster reports
finished (or no longer knows) and that have not changed for a while; a run still queued
or in progress is never touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from upath import UPath

from integration_orchestrator.columnar.store import remove_tree
from integration_orchestrator.factory.streaming import BATCH_DIRECTORY

__all__ = ["PruneReport", "default_storage", "prune_batches"]


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # run directories still needed or too recent


def default_storage(instance: dg.DagsterInstance) -> UPath:
    """Where the ops write batches unless a translator's ``batch_storage`` says otherwise."""
    return UPath(Path(instance.storage_directory()) / BATCH_DIRECTORY)


def _modified(path: UPath) -> dt.datetime:
    info = path.fs.info(path.path)
    stamp = info.get("mtime") or info.get("LastModified") or info.get("created")
    if isinstance(stamp, dt.datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(float(stamp or 0), dt.UTC)


def prune_batches(
    instance: dg.DagsterInstance, storage: UPath, older_than: dt.timedelta, *, now: dt.datetime | None = None
) -> PruneReport:
    """Remove the batch directories of finished runs not modified for ``older_than``."""
    report = PruneReport()
    if not storage.exists():
        return report
    cutoff = (now or dt.datetime.now(dt.UTC)) - older_than
    for directory in sorted(storage.iterdir(), key=lambda p: p.name):
        run = instance.get_run_by_id(directory.name)
        if (run is not None and not run.is_finished) or _modified(directory) > cutoff:
            report.kept.append(directory.name)
            continue
        remove_tree(directory)
        report.removed.append(directory.name)
    return report
