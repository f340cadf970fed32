"""A typed, validated ``integration_schedules`` row.

:meth:`ScheduleRecord.from_row` accepts a row as psycopg returns it (UUIDs, ``date``,
``time``, aware ``datetime``) or as it looks after the factory's JSON snapshot round
trip (all of those as strings), and checks everything Dagster will rely on: the IANA
timezone, the cron expression, fixed times on whole minutes, the retry policy. A bad
row raises :class:`RowError` naming the schedule, the field and the problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integration_orchestrator.errors import RowError
from integration_orchestrator.model.enums import MISSED_POLICIES, SCHEDULE_TYPES
from integration_orchestrator.model.retry import RetrySettings, parse_retry

__all__ = [
    "ScheduleRecord",
    "ScheduleRowError",
    "is_valid_cron",
]



class ScheduleRowError(RowError):
    """An ``integration_schedules`` row Dagster cannot honour."""

    def __init__(self, row: Mapping[str, Any], field_name: str | None, reason: str) -> None:
        name = row.get("schedule_name")
        super().__init__(
            "schedule", None if name is None else str(name), reason, row_id=row.get("id"), field=field_name
        )


@dataclass(frozen=True)
class ScheduleRecord:
    """One schedule row with typed columns (timestamps aware, in UTC)."""

    id: str
    config_id: str
    organization_id: str
    schedule_name: str
    schedule_type: str
    timezone: str
    cron_expression: str | None = None
    interval_minutes: int | None = None
    fixed_times: tuple[dt.time, ...] = ()
    is_active: bool = True
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    last_run_time: dt.datetime | None = None
    next_run_time: dt.datetime | None = None
    retry: RetrySettings | None = None
    execution_timeout_seconds: int | None = 300
    concurrent_execution_allowed: bool = False
    missed_execution_policy: str = "run_once"
    notification_on_failure: bool = True
    notification_recipients: tuple[str, ...] = ()
    execution_parameters: Mapping[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    row: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def retry_policy(self) -> dict[str, Any] | None:
        """The validated ``retry_policy`` column as a JSON object (defaults filled in)."""
        return None if self.retry is None else self.retry.as_dict()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScheduleRecord:
        """Validate and type ``row``; :class:`ScheduleRowError` on the first bad column."""
        for required in ("id", "config_id", "organization_id", "schedule_name", "schedule_type"):
            if row.get(required) in (None, ""):
                raise ScheduleRowError(row, required, "is required")
        schedule_type = str(row["schedule_type"])
        if schedule_type not in SCHEDULE_TYPES:
            raise ScheduleRowError(
                row, "schedule_type", f"must be one of {', '.join(SCHEDULE_TYPES)}, not {schedule_type!r}"
            )
        record = cls(
            id=str(row["id"]),
            config_id=str(row["config_id"]),
            organization_id=str(row["organization_id"]),
            schedule_name=str(row["schedule_name"]),
            schedule_type=schedule_type,
            timezone=_timezone(row),
            cron_expression=_cron(row) if schedule_type == "cron" else _opt_str(row.get("cron_expression")),
            interval_minutes=_interval(row, required=schedule_type == "interval"),
            fixed_times=_fixed_times(row, required=schedule_type == "fixed_time"),
            is_active=_bool(row, "is_active", True),
            start_date=_date(row, "start_date"),
            end_date=_date(row, "end_date"),
            last_run_time=_timestamp(row, "last_run_time"),
            next_run_time=_timestamp(row, "next_run_time"),
            retry=_retry(row),
            execution_timeout_seconds=_positive_int(row, "execution_timeout_seconds"),
            concurrent_execution_allowed=_bool(row, "concurrent_execution_allowed", False),
            missed_execution_policy=_missed(row),
            notification_on_failure=_bool(row, "notification_on_failure", True),
            notification_recipients=tuple(str(r) for r in (row.get("notification_recipients") or ())),
            execution_parameters=_object(row, "execution_parameters"),
            created_at=_timestamp(row, "created_at"),
            row=row,
        )
        if record.start_date and record.end_date and record.end_date < record.start_date:
            raise ScheduleRowError(row, "end_date", f"{record.end_date} is before start_date {record.start_date}")
        return record


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _timezone(row: Mapping[str, Any]) -> str:
    name = row.get("timezone") or "UTC"
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleRowError(row, "timezone", f"{name!r} is not an IANA time zone name") from None
    return str(name)


def _cron(row: Mapping[str, Any]) -> str:
    expr = row.get("cron_expression")
    if not isinstance(expr, str) or not expr.strip():
        raise ScheduleRowError(row, "cron_expression", "is required for a cron schedule")
    expr = " ".join(expr.split())
    if not is_valid_cron(expr):
        raise ScheduleRowError(
            row, "cron_expression", f"{expr!r} is not a valid 5-field cron expression (minute hour day month weekday)"
        )
    return expr


def _interval(row: Mapping[str, Any], *, required: bool) -> int | None:
    value = row.get("interval_minutes")
    if value is None:
        if required:
            raise ScheduleRowError(row, "interval_minutes", "is required for an interval schedule")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ScheduleRowError(row, "interval_minutes", f"must be a positive number of minutes, not {value!r}")
    return value


def _fixed_times(row: Mapping[str, Any], *, required: bool) -> tuple[dt.time, ...]:
    raw = row.get("fixed_times")
    if not raw:
        if required:
            raise ScheduleRowError(row, "fixed_times", "needs at least one time of day for a fixed_time schedule")
        return ()
    times: list[dt.time] = []
    for index, value in enumerate(raw):
        where = f"fixed_times[{index}]"
        try:
            parsed = value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))
        except ValueError:
            raise ScheduleRowError(row, where, f"{value!r} is not a time of day (HH:MM)") from None
        # Dagster fires on whole minutes: seconds are dropped (as sql/0006 schedule_next_run does)
        times.append(parsed.replace(second=0, microsecond=0, tzinfo=None))
    return tuple(sorted(set(times)))


def _bool(row: Mapping[str, Any], name: str, default: bool) -> bool:
    value = row.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ScheduleRowError(row, name, f"must be true or false, not {value!r}")
    return value


def _date(row: Mapping[str, Any], name: str) -> dt.date | None:
    value = row.get(name)
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ScheduleRowError(row, name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _timestamp(row: Mapping[str, Any], name: str) -> dt.datetime | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ScheduleRowError(row, name, f"{value!r} is not a timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def _positive_int(row: Mapping[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ScheduleRowError(row, name, f"must be a positive integer, not {value!r}")
    return value


def _missed(row: Mapping[str, Any]) -> str:
    value = row.get("missed_execution_policy") or "run_once"
    if value not in MISSED_POLICIES:
        raise ScheduleRowError(
            row, "missed_execution_policy", f"must be one of {', '.join(MISSED_POLICIES)}, not {value!r}"
        )
    return str(value)


def _object(row: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = row.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ScheduleRowError(row, name, f"must be a JSON object, not {type(value).__name__}")
    return dict(value)


def _retry(row: Mapping[str, Any]) -> RetrySettings | None:
    value = row.get("retry_policy")
    if value is None:
        return None
    try:
        return parse_retry(value, kind="schedule", name=None, row_id=None, field="retry_policy")
    except RowError as error:
        raise ScheduleRowError(row, error.field, error.reason) from None


def is_valid_cron(expr: str) -> bool:
    """Whether Dagster accepts ``expr`` (its own rule: the ticks it will make)."""
    from dagster._utils.schedules import is_valid_cron_string

    return bool(is_valid_cron_string(" ".join(expr.split())))
