"""Every language under every transformation_type contract, through the sandbox pool."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "ada", "amount": 10, "team": "a"},
    {"id": 2, "name": "bob", "amount": 25, "team": "b"},
    {"id": 3, "name": "cy", "amount": 40, "team": "a"},
]
MAPPED = [{"id": 1, "n": "ADA"}, {"id": 2, "n": "BOB"}, {"id": 3, "n": "CY"}]
KEPT = [RECORDS[1], RECORDS[2]]
ENRICHED = [{**r, "big": r["amount"] > 20} for r in RECORDS]
TOTALS = [{"team": "a", "total": 50}, {"team": "b", "total": 25}]

PY_AGG = (
    "def transform_batch(rs):\n    t = {}\n    for r in rs:\n        t[r['team']] = t.get(r['team'], 0) + r['amount']\n"
    "    return [{'team': k, 'total': v} for k, v in sorted(t.items())]"
)
JS_AGG = (
    "function transformBatch(rs) { const t = {}; for (const r of rs) t[r.team] = (t[r.team] || 0) + r.amount; "
    "return Object.keys(t).sort().map(k => ({team: k, total: t[k]})); }"
)

# (language, type, logic, expected records)
CASES: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]] = [
    ("jmespath", "map", {"expression": "{id: id, n: name}"}, [{"id": r["id"], "n": r["name"]} for r in RECORDS]),
    ("jmespath", "filter", {"expression": "amount > `20`"}, KEPT),
    ("jmespath", "enrich", {"expression": "{big: amount > `20`}"}, ENRICHED),
    ("jmespath", "custom", {"expression": "[?team == 'a'].{id: id}"}, [{"id": 1}, {"id": 3}]),
    ("jsonpath", "map", {"fields": {"id": "$.id", "n": "$.name"}}, [{"id": r["id"], "n": r["name"]} for r in RECORDS]),
    ("jsonpath", "filter", {"path": "$[?@.amount > 20]"}, KEPT),
    ("jsonpath", "enrich", {"fields": {"who": "$.name"}}, [{**r, "who": r["name"]} for r in RECORDS]),
    ("jsonpath", "aggregate", {"path": "$[?@.team == 'a']"}, [RECORDS[0], RECORDS[2]]),
    ("javascript", "map", {"code": "function transform(r) { return {id: r.id, n: r.name.toUpperCase()}; }"}, MAPPED),
    ("javascript", "filter", {"code": "function transform(r) { return r.amount > 20; }"}, KEPT),
    ("javascript", "enrich", {"code": "function transform(r) { return {big: r.amount > 20}; }"}, ENRICHED),
    ("javascript", "aggregate", {"code": JS_AGG}, TOTALS),
    ("python", "map", {"code": "def transform(r):\n    return {'id': r['id'], 'n': r['name'].upper()}"}, MAPPED),
    ("python", "filter", {"code": "def transform(r):\n    return r['amount'] > 20"}, KEPT),
    ("python", "enrich", {"code": "def transform(r):\n    return {'big': r['amount'] > 20}"}, ENRICHED),
    ("python", "aggregate", {"code": PY_AGG}, TOTALS),
    ("sql", "map", {"query": "SELECT id, upper(name) AS n FROM records ORDER BY _row"}, MAPPED),
    ("sql", "filter", {"query": "SELECT * FROM records WHERE amount > 20"}, KEPT),
    ("sql", "enrich", {"query": "SELECT _row, amount > 20 AS big FROM records"}, ENRICHED),
    (
        "sql",
        "aggregate",
        {"query": "SELECT team, sum(amount)::INT AS total FROM records GROUP BY team ORDER BY team"},
        TOTALS,
    ),
]


@pytest.mark.parametrize(("language", "kind", "logic", "expected"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_language_contract(
    compile_row: Any, language: str, kind: str, logic: dict[str, Any], expected: list[Any]
) -> None:
    outcome = compile_row(language, kind, logic).apply(RECORDS)
    assert outcome.errors == []
    assert outcome.records == expected


VALIDATE = [
    ("jmespath", {"expression": "amount <= `20` && 'amount too small' || `null`"}),
    ("jsonpath", {"path": "$[?@.amount > 20]"}),
    ("javascript", {"code": "function transform(r) { return r.amount > 20 ? [] : ['amount too small']; }"}),
    ("python", {"code": "def transform(r):\n    return [] if r['amount'] > 20 else ['amount too small']"}),
    ("sql", {"query": "SELECT _row, 'amount too small' AS error FROM records WHERE amount <= 20"}),
]


@pytest.mark.parametrize(("language", "logic"), VALIDATE, ids=[v[0] for v in VALIDATE])
def test_validate_keeps_valid_records_and_reports_the_others(
    compile_row: Any, language: str, logic: dict[str, Any]
) -> None:
    outcome = compile_row(language, "validate", logic).apply(RECORDS)
    assert outcome.records == KEPT
    assert [(e.index, e.record) for e in outcome.errors] == [(0, RECORDS[0])]
    assert outcome.errors[0].message
    assert outcome.errors[0].details["transformation"] == f"{language}_validate"


@pytest.mark.parametrize(
    ("language", "logic", "message"),
    [
        ("python", {"code": "def transform(r):\n    return {'x': 1 / (r['id'] - 2)}"}, "ZeroDivisionError"),
        (
            "javascript",
            {"code": "function transform(r) { if (r.id === 2) throw new Error('bad two'); return r; }"},
            "Error: bad two",
        ),
        ("jmespath", {"expression": "abs(name)"}, "JMESPath error"),
        ("python", {"code": "def transform(r):\n    return 5"}, "map must return an object, got a number"),
    ],
)
def test_one_failing_record_does_not_stop_the_others(
    compile_row: Any, language: str, logic: dict[str, Any], message: str
) -> None:
    outcome = compile_row(language, "map", logic).apply(RECORDS)
    assert message in outcome.errors[0].message
    if language != "jmespath" and "number" not in message:
        assert [e.index for e in outcome.errors] == [1]
        assert len(outcome.records) == 2


def test_large_batches_are_chunked_and_reassembled_in_order(compile_row: Any) -> None:
    records = [{"id": i} for i in range(4500)]
    compiled = compile_row("python", "map", {"code": "def transform(r):\n    return {'id': r['id'] * 2}"})
    assert compiled.chunk_size < len(records)
    outcome = compiled.apply(records)
    assert [r["id"] for r in outcome.records] == [i * 2 for i in range(4500)]


def test_sql_nested_values_are_structs_and_lists(compile_row: Any) -> None:
    records = [{"id": 1, "addr": {"city": "Oslo"}, "tags": ["x", "y"]}]
    compiled = compile_row("sql", "map", {"query": "SELECT id, addr.city AS city, len(tags) AS n, addr FROM records"})
    assert compiled.apply(records).records == [{"id": 1, "city": "Oslo", "n": 2, "addr": {"city": "Oslo"}}]


def test_sql_filter_without_row_column_is_a_clear_error(compile_row: Any) -> None:
    from integration_orchestrator.transforms import TransformationRuntimeError

    with pytest.raises(TransformationRuntimeError, match="must return the _row column"):
        compile_row("sql", "filter", {"query": "SELECT id FROM records"}).apply(RECORDS)


def test_empty_batch(compile_row: Any) -> None:
    assert compile_row("python", "map", {"code": "def transform(r):\n    return r"}).apply([]).records == []


def test_sql_mixed_shapes_are_json_text_in_sql_and_json_again_when_returned_unchanged(compile_row: Any) -> None:
    records = [{"id": 1, "v": [1, "x"]}, {"id": 2, "extra": 5}]
    query = "SELECT id, v, v::VARCHAR AS text, extra FROM records ORDER BY _row"
    outcome = compile_row("sql", "map", {"query": query}).apply(records)
    assert outcome.records == [
        {"id": 1, "v": [1, "x"], "text": '[1,"x"]', "extra": None},
        {"id": 2, "v": None, "text": None, "extra": 5},
    ]


@pytest.mark.parametrize(
    ("tier", "language", "chunk"),
    [("lightweight", "python", 2000), ("standard", "python", 1000), ("heavy", "sql", 10000)],
)
def test_performance_tier_picks_chunk_size_and_schema_sampling(
    compile_row: Any, tier: str, language: str, chunk: int
) -> None:
    logic = BENIGN_LOGIC[language]
    compiled = compile_row(language, "map", logic, performance_tier=tier)
    assert compiled.chunk_size == chunk
    assert compiled.schema_check == ("sample" if tier == "heavy" else "all")


BENIGN_LOGIC = {"python": {"code": "def transform(r):\n    return r"}, "sql": {"query": "SELECT * FROM records"}}


@pytest.mark.parametrize(
    ("language", "logic", "message"),
    [
        ("python", {"code": "def transform_batch(rs):\n    raise RuntimeError('boom')"}, "RuntimeError: boom"),
        (
            "python",
            {"code": "def transform_batch(rs):\n    return {'n': 1}"},
            "aggregate must return a list of objects, got an object",
        ),
        ("javascript", {"code": "function transformBatch(rs) { return [1]; }"}, "item 0 is a number"),
        ("javascript", {"code": "function transformBatch(rs) { null.x; }"}, "TypeError"),
        ("sql", {"query": "SELECT nope FROM records"}, "Binder Error"),
    ],
)
def test_batch_failures_raise_naming_the_transformation(
    compile_row: Any, language: str, logic: dict[str, Any], message: str
) -> None:
    from integration_orchestrator.transforms import TransformationRuntimeError

    with pytest.raises(TransformationRuntimeError, match=f"^In transformation `{language}_aggregate`") as info:
        compile_row(language, "aggregate", logic).apply(RECORDS)
    assert message in str(info.value)


# -- exact values (issue 14 item 6) ---------------------------------------------------------

OSLO = ZoneInfo("Europe/Oslo")
EXACT_RECORDS: list[dict[str, Any]] = [
    {
        "id": 1,
        "big": Decimal("12345678901234567.89"),
        "price": Decimal("486.20"),
        "day": dt.date(2026, 1, 31),
        "at": dt.datetime(2026, 1, 31, 10, 30, 0, 123000, tzinfo=OSLO),
        "nested": {"tags": ["x", "y"], "unit": Decimal("0.50"), "mixed": [1, "a", {"k": None}]},
    },
    {
        "id": 2,
        "big": Decimal("-0.001"),
        "price": Decimal("7.5"),
        "day": dt.date(1999, 12, 31),
        "at": dt.datetime(2026, 7, 1, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "nested": {"tags": [], "unit": Decimal("1E+3"), "mixed": [{"deep": Decimal("3.000")}]},
    },
]
JS_KEEP = "function transform(r) { r.extra = 1; return r; }"

# (language, type, logic): steps that leave the exact values alone
UNTOUCHED: list[tuple[str, str, dict[str, Any]]] = [
    ("python", "map", {"code": "def transform(r):\n    return r"}),
    ("python", "enrich", {"code": "def transform(r):\n    return {'extra': 1}"}),
    ("python", "custom", {"code": "def transform_batch(rs):\n    return rs"}),
    ("javascript", "map", {"code": "function transform(r) { return r; }"}),
    ("javascript", "map", {"code": "function transform(r) { return {...r}; }"}),
    ("javascript", "enrich", {"code": "function transform(r) { return {extra: 1}; }"}),
    ("javascript", "custom", {"code": "function transformBatch(rs) { return rs.slice().reverse().reverse(); }"}),
    ("sql", "map", {"query": "SELECT * FROM records"}),
    ("sql", "map", {"query": "SELECT * EXCLUDE (_row) FROM records ORDER BY _row"}),
    ("sql", "enrich", {"query": "SELECT _row, 1 AS extra FROM records"}),
    ("sql", "custom", {"query": "SELECT * EXCLUDE (_row) FROM records ORDER BY _row"}),
    ("jsonpath", "map", {"path": "$"}),
    ("jsonpath", "map", {"fields": {k: f"$.{k}" for k in EXACT_RECORDS[0]}}),
    ("jsonpath", "aggregate", {"path": "$[*]"}),
    ("jmespath", "map", {"expression": "@"}),
    ("jmespath", "custom", {"expression": "@"}),
    ("jmespath", "map", {"expression": "merge(@, {n: length(map(&@, [`1`]))})"}),
]


def _typed(value: Any) -> Any:
    """A value with the type and text of every leaf, so equal means same type and same str()."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, str(value), value)


