"""cron_next_run / cron_problem (sql/0006_schedule_times.sql) against Dagster itself.

The oracle is ``dagster._utils.schedules.cron_string_iterator``, started fresh at the
instant asked about, which is what Dagster's scheduler daemon does on every evaluation.
The functions are pure, so the whole module shares one cloned database (``db`` below).
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import psycopg
import pytest
from dagster._utils.schedules import CroniterShim, is_valid_cron_string

from integration_orchestrator_tests.cron_cases import (
    DST_ZONES,
    dagster_next,
    dagster_ticks,
    random_cases,
    transitions,
)

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def db(sdb: Conn) -> Conn:
    """The module's shared database (the functions under test are pure)."""
    return sdb


# Expressions whose DST behaviour differs between Dagster's code paths: hourly (hour `*`)
# vs. the rest, the special-cased hourly/daily/weekly/monthly iterators vs. croniter.
DST_EXPRESSIONS = (
    "0 * * * *", "30 * * * *", "*/15 * * * *", "0,30 * * * *", "* * * * *", "*/20 * * * 0-6",
    "15 * * * 0", "0 0 * * *", "30 2 * * *", "0 2 * * *", "15 1 * * *", "45 1 * * *", "0 3 * * *",
    "30 2 * * 0", "30 1 * * sun", "30 2 1 * *", "*/30 1-3 * * *", "0 2,3 * * *", "15 2 * * 1-5",
    "30 1,2 * * *", "5 1,2 * * *", "@hourly", "10 2 * 3,4,10,11 *", "*/7 2 * * *", "30 2 L * *",
)  # fmt: skip


def _sql_next(db: Conn, cases: list[tuple[str, str, dt.datetime]]) -> list[dt.datetime | None]:
    rows = db.execute(
        "SELECT cron_next_run(e, z, a) AS t"
        "  FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) WITH ORDINALITY u(e, z, a, o) ORDER BY o",
        ([c[0] for c in cases], [c[1] for c in cases], [c[2] for c in cases]),
    ).fetchall()
    return [row["t"] for row in rows]


def _mismatches(cases: list[tuple[str, str, dt.datetime]], expected: list[dt.datetime], got: list[Any]) -> list[str]:
    return [
        f"{expr!r} in {tz} after {after.isoformat()}: dagster {want.isoformat()}, sql {have}"
        for (expr, tz, after), want, have in zip(cases, expected, got, strict=True)
        if want != have
    ]


def test_random_cases_match_dagster(db: Conn) -> None:
    cases = random_cases(1200, seed=20261127)
    got = _sql_next(db, [c[:3] for c in cases])
    assert _mismatches([c[:3] for c in cases], [c[3] for c in cases], got) == []
    # the generator really covers DST days and every zone
    assert {c[1] for c in cases} >= set(DST_ZONES) | {"UTC", "Asia/Kolkata"}


def test_instants_around_every_transition_match_dagster(db: Conn) -> None:
    offsets = (-120, -60, -20, 0, 10, 30, 45, 70, 130)
    cases = [
        (expr, tz, shift + dt.timedelta(minutes=m))
        for tz in DST_ZONES
        for shift in transitions(tz, (2025,))
        for expr in DST_EXPRESSIONS
        for m in offsets
    ]
    assert len(cases) >= 1000
    expected = [dagster_next(*case) for case in cases]
    assert _mismatches(cases, expected, _sql_next(db, cases)) == []


@pytest.mark.parametrize("tz", DST_ZONES)
def test_fifty_consecutive_ticks_across_dst_match_dagster(db: Conn, tz: str) -> None:
    wrong = []
    for shift in transitions(tz, (2025,)):
        for expr in DST_EXPRESSIONS:
            hourly = expr == "@hourly" or expr.split()[1] == "*"
            start = shift - (dt.timedelta(hours=5) if hourly else dt.timedelta(days=3))
            want = dagster_ticks(expr, tz, start, 50)
            if tz == "Australia/Lord_Howe" and expr in ("0 * * * *", "@hourly"):
                # Dagster's hourly iterator counts minutes in UTC for this zone (its offset
                # is a whole hour when the process decides) and, once started, keeps adding
                # one hour; a fresh iterator (what the scheduler daemon starts each cycle)
                # re-aligns after the 30-minute shift. We match the fresh iterator.
                want, t = [], start
                for _ in range(50):
                    t = dagster_next(expr, tz, t)
                    want.append(t)
            got = [r["t"] for r in db.execute("SELECT cron_next_runs(%s, %s, %s, 50) AS t", (expr, tz, start))]
            if got != want:
                wrong.append(f"{expr!r} from {start.isoformat()}: {want} != {got}")
    assert wrong == []


