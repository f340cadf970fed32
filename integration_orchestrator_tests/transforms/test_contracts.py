"""Every language under every transformation_type contract, through the sandbox pool."""

from __future__ import annotations

from typing import Any

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


def test_sql_mixed_shapes_become_json_text_and_missing_keys_null(compile_row: Any) -> None:
    records = [{"id": 1, "v": [1, "x"]}, {"id": 2, "extra": 5}]
    outcome = compile_row("sql", "map", {"query": "SELECT id, v, extra FROM records ORDER BY _row"}).apply(records)
    assert outcome.records == [{"id": 1, "v": '[1,"x"]', "extra": None}, {"id": 2, "v": None, "extra": 5}]


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