@pytest.mark.parametrize(
    ("language", "kind", "logic"), UNTOUCHED, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(UNTOUCHED)]
)
def test_exact_values_pass_untouched_through_every_engine(
    compile_row: Any, language: str, kind: str, logic: dict[str, Any]
) -> None:
    compiled = compile_row(language, kind, logic)
    assert compiled.inline == (language == "jmespath" and logic["expression"] == "@" and kind == "map")
    outcome = compiled.apply(EXACT_RECORDS)
    assert outcome.errors == []
    got = [{k: v for k, v in r.items() if k not in ("extra", "n")} for r in outcome.records]
    assert _typed(got) == _typed(EXACT_RECORDS)


PY_COMPUTE = """
import datetime
from decimal import Decimal

def transform(r):
    assert isinstance(r['price'], Decimal) and isinstance(r['nested']['unit'], Decimal)
    assert type(r['day']) is datetime.date and r['at'].utcoffset() is not None
    return {
        'total': r['price'] * 3,
        'big': r['big'] + Decimal('0.01'),
        'unit': r['nested']['unit'] / 4,
        'next_day': r['day'] + datetime.timedelta(days=1),
        'utc': r['at'].astimezone(datetime.timezone.utc),
    }
"""


def test_python_steps_compute_with_decimals_exactly(compile_row: Any) -> None:
    outcome = compile_row("python", "map", {"code": PY_COMPUTE}).apply(EXACT_RECORDS)
    assert outcome.errors == []
    first = outcome.records[0]
    assert _typed(first) == _typed(
        {
            "total": Decimal("1458.60"),
            "big": Decimal("12345678901234567.90"),
            "unit": Decimal("0.125"),
            "next_day": dt.date(2026, 2, 1),
            "utc": dt.datetime(2026, 1, 31, 9, 30, 0, 123000, tzinfo=dt.UTC),
        }
    )