@pytest.mark.parametrize(
    ("expression", "tz", "after", "expected"),
    [
        # spring forward: 02:30 does not exist -> end of the gap (03:00 EDT)
        ("30 2 * * *", "America/New_York", "2025-03-09T05:00Z", "2025-03-09T07:00Z"),
        # fall back: 01:30 happens twice -> only the second (EST)
        ("30 1 * * *", "America/New_York", "2025-11-02T04:00Z", "2025-11-02T06:30Z"),
        # hour `*`: both 01:30s fire, the missing 02:30 is skipped
        ("30 * * * 0", "America/New_York", "2025-11-02T05:00Z", "2025-11-02T05:30Z"),
        ("30 * * * 0", "America/New_York", "2025-11-02T05:30Z", "2025-11-02T06:30Z"),
        ("30 * * * 0", "America/New_York", "2025-03-09T06:30Z", "2025-03-09T07:30Z"),
        # Lord Howe moves its clocks by 30 minutes: 02:15 -> 02:30
        ("15 2 * * *", "Australia/Lord_Howe", "2025-10-04T14:00Z", "2025-10-04T15:30Z"),
        ("0 0 * * *", "Europe/Berlin", "2025-03-30T00:00Z", "2025-03-30T22:00Z"),
        ("0 0 29 2 *", "UTC", "2025-01-01T00:00Z", "2028-02-29T00:00Z"),
        ("0 0 1 * mon", "UTC", "2025-09-01T00:00Z", "2025-09-08T00:00Z"),  # DOM OR DOW
        ("0 0 */2 * mon", "UTC", "2025-09-01T00:00Z", "2025-09-03T00:00Z"),  # '*/2' is restricted
        ("0 0 * * 7", "UTC", "2025-09-01T00:00Z", "2025-09-07T00:00Z"),
    ],
)
def test_documented_dst_and_syntax_examples(db: Conn, expression: str, tz: str, after: str, expected: str) -> None:
    instant = dt.datetime.fromisoformat(after)
    want = dt.datetime.fromisoformat(expected)
    assert dagster_next(expression, tz, instant) == want  # the example is Dagster's behaviour
    row = db.execute("SELECT cron_next_run(%s, %s, %s) AS t", (expression, tz, instant)).fetchone()
    assert row is not None and row["t"] == want


# ---------------------------------------------------------------------------------------
# Validity: exactly Dagster's verdict for the standard syntax
# ---------------------------------------------------------------------------------------

INVALID = [
    ("61 * * * *", "minute 61 out of range 0-59"),
    ("* 24 * * *", "hour 24 out of range 0-23"),
    ("0 0 0 * *", "day-of-month 0 out of range 1-31"),
    ("0 0 32 * *", "day-of-month 32 out of range 1-31"),
    ("0 0 * 13 *", "month 13 out of range 1-12"),
    ("0 0 * 0 *", "month 0 out of range 1-12"),
    ("0 0 * * 8", "day-of-week 8 out of range 0-6"),
    ("0 0 0-5 * *", "day-of-month field \"0-5\": 0 out of range 1-31"),
    ("0 0 * *", "expected 5 fields"),
    ("0 0 * * * *", "expected 5 fields"),
    ("", "expected 5 fields"),
    ("*/0 * * * *", "step 0"),
    ("1-5/x * * * *", "not a number"),
    ("1-2-3 * * * *", "not a number"),
    ("-5 * * * *", "negative"),
    ("0 0 * foo *", "not a number or month name"),
    ("0 0 * * monday", "not a number or day name"),
    ("0 0 * * jan", "not a number or day name"),
    ("0 0 * mon *", "not a number or month name"),
    ("0 0 ? * *", None),
    ("0 ? * * *", "only allowed in day-of-month or day-of-week"),
    ("1,,2 * * * *", "empty list element"),
    ("0 0 31 2 *", "never occurs in February"),
    ("0 0 30 feb *", "never occurs in February"),
    ("@reboot", "expected 5 fields"),
    ("0 0 * * 1#2", "not supported"),
    ("0 0 L * *", None),
    ("*/90 * * * *", None),
    ("5/15 * * * *", None),
    ("50-10 * * * *", None),
    ("0 0 * * fri-mon", None),
    ("0 0 * * 0-7", None),
    ("0 0 * * 7", None),
    ("0 9 * JAN-MAR/2 MON-FRI", None),
    ("@annually", None),
    ("@midnight", None),
    ("@Weekly", None),
    ("0 0 30,31 2 *", None),
]


