"""What a schedule puts on the runs it launches: tags, run key, run config.

* ``integration/config_id``, ``integration/organization_id``, ``integration/schedule_id``
  (ARCHITECTURE.md §5.2), ``integration/schedule_execution_id`` (the write-back row) and
  ``integration/scheduled_time`` (the tick, UTC ISO-8601; differs from Dagster's
  ``dagster/scheduled_execution_time`` for catch-up runs of ``run_all``);
* ``dagster/max_runtime`` = ``execution_timeout_seconds`` (enforced by run monitoring,
  see dagster.yaml);
* ``retry_policy`` → ``dagster/max_retries`` (run retries, enabled in dagster.yaml) with
  ``dagster/retry_on_asset_or_op_failure = false``: op failures are retried by the op retry
  policy the factory builds from the same column (backoff, jitter), the whole run is
  retried only when it failed for another reason (worker crash, timeout). The policy
  itself travels as JSON in ``integration/retry_policy``;
* ``concurrent_execution_allowed = false`` → ``integration/serial`` = the config id, for a
  run-queue limit of one run per value (``tag_concurrency_limits`` in dagster.yaml), so
  the catch-up runs of ``run_all`` queue behind each other instead of overlapping (the
  job's own tags carry it too, for every other launch path: ``factory.translator.serial_value``);
* ``integration/window_start`` / ``integration/window_end``: the tick's window, from the
  previous fire time of the schedule's own trigger to the tick (UTC ISO-8601), which an
  incremental ``window`` source puts in its request parameters (ARCHITECTURE.md §10.9);
* ``execution_parameters`` → JSON in the tag ``integration/execution_parameters``. The
  factory's jobs declare no run config for them (a run config the job does not declare
  would fail Dagster's validation), so tags are the carrier: ops read them with
  :func:`execution_parameters_from_tags` (``context.run.tags``), the factory copies all
  run tags into ``integration_executions.tags``, and a manual launch from the UI/CLI
  can set the same tag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson

from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.model.tags import (
    TAG_CONFIG_ID,
    TAG_EXECUTION_PARAMETERS,
    TAG_MAX_RETRIES,
    TAG_MAX_RUNTIME,
    TAG_ORGANIZATION_ID,
    TAG_RETRY_ON_OP_FAILURE,
    TAG_RETRY_POLICY,
    TAG_SCHEDULE_EXECUTION_ID,
    TAG_SCHEDULE_ID,
    TAG_SCHEDULED_TIME,
    TAG_SERIAL,
    TAG_WINDOW_END,
    TAG_WINDOW_START,
)

__all__ = [
    "execution_parameters_from_tags",
    "run_key_for",
    "run_tags_for",
    "window_tags",
]



def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def run_key_for(record: ScheduleRecord, scheduled_time: dt.datetime) -> str:
    """``<schedule id>:<tick in UTC>``: one run per schedule and tick, ever."""
    return f"{record.id}:{scheduled_time.astimezone(dt.UTC).isoformat()}"


def run_tags_for(
    record: ScheduleRecord,
    scheduled_time: dt.datetime | None = None,
    *,
    schedule_execution_id: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every tag a run launched for ``record`` carries (see the module docstring)."""
    tags = {
        TAG_CONFIG_ID: record.config_id,
        TAG_ORGANIZATION_ID: record.organization_id,
        TAG_SCHEDULE_ID: record.id,
    }
    if scheduled_time is not None:
        tags[TAG_SCHEDULED_TIME] = scheduled_time.astimezone(dt.UTC).isoformat()
    if schedule_execution_id is not None:
        tags[TAG_SCHEDULE_EXECUTION_ID] = schedule_execution_id
    if not record.concurrent_execution_allowed:
        tags[TAG_SERIAL] = record.config_id
    if record.execution_timeout_seconds:
        tags[TAG_MAX_RUNTIME] = str(record.execution_timeout_seconds)
    if record.retry_policy:
        tags[TAG_RETRY_POLICY] = _json(record.retry_policy)
        tags[TAG_MAX_RETRIES] = str(record.retry_policy["max_retries"])
        tags[TAG_RETRY_ON_OP_FAILURE] = "false"
    if record.execution_parameters:
        tags[TAG_EXECUTION_PARAMETERS] = _json(record.execution_parameters)
    tags.update(extra or {})
    return tags


def window_tags(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    """The tick's window (previous tick → this tick), UTC ISO-8601, for incremental window sources."""
    return {TAG_WINDOW_START: start.astimezone(dt.UTC).isoformat(), TAG_WINDOW_END: end.astimezone(dt.UTC).isoformat()}


def execution_parameters_from_tags(tags: Mapping[str, str]) -> dict[str, Any]:
    """The parameters a run was launched with (ops: ``context.run.tags``)."""
    raw = tags.get(TAG_EXECUTION_PARAMETERS)
    return dict(orjson.loads(raw)) if raw else {}
