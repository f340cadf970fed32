"""One schedule tick: what to launch, what to skip, and why.

:func:`plan_tick` is pure (times in, decisions out); :func:`evaluate_schedule_tick` is the
Dagster schedule's evaluation function around it: it reads the last recorded tick from
PostgreSQL, asks the Dagster instance whether a run of the integration is in progress,
writes one ``integration_schedule_executions`` row per decision and returns the
``RunRequest``\\ s (or a ``SkipReason``).

Missed ticks (scheduler down, daemon behind) are the due instants before this one and
after both the last tick that was evaluated itself (rows written for missed ticks start
their notes with :data:`MISSED_NOTE`, so re-evaluating a tick finds the same missed
ticks) and the moment the schedule was last started in Dagster (a schedule stopped in
the UI misses nothing). Dagster itself evaluates only the latest tick of a
non-partitioned schedule after downtime, so the policy decides here:

* ``run_all``  — one run per missed tick, each tagged with its own scheduled time; run key
  ``<schedule id>:<tick>`` (Dagster de-duplicates a re-evaluated tick, and the recorded
  rows stop a later tick from requesting them again);
* ``run_once`` — the missed ticks are recorded ``skipped`` ("covered by the run at T") and
  one run is launched for the current tick;
* ``skip``     — the missed ticks are recorded ``skipped``; the current tick too when it is
  itself late (evaluated more than :data:`LATE_AFTER` after its time).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorStatus, InstigatorType
from dagster._core.storage.dagster_run import RunsFilter

from integration_orchestrator.model.schedule import ScheduleRecord
from integration_orchestrator.model.tags import TAG_CONFIG_ID
from integration_orchestrator.schedules.cron import (
    Trigger,
    due_times_between,
    fire_times,
    is_due,
    previous_tick,
)
from integration_orchestrator.schedules.runs import (
    run_key_for,
    run_tags_for,
    window_tags,
)
from integration_orchestrator.schedules.writeback import (
    cached_connection,
    last_recorded_tick,
    record_tick,
    tick_transaction,
)

__all__ = [
    "ACTIVE_RUNS_TTL",
    "ACTIVE_STATUSES",
    "LATE_AFTER",
    "MAX_CATCHUP",
    "MISSED_NOTE",
    "Clock",
    "TickDecision",
    "active_run",
    "evaluate_schedule_tick",
    "plan_tick",
    "schedule_started_at",
]

Clock = Callable[[], dt.datetime]

#: a tick evaluated later than this after its time counts as missed (``skip`` policy)
LATE_AFTER = dt.timedelta(minutes=5)
#: notes of rows written for missed ticks start with this (and only theirs)
MISSED_NOTE = "missed"
#: at most this many missed ticks are looked at (the latest ones)
MAX_CATCHUP = 100


@dataclass(frozen=True)
class TickDecision:
    """Launch a run for ``scheduled_time``, or record it skipped with ``notes``."""

    scheduled_time: dt.datetime
    launch: bool
    notes: str | None = None

    @property
    def status(self) -> str:
        return "scheduled" if self.launch else "skipped"


def _iso(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).isoformat()


def plan_tick(
    record: ScheduleRecord,
    trigger: Trigger,
    scheduled_time: dt.datetime,
    *,
    now: dt.datetime,
    last_recorded: dt.datetime | None,
    active_run: tuple[str, str] | None = None,
) -> list[TickDecision]:
    """Decisions for the tick at ``scheduled_time`` (empty when it is not a due tick).

    ``active_run`` is (run id, status) of a queued/starting/running run of the same
    integration, which skips every launch when concurrent execution is not allowed.
    """
    if not is_due(record, trigger, scheduled_time):
        return []
    missed = (
        due_times_between(record, last_recorded, scheduled_time, limit=MAX_CATCHUP, trigger=trigger)
        if last_recorded is not None
        else []
    )
    following = next(fire_times(record, scheduled_time, trigger), None)
    superseded = following is not None and following <= now
    late = now - scheduled_time > LATE_AFTER
    policy = record.missed_execution_policy
    current = _iso(scheduled_time)
    decisions: list[TickDecision] = []
    if policy == "run_all":
        decisions += [TickDecision(t, True, f"missed tick, run late at {_iso(now)} (run_all)") for t in missed]
        decisions.append(TickDecision(scheduled_time, True, "late tick (run_all)" if late else None))
    elif policy == "run_once":
        decisions += [TickDecision(t, False, f"missed; covered by the run at {current} (run_once)") for t in missed]
        if superseded:
            decisions.append(TickDecision(scheduled_time, False, "superseded: a later tick runs instead (run_once)"))
        else:
            note = f"catches up {len(missed)} missed tick(s) (run_once)" if missed else None
            decisions.append(TickDecision(scheduled_time, True, note))
    else:
        decisions += [TickDecision(t, False, "missed while the scheduler was down (skip)") for t in missed]
        if late or superseded:
            decisions.append(TickDecision(scheduled_time, False, f"late: evaluated at {_iso(now)} (skip)"))
        else:
            decisions.append(TickDecision(scheduled_time, True))
    if active_run is not None and not record.concurrent_execution_allowed:
        run_id, status = active_run
        reason = f"run {run_id} of this integration is {status.lower()}; concurrent execution is not allowed"
        decisions = [
            TickDecision(
                d.scheduled_time, False, reason if d.scheduled_time == scheduled_time else f"{MISSED_NOTE}; {reason}"
            )
            if d.launch
            else d
            for d in decisions
        ]
    return decisions


#: a run in one of these blocks a tick of a schedule without concurrent execution
ACTIVE_STATUSES = (
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
)
#: how long one snapshot of the instance's in-progress runs answers concurrency checks
ACTIVE_RUNS_TTL = dt.timedelta(seconds=1)
#: the last instance asked (held, so its id cannot be reused), when, and its answer
_active_cache: list[tuple[dg.DagsterInstance, float, dict[str, tuple[str, str]]]] = []
_active_lock = threading.Lock()


def _in_progress_by_config(instance: dg.DagsterInstance) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for run_record in instance.get_run_records(filters=RunsFilter(statuses=list(ACTIVE_STATUSES))):
        run = run_record.dagster_run
        config_id = run.tags.get(TAG_CONFIG_ID)
        if config_id:
            found.setdefault(config_id, (run.run_id, run.status.value))
    return found


def active_run(instance: dg.DagsterInstance, config_id: str) -> tuple[str, str] | None:
    """(run id, status) of a not-started/queued/starting/running/canceling run tagged
    with ``config_id``.

    The daemon evaluates thousands of schedules in one pass, so one query of the
    instance's in-progress runs answers every check for :data:`ACTIVE_RUNS_TTL` (a
    per-schedule tag query costs tens of milliseconds). A run requested in the same
    pass is not seen either way: Dagster creates it after the evaluation.
    """
    now = time.monotonic()
    with _active_lock:
        if (
            not _active_cache
            or _active_cache[0][0] is not instance
            or now - _active_cache[0][1] > ACTIVE_RUNS_TTL.total_seconds()
        ):
            _active_cache[:] = [(instance, now, _in_progress_by_config(instance))]
        answer = _active_cache[0][2]
    return answer.get(config_id)


_started_cache: list[tuple[dg.DagsterInstance, float, dict[str, float]]] = []


def schedule_started_at(instance: dg.DagsterInstance, schedule_name: str) -> dt.datetime | None:
    """When the schedule was last started in Dagster (UI/CLI), if its state is stored.

    Ticks before that are not missed: the schedule was stopped, not the scheduler down.
    One read of all schedule states answers every schedule for :data:`ACTIVE_RUNS_TTL`.
    """
    now = time.monotonic()
    with _active_lock:
        if (
            not _started_cache
            or _started_cache[0][0] is not instance
            or now - _started_cache[0][1] > ACTIVE_RUNS_TTL.total_seconds()
        ):
            starts: dict[str, float] = {}
            for state in instance.all_instigator_state(instigator_type=InstigatorType.SCHEDULE):
                data = state.instigator_data
                stamp = getattr(data, "start_timestamp", None)
                if state.status == InstigatorStatus.RUNNING and stamp:
                    starts[state.name] = max(stamp, starts.get(state.name, 0.0))
            _started_cache[:] = [(instance, now, starts)]
        stamp = _started_cache[0][2].get(schedule_name)
    return None if stamp is None else dt.datetime.fromtimestamp(stamp, dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def evaluate_schedule_tick(
    context: dg.ScheduleEvaluationContext,
    record: ScheduleRecord,
    trigger: Trigger,
    job_name: str,
    *,
    database_url: str | None,
    clock: Clock | None = None,
    schedule_name: str | None = None,
) -> Sequence[dg.RunRequest] | dg.SkipReason:
    """The Dagster evaluation of one tick of ``record`` (see the module docstring)."""
    now = (clock or _now)()
    scheduled_time = context.scheduled_execution_time
    if not is_due(record, trigger, scheduled_time):
        return dg.SkipReason(_not_due_reason(record, trigger, scheduled_time))
    running = None if record.concurrent_execution_allowed else active_run(context.instance, record.config_id)
    with cached_connection(database_url) as conn, tick_transaction(conn, record.organization_id):
        last = last_recorded_tick(conn, record.id, scheduled_time, exclude_notes=MISSED_NOTE)
        if record.last_run_time is not None and record.last_run_time < scheduled_time:
            last = max(last, record.last_run_time) if last else record.last_run_time
        started = schedule_started_at(context.instance, schedule_name) if schedule_name and last else None
        if last is not None and started is not None and last < started < scheduled_time:
            last = started
        decisions = plan_tick(record, trigger, scheduled_time, now=now, last_recorded=last, active_run=running)
        requests: list[dg.RunRequest] = []
        for decision in decisions:
            row_id = record_tick(
                conn, record.organization_id, record.id, decision.scheduled_time, decision.status, decision.notes
            )
            if decision.launch:
                requests.append(
                    dg.RunRequest(
                        run_key=run_key_for(record, decision.scheduled_time),
                        job_name=job_name,
                        tags=run_tags_for(
                            record, decision.scheduled_time, schedule_execution_id=row_id,
                            extra=window_tags(previous_tick(record, trigger, decision.scheduled_time),
                                              decision.scheduled_time),
                        ),
                    )
                )
    if requests:
        return requests
    return dg.SkipReason("; ".join(sorted({d.notes or "skipped" for d in decisions})))


def _not_due_reason(record: ScheduleRecord, trigger: Trigger, instant: dt.datetime) -> str:
    local = instant.astimezone(record.tz).date()
    if record.start_date is not None and local < record.start_date:
        return f"before start_date {record.start_date} ({record.timezone})"
    if record.end_date is not None and local > record.end_date:
        return f"after end_date {record.end_date} ({record.timezone})"
    return f"not an interval tick: runs every {record.interval_minutes} min from {trigger.anchor}"