@pytest.mark.parametrize(("expression", "problem"), INVALID)
def test_validity_table_matches_dagster(db: Conn, expression: str, problem: str | None) -> None:
    row = db.execute("SELECT cron_problem(%s) AS p, cron_is_valid(%s) AS ok", (expression, expression)).fetchone()
    assert row is not None
    if problem is None:
        assert row["p"] is None and row["ok"] is True
        assert is_valid_cron_string(expression)
    else:
        assert problem in row["p"] and row["ok"] is False
        if "not supported" not in problem:  # Dagster accepts the extended syntax we refuse
            assert not (CroniterShim.is_valid(expression) and is_valid_cron_string(expression))


_TOKENS = (
    "*", "?", "0", "1", "2", "5", "7", "12", "13", "23", "24", "28", "29", "30", "31", "32", "59", "60", "61",
    "-1", "*/0", "*/1", "*/5", "*/7", "*/60", "*/90", "5-", "1-2-3", "1-5/2", "5-1", "5-5", "0-7", "7-0", "1-7",
    "jan", "JAN", "dec", "jan-mar", "nov-feb", "mon", "MON", "sun", "sat", "mon-fri", "fri-mon", "sun-sat",
    "monday", "l", "L", "1-l", "1/2/3", "*/*", "", "a-b", "jan/2", "mon-fri/2", "99999999999", "0-59/60",
    "5/15", "10/0", "1,2", "1,,2", "*,5", "01", "007", "1-31", "0-59", "0-23", "1-12", "0-6", "3-1/2", "*-5",
    "mon-7", "2-feb",
)  # fmt: skip


def _expanded(expression: str) -> list[list[int]]:
    """croniter's expansion in the SQL encoding (-1 = '*', 99 = 'L')."""
    fields = CroniterShim.expand(expression)[0]
    return [sorted(-1 if v == "*" else 99 if v == "l" else v for v in f) for f in fields]


def test_generated_expressions_parse_exactly_as_croniter(db: Conn) -> None:
    r = random.Random(7)
    expressions = sorted({
        " ".join(r.choice(_TOKENS) if r.random() < 0.5 else r.choice(("*", "0", "1", "5")) for _ in range(5))
        for _ in range(3000)
    })  # fmt: skip
    rows = db.execute(
        "SELECT e, p.problem, (p.spec).minutes, (p.spec).hours, (p.spec).days, (p.spec).months,"
        "       (p.spec).days_of_week"
        "  FROM unnest(%s::text[]) WITH ORDINALITY u(e, o), _cron_parse(e) p ORDER BY o",
        (expressions,),
    ).fetchall()
    wrong, valid = [], 0
    for row in rows:
        dagster_ok = CroniterShim.is_valid(row["e"]) and is_valid_cron_string(row["e"])
        valid += dagster_ok
        if dagster_ok != (row["problem"] is None):
            wrong.append(f"{row['e']!r}: dagster valid={dagster_ok}, sql problem={row['problem']}")
        elif dagster_ok:
            ours = [row["minutes"], row["hours"], row["days"], row["months"], row["days_of_week"]]
            if ours != _expanded(row["e"]):
                wrong.append(f"{row['e']!r}: croniter {_expanded(row['e'])} != sql {ours}")
    assert wrong == []
    assert valid > 300  # enough valid ones to compare expansions


@pytest.mark.parametrize(
    ("expression", "tz", "message"),
    [
        ("61 * * * *", "UTC", 'invalid cron expression "61 * * * *": minute 61 out of range 0-59'),
        ("0 0 * * *", "Mars/Olympus", 'invalid time zone "Mars/Olympus": unknown time zone'),
        ("0 0 * * *", "EST5EDT,M3.2.0", 'invalid time zone "EST5EDT,M3.2.0": not an IANA time zone name'),
        ("0 0 * * *", None, 'invalid time zone "<NULL>": time zone is missing'),
    ],
)
def test_cron_next_run_rejects_bad_input_naming_the_value(
    db: Conn, expression: str, tz: str | None, message: str
) -> None:
    with pytest.raises(psycopg.errors.InvalidParameterValue) as caught:
        db.execute("SELECT cron_next_run(%s, %s, now())", (expression, tz))
    assert message in str(caught.value)


def test_next_runs_are_strictly_after_and_increasing(db: Conn) -> None:
    after = dt.datetime(2025, 3, 9, 7, 0, tzinfo=dt.UTC)  # exactly a tick of "0 * * * *"
    got = [r["t"] for r in db.execute("SELECT cron_next_runs('0 * * * *', 'America/New_York', %s, 5) AS t", (after,))]
    assert got == [after + dt.timedelta(hours=h) for h in range(1, 6)]
    none = db.execute("SELECT cron_next_run('0 0 30,31 2 *', 'UTC', now()) AS t").fetchone()
    assert none is not None and none["t"] is None  # accepted by Dagster, never fires
