"""Generated cron parity cases and Dagster as the oracle (for test_schedule_times).

``random_cases(n, seed)`` draws (expression, timezone, instant) triples covering every
syntax feature (lists, ranges, wrap-around ranges, steps, names, 0/7 Sunday, aliases, L,
the day-of-month OR day-of-week rule, the leap day) and instants on and around the DST
transitions of America/New_York, Europe/Berlin and Australia/Lord_Howe (30-minute shift),
plus UTC and zones without DST. ``dagster_next`` is the tick Dagster's scheduler fires
first strictly after an instant: ``cron_string_iterator`` yields ticks >= its start.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from zoneinfo import ZoneInfo

from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string

__all__ = [
    "DST_ZONES",
    "OTHER_ZONES",
    "Case",
    "dagster_next",
    "dagster_ticks",
    "random_cases",
    "transitions",
]

DST_ZONES = ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe")
OTHER_ZONES = ("UTC", "Asia/Kolkata", "Asia/Tokyo")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_ALIASES = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@midnight", "@DAILY")

Case = tuple[str, str, dt.datetime]


@functools.cache
def transitions(tz: str, years: tuple[int, ...] = (2024, 2025, 2026)) -> tuple[dt.datetime, ...]:
    """The UTC instants (to the half hour) at which ``tz`` changes its offset."""
    zone = ZoneInfo(tz)
    found = []
    for year in years:
        t = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
        previous = t.astimezone(zone).utcoffset()
        while t.year == year:
            t += dt.timedelta(minutes=30)
            offset = t.astimezone(zone).utcoffset()
            if offset != previous:
                found.append(t)
            previous = offset
    return tuple(found)


def dagster_ticks(expression: str, tz: str, after: dt.datetime, n: int) -> list[dt.datetime]:
    """The first ``n`` ticks of one Dagster iterator strictly after ``after`` (UTC)."""
    ticks: list[dt.datetime] = []
    for tick in cron_string_iterator(after.timestamp(), expression, tz):
        if tick.timestamp() > after.timestamp():
            ticks.append(tick.astimezone(dt.UTC))
            if len(ticks) == n:
                break
    return ticks


def dagster_next(expression: str, tz: str, after: dt.datetime) -> dt.datetime:
    """The tick Dagster's scheduler fires first strictly after ``after`` (UTC)."""
    return dagster_ticks(expression, tz, after, 1)[0]


def _value(r: random.Random, lo: int, hi: int, names: tuple[str, ...] | None, dst_hours: bool) -> str:
    if dst_hours and r.random() < 0.5:
        return str(r.choice((1, 2, 3)))
    value = r.randint(lo, hi)
    if names and r.random() < 0.3:
        index = value - 1 if names is _MONTHS else value
        if index < len(names):
            name = names[index]
            return name.upper() if r.random() < 0.5 else name
    return str(value)


def _field(r: random.Random, lo: int, hi: int, names: tuple[str, ...] | None = None, dst_hours: bool = False) -> str:
    k = r.random()
    if k < 0.25:
        return "*"
    if k < 0.5:
        return _value(r, lo, hi, names, dst_hours)
    if k < 0.62:
        return ",".join(sorted({_value(r, lo, hi, names, dst_hours) for _ in range(r.randint(2, 4))}))
    a, b = sorted((r.randint(lo, hi), r.randint(lo, hi)))
    if k < 0.74:
        return f"{b}-{a}" if r.random() < 0.15 else f"{a}-{b}"  # sometimes wrap-around
    if k < 0.84:
        return f"*/{r.randint(1, max(2, (hi - lo) // 2 + 1))}"
    if k < 0.92:
        return f"{a}-{b}/{r.randint(1, 5)}"
    return f"{r.randint(lo, hi)}/{r.randint(1, 10)}"


def _expression(r: random.Random) -> str:
    k = r.random()
    minute, hour = r.randint(0, 59), r.choice((r.randint(0, 23), 1, 2, 3))
    if k < 0.05:
        return r.choice(_ALIASES)
    if k < 0.12:
        return r.choice(("0 0 * * *", "0 * * * *"))
    if k < 0.27:
        return f"{minute} {hour} * * *"
    if k < 0.35:
        return f"{minute} {hour} * * {r.choice((str(r.randint(0, 7)), r.choice(_DAYS).upper()))}"
    if k < 0.42:
        return f"{minute} {hour} {r.randint(1, 31)} * *"
    if k < 0.48:
        return f"{minute} {hour} * * {_field(r, 0, 6, _DAYS)}"
    if k < 0.55:
        return f"{_field(r, 0, 59)} * * * *"
    if k < 0.57:
        return f"{minute} {hour} 29 2 *"
    if k < 0.59:  # L: the last day of the month
        return f"{_field(r, 0, 59)} {hour} {r.choice(('L', 'l', '1,L', '15-L'))} {_field(r, 1, 12, _MONTHS)} *"
    if k < 0.62:
        return f"{_field(r, 0, 59)} {_field(r, 0, 23, dst_hours=True)} {_field(r, 1, 31)} {_field(r, 1, 12, _MONTHS)} *"
    return " ".join((
        _field(r, 0, 59),
        _field(r, 0, 23, dst_hours=True),
        _field(r, 1, 31),
        _field(r, 1, 12, _MONTHS),
        _field(r, 0, 7, _DAYS),
    ))


def _instant(r: random.Random, tz: str) -> dt.datetime:
    if tz in DST_ZONES and r.random() < 0.7:
        base = r.choice(transitions(tz))
        return base + dt.timedelta(minutes=r.randint(-3 * 1440, 3 * 1440), seconds=r.choice((0, 0, 0, 30, 59)))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return start + dt.timedelta(minutes=r.randint(0, 3 * 365 * 1440), seconds=r.choice((0, 0, 17)))


def random_cases(n: int, seed: int) -> list[tuple[str, str, dt.datetime, dt.datetime]]:
    """``n`` seeded (expression, timezone, after, Dagster's next tick) cases.

    Expressions Dagster rejects, or for which its iterator fails (no tick for 50 years,
    e.g. "0 0 30,31 2 *"), are skipped; 15% of the instants are exactly a tick.
    """
    r = random.Random(seed)
    zones = DST_ZONES + DST_ZONES + OTHER_ZONES
    cases: list[tuple[str, str, dt.datetime, dt.datetime]] = []
    while len(cases) < n:
        expression = _expression(r)
        if not is_valid_cron_string(expression):
            continue
        tz = r.choice(zones)
        after = _instant(r, tz)
        try:
            if r.random() < 0.15:
                after = dagster_next(expression, tz, after - dt.timedelta(days=2))
            cases.append((expression, tz, after, dagster_next(expression, tz, after)))
        except Exception:  # noqa: BLE001, S112 - Dagster's own iterator gives up on this expression: not a parity case
            continue
    return cases
