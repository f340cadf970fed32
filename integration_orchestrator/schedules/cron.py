"""When a schedule row fires: its Dagster cron, and the instants it runs at.

* ``cron`` → the row's expression in the row's timezone (Dagster handles DST: a
  nonexistent wall time fires at the first instant after the gap, an ambiguous one
  fires once, at its second occurrence).
* ``fixed_time`` → one cron string per group of times sharing their minutes, in the
  row's timezone (Dagster takes a list of cron strings and fires at each).
* ``interval`` → every ``interval_minutes`` of elapsed time from the anchor
  (``last_run_time``, else midnight of ``start_date`` in the row's timezone, else
  ``created_at``, truncated to the minute). Elapsed time is not wall time, so the cron is
  in UTC: the coarsest daily lattice that contains every due instant, i.e. every
  ``g = gcd(interval, 1440)`` minutes from the anchor's offset. When the interval divides
  a day (15, 45, 90, 480 ...) every lattice tick is due and the cron is exact; otherwise
  (e.g. 1500 = 25 h → hourly lattice) the schedule's evaluation skips the ticks that are
  not ``anchor + k * interval``.

``start_date``/``end_date`` bound the ticks by their local date in the row's timezone.
:func:`fire_times` yields exactly the instants at which the Dagster schedule launches
runs; the CLI preview and the missed-tick computation use it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from dagster._utils.schedules import schedule_execution_time_iterator

from integration_orchestrator.model.enums import TRIGGER_TYPES
from integration_orchestrator.model.schedule import ScheduleRecord

__all__ = [
    "Trigger",
    "due_times_between",
    "fire_times",
    "in_bounds",
    "interval_anchor",
    "is_due",
    "previous_tick",
    "trigger_for",
]

_DAY = 1440
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Trigger:
    """What Dagster is given: cron string(s) in a timezone; ``interval`` filters ticks."""

    cron_schedule: str | tuple[str, ...]
    execution_timezone: str
    interval: dt.timedelta | None = None
    anchor: dt.datetime | None = None

    @property
    def dagster_cron(self) -> str | list[str]:
        return self.cron_schedule if isinstance(self.cron_schedule, str) else list(self.cron_schedule)


def trigger_for(record: ScheduleRecord) -> Trigger | None:
    """The Dagster trigger of ``record``; None for event_based and manual rows."""
    if record.schedule_type not in TRIGGER_TYPES:
        return None
    if record.schedule_type == "cron":
        assert record.cron_expression is not None
        return Trigger(record.cron_expression, record.timezone)
    if record.schedule_type == "fixed_time":
        minutes = [t.hour * 60 + t.minute for t in record.fixed_times]
        return Trigger(_daily_crons(minutes), record.timezone)
    assert record.interval_minutes is not None
    anchor = interval_anchor(record)
    step = math.gcd(record.interval_minutes, _DAY)
    offset = int((anchor - _EPOCH).total_seconds() // 60) % step
    lattice = [offset + j * step for j in range(_DAY // step)]
    return Trigger(_daily_crons(lattice), "UTC", dt.timedelta(minutes=record.interval_minutes), anchor)


def interval_anchor(record: ScheduleRecord) -> dt.datetime:
    """The instant interval ticks are counted from, truncated to the minute (UTC)."""
    if record.last_run_time is not None:
        anchor = record.last_run_time
    elif record.start_date is not None:
        anchor = dt.datetime.combine(record.start_date, dt.time(), record.tz)
    elif record.created_at is not None:
        anchor = record.created_at
    else:
        anchor = _EPOCH
    return anchor.astimezone(dt.UTC).replace(second=0, microsecond=0)


def _daily_crons(minutes_of_day: list[int]) -> str | tuple[str, ...]:
    """Cron strings firing at each minute of the day in ``minutes_of_day``."""
    hours_by_minute: dict[int, set[int]] = defaultdict(set)
    for value in minutes_of_day:
        hours_by_minute[value % 60].add(value // 60)
    minutes_by_hours: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for minute, hour_set in hours_by_minute.items():
        minutes_by_hours[tuple(sorted(hour_set))].append(minute)
    crons = []
    for hours, minutes in sorted(minutes_by_hours.items()):
        hour_field = "*" if len(hours) == 24 else ",".join(map(str, hours))
        crons.append(f"{','.join(map(str, sorted(minutes)))} {hour_field} * * *")
    return crons[0] if len(crons) == 1 else tuple(crons)


def in_bounds(record: ScheduleRecord, instant: dt.datetime) -> bool:
    """True when ``instant``'s date in the row's timezone is within start_date..end_date."""
    local = instant.astimezone(record.tz).date()
    if record.start_date is not None and local < record.start_date:
        return False
    return record.end_date is None or local <= record.end_date


def is_due(record: ScheduleRecord, trigger: Trigger, instant: dt.datetime) -> bool:
    """Whether a Dagster tick at ``instant`` should launch (bounds, interval lattice)."""
    if not in_bounds(record, instant):
        return False
    if trigger.interval is None:
        return True
    assert trigger.anchor is not None
    elapsed = instant.astimezone(dt.UTC).replace(microsecond=0) - trigger.anchor
    return elapsed >= dt.timedelta(0) and elapsed % trigger.interval == dt.timedelta(0)


def _after_end(record: ScheduleRecord, instant: dt.datetime) -> bool:
    return record.end_date is not None and instant.astimezone(record.tz).date() > record.end_date


def _start_instant(record: ScheduleRecord, after: dt.datetime) -> dt.datetime:
    if record.start_date is None:
        return after
    start = dt.datetime.combine(record.start_date, dt.time(), record.tz)
    return max(after, start - dt.timedelta(seconds=1))


def fire_times(record: ScheduleRecord, after: dt.datetime, trigger: Trigger | None = None) -> Iterator[dt.datetime]:
    """Every instant strictly after ``after`` at which the schedule launches, in order.

    Times are aware, in the row's timezone for cron/fixed_time (as Dagster gives them) and
    UTC for interval. Ends at ``end_date``; yields nothing for event_based/manual rows.
    """
    trigger = trigger or trigger_for(record)
    if trigger is None:
        return
    begin = _start_instant(record, after)
    if trigger.interval is not None:
        yield from _interval_times(record, trigger, begin)
        return
    first = math.floor(begin.timestamp()) + 1
    for instant in schedule_execution_time_iterator(first, trigger.dagster_cron, trigger.execution_timezone):
        if _after_end(record, instant):
            return
        if in_bounds(record, instant):
            yield instant


def _interval_times(record: ScheduleRecord, trigger: Trigger, after: dt.datetime) -> Iterator[dt.datetime]:
    assert trigger.interval is not None and trigger.anchor is not None
    elapsed = after.astimezone(dt.UTC) - trigger.anchor
    count = max(0, math.floor(elapsed / trigger.interval) + 1)
    while True:
        instant = trigger.anchor + count * trigger.interval
        if _after_end(record, instant):
            return
        if instant > after and in_bounds(record, instant):
            yield instant
        count += 1


def due_times_between(
    record: ScheduleRecord,
    start: dt.datetime,
    end: dt.datetime,
    *,
    limit: int,
    trigger: Trigger | None = None,
) -> list[dt.datetime]:
    """Fire times strictly between ``start`` and ``end``: the latest ``limit``, oldest first.

    Walks backwards from ``end``, so a long gap (a year of downtime under a minutely cron)
    costs ``limit`` steps, not one per missed tick.
    """
    trigger = trigger or trigger_for(record)
    if trigger is None or limit <= 0:
        return []
    found: list[dt.datetime] = []
    for instant in _backwards(record, trigger, end):
        if instant <= start or (
            record.start_date is not None and instant.astimezone(record.tz).date() < record.start_date
        ):
            break
        if instant < end and in_bounds(record, instant):
            found.append(instant)
            if len(found) == limit:
                break
    return found[::-1]


def _backwards(record: ScheduleRecord, trigger: Trigger, end: dt.datetime) -> Iterator[dt.datetime]:
    if trigger.interval is not None:
        assert trigger.anchor is not None
        count = math.ceil((end.astimezone(dt.UTC) - trigger.anchor) / trigger.interval) - 1
        while count >= 0:
            yield trigger.anchor + count * trigger.interval
            count -= 1
        return
    last = math.ceil(end.timestamp()) - 1
    yield from schedule_execution_time_iterator(last, trigger.dagster_cron, trigger.execution_timezone, ascending=False)


def previous_tick(record: ScheduleRecord, trigger: Trigger, tick: dt.datetime) -> dt.datetime:
    """The trigger's fire time before ``tick`` (its own cron and timezone, DST-correct;
    ``start_date``/``end_date`` ignored): where the tick's window starts."""
    for instant in _backwards(record, trigger, tick):
        if instant < tick:
            return instant
    assert trigger.interval is not None  # a cron always has an earlier fire time
    return tick - trigger.interval