# (language, logic, expected for EXACT_RECORDS[0]): what engines without exact types compute
COMPUTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "javascript",
        {
            "code": "function transform(r) { return {tp: typeof r.price, tb: typeof r.big, td: typeof r.day, "
            "double: r.price * 2, day: r.day, copy: r.big, price: r.price}; }"
        },
        {
            "tp": "number",
            "tb": "string",
            "td": "string",
            "double": 972.4,
            "day": dt.date(2026, 1, 31),
            "copy": "12345678901234567.89",
            "price": Decimal("486.20"),
        },
    ),
    (
        "sql",
        {"query": "SELECT price * 2 AS double, big + 0.01 AS big, day + 1 AS day, price FROM records ORDER BY _row"},
        {
            "double": Decimal("972.40"),
            "big": Decimal("12345678901234567.900"),  # computed: the column's DECIMAL scale (3, from -0.001)
            "day": dt.date(2026, 2, 1),
            "price": Decimal("486.20"),
        },
    ),
]


@pytest.mark.parametrize(("language", "logic", "expected"), COMPUTED, ids=[c[0] for c in COMPUTED])
def test_engines_without_exact_types_compute_and_keep_what_is_untouched(
    compile_row: Any, language: str, logic: dict[str, Any], expected: dict[str, Any]
) -> None:
    outcome = compile_row(language, "map", logic).apply(EXACT_RECORDS)
    assert outcome.errors == []
    assert _typed(outcome.records[0]) == _typed(expected)
