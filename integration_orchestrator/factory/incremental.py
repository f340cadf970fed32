"""A run's incremental state: read from the target's ledger, the window of the run, the partitions.

The source op calls :func:`run_incremental` before it opens the source: the state comes
from the target's load ledger (``Engines.latest_state``), and for a ``window`` source the
run's window comes from, in order, its partition (a backfill from the UI), its schedule
tick's tags (``integration/window_start`` / ``integration/window_end``), or the end of the
last committed window (else ``window.start``) up to now. The sink commits the new state
with the rows (ARCHITECTURE.md §10.9). :func:`window_partitions` is the job's
time-window partitions definition, one partition per window, when ``window.start`` is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg

from integration_orchestrator.connectors.base import accepts
from integration_orchestrator.connectors.incremental import Incremental, Window, parse_instant
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.failures import IntegrationRunFailure
from integration_orchestrator.model import Integration
from integration_orchestrator.model.tags import TAG_WINDOW_END, TAG_WINDOW_START

__all__ = ["PARTITION_FORMAT", "declared_incremental", "run_incremental", "window_partitions"]

#: partition keys of window jobs: the window's start in the window's timezone, to the minute
PARTITION_FORMAT = "%Y-%m-%dT%H:%M"
_DEFAULT_CRON = "0 0 * * *"


def declared_incremental(record: Integration) -> Mapping[str, Any] | None:
    """``connection_config.source.incremental`` of ``record``, if declared."""
    source = record.config.connection_config.get("source")
    declared = source.get("incremental") if isinstance(source, Mapping) else None
    return declared if isinstance(declared, Mapping) else None


def window_partitions(record: Integration) -> dg.TimeWindowPartitionsDefinition | None:
    """One partition per window (``window.cron`` in ``window.timezone``, else daily at midnight
    in the config's timezone) from ``window.start``; None without a window or a start."""
    declared = declared_incremental(record)
    window = declared.get("window") if declared else None
    if not isinstance(window, Mapping) or not window.get("start"):
        return None
    timezone = _timezone(record, window)
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule=" ".join(str(window.get("cron") or _DEFAULT_CRON).split()), timezone=timezone,
        start=_start(record, window).astimezone(ZoneInfo(timezone)),
        fmt=PARTITION_FORMAT,
    )


def _timezone(record: Integration, window: Mapping[str, Any]) -> str:
    return str(window.get("timezone") or record.config.timezone or "UTC")


def _start(record: Integration, window: Mapping[str, Any]) -> dt.datetime:
    """``window.start``; without an offset it is a wall time in the window's timezone."""
    parsed = dt.datetime.fromisoformat(str(window["start"]).strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(_timezone(record, window)))


def run_incremental(context: Any, record: Integration, engines: Engines, database_url: str) -> Incremental | None:
    """The run's :class:`Incremental` (None when the source is not incremental). Engines that
    cannot read the state or hand it to the source fail the run before anything is read."""
    declared = declared_incremental(record)
    if declared is None:
        return None
    reader = engines.read_batches
    if engines.latest_state is None or reader is None or not accepts(reader, "incremental"):
        raise IntegrationRunFailure(
            f"Integration '{record.config.integration_name}' declares `source.incremental`, but its engines "
            "cannot keep the state (`latest_state`, and `read_batches` taking `incremental`)"
        )
    run = Incremental(state=engines.latest_state(record, database_url))
    window = declared.get("window")
    if isinstance(window, Mapping):
        run.window = _window(context, record, window, run.state)
        last = run.state.get("window_end") if isinstance(run.state, Mapping) else None
        end = run.window.end if last is None else max(run.window.end, parse_instant(str(last)))
        run.new_state = {"window_end": end.astimezone(dt.UTC).isoformat()}
    return run


def _window(context: Any, record: Integration, window: Mapping[str, Any], state: Any) -> Window:
    if getattr(context, "has_partition_key", False):
        span = context.partition_time_window
        return Window(span.start, span.end)
    tags = context.run.tags
    if tags.get(TAG_WINDOW_START) and tags.get(TAG_WINDOW_END):
        try:
            bounds = parse_instant(tags[TAG_WINDOW_START]), parse_instant(tags[TAG_WINDOW_END])
        except ValueError:
            raise IntegrationRunFailure(f"Run tags `{TAG_WINDOW_START}`/`{TAG_WINDOW_END}` must be ISO-8601 "
                                        "instants") from None
        return _checked(Window(*bounds))
    last = state.get("window_end") if isinstance(state, Mapping) else None
    if not last and not window.get("start"):
        raise IntegrationRunFailure(
            f"Integration '{record.config.integration_name}' reads by window but this run has none: launch it from "
            f"its schedule, pick a partition, set the tags `{TAG_WINDOW_START}`/`{TAG_WINDOW_END}`, or set "
            "`source.incremental.window.start`"
        )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return _checked(Window(parse_instant(str(last)) if last else _start(record, window), now))


def _checked(window: Window) -> Window:
    if window.start >= window.end:
        raise IntegrationRunFailure(f"The run's window {window.start.isoformat()} → {window.end.isoformat()} is "
                                    "empty: nothing to fetch yet")
    return window
