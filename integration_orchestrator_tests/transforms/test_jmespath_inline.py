"""The in-process JMESPath compiler: same results as the ``jmespath`` library, and its fence."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import jmespath
import pytest

from integration_orchestrator.transforms import TransformationTimeoutError, WorkerPool, compile_transformation
from integration_orchestrator.transforms.jmespath_inline import MAX_NODES, compile_inline, fence
from integration_orchestrator.transforms.sandbox import SandboxSettings
from integration_orchestrator_tests.rows import loaded_transformation

RECORDS: list[Any] = [
    {
        "status": "active",
        "total": 300,
        "country": "DE",
        "tier": "gold",
        "name": {"first": "Ada", "last": "L"},
        "items": [{"sku": "a", "qty": 2, "tags": ["x", "y"]}, {"sku": "b", "qty": 0, "tags": []}],
        "flag": True,
        "zero": 0,
        "empty": "",
        "none": None,
        "obj": {"k": 1, "j": 2},
        "nums": [3, 1, 2],
        "words": ["b", "a"],
    },
    {"status": "cancelled", "total": 12.5, "country": "FR", "items": [], "flag": False, "zero": 0.0, "nums": []},
    {"status": 1, "total": "7", "items": {"sku": "c"}, "flag": 1, "obj": [], "nums": ["a", 1]},
    {
        "status": "active",
        "total": Decimal("300.50"),
        "zero": Decimal("0"),
        "flag": Decimal("1"),
        "nums": [Decimal("2"), 1],
    },
    {},
    [],
    [1, {"a": 2}, [3]],
    "text",
    0,
    None,
]

EXPRESSIONS = [
    "status",
    "name.first",
    "name.middle.x",
    "@",
    "items[0].sku",
    "items[-1]",
    "items[5]",
    "nums[1:]",
    "nums[::-1]",
    "status == 'active'",
    "status != 'active'",
    "flag == `1`",
    "zero == `false`",
    "flag == `true`",
    "total > `250`",
    "total >= `12.5`",
    "total < `10`",
    "country < 'E'",
    "total <= status",
    "status == 'active' && total > `100`",
    "zero && 'yes'",
    "empty || 'fallback'",
    "none || `[]`",
    "!zero",
    "!empty",
    "!flag",
    "!items",
    "{tier: total > `250` && 'gold' || 'standard'}",
    "[country, tier]",
    '{a: `{"x": [1]}`}',
    "merge(@, {label: join(' / ', [country, tier])})",
    "merge(obj, {k: `9`})",
    "merge(obj, `1`)",
    "join(', ', words)",
    "join(', ', nums)",
    "length(items)",
    "length(name)",
    "length(total)",
    "to_string(total)",
    "to_number(total)",
    "contains(words, 'a')",
    "starts_with(country, 'D')",
    "ends_with(status, 'ed')",
    "not_null(none, tier, 'z')",
    "sort(nums)",
    "max(nums)",
    "sum(nums)",
    "avg(nums)",
    "keys(obj)",
    "values(obj)",
    "type(@)",
    "reverse(words)",
    "abs(total)",
    "ceil(total)",
    "floor(total)",
    "to_array(country)",
    "items[*].sku",
    "items[*].{s: sku, q: qty}",
    "items[?qty > `0`].sku",
    "items[?tags].tags[]",
    "items[].tags",
    "items[].tags[]",
    "obj.*",
    "*.first",
    "items | [0]",
    "items[*].tags | [0]",
    "total == `300.5`",
    "zero == `false`",
    "flag == `true`",
    "nums == `[2, 1]`",
    'obj == `{"k": 1, "j": 2}`',
    "none == `null`",
    "status == `null`",
    "[status, total] | [1]",
    "`[1, 2]`[0]",
    "'raw'",
    "[?@ == `1`]",
    "[*]",
]


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as exc:  # noqa: BLE001 - the comparison covers errors too
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_same_result_as_the_library(expression: str) -> None:
    evaluate = compile_inline(expression)
    assert evaluate is not None, fence(jmespath.compile(expression).parsed)
    library = jmespath.compile(expression)
    for record in RECORDS:
        expected = _outcome(lambda: library.search(record))  # noqa: B023 - called at once
        got = _outcome(lambda: evaluate(record))  # noqa: B023 - called at once
        assert got == expected, (expression, record)
        if expected[0] == "value":
            assert type(got[1]) is type(expected[1])


def test_literal_containers_are_not_shared_between_records() -> None:
    evaluate = compile_inline("{tags: `[\"a\"]`}")
    assert evaluate is not None
    first = evaluate({})
    first["tags"].append("changed")
    assert evaluate({}) == {"tags": ["a"]}


REFUSED = [
    ("[@, @] | [@, @] | [@, @]", "the right side of a pipe copies a part of its input twice"),
    ("a.[@, @].[@, @]", "the right side of a subexpression copies a part of its input twice"),
    ("[@, @][*].[@, @]", "the right side of a projection copies a part of its input twice"),
    ("a.{x: b, y: b}", "the right side of a subexpression copies a part of its input twice"),
    ("a | {x: @, y: b}", "the right side of a pipe copies a part of its input twice"),
    ("map(&a, items)", "function map() runs in the sandbox"),
    ("sort_by(items, &qty)", "function sort_by() runs in the sandbox"),
    ("max_by(items, &qty)", "function max_by() runs in the sandbox"),
    ("[" + ", ".join(["a"] * MAX_NODES) + "]", f"more than {MAX_NODES} nodes"),
    ("[" * 60 + "a" + "]" * 60, "nested deeper than 48"),
]


@pytest.mark.parametrize(("expression", "reason"), REFUSED)
def test_fence_refuses_what_can_grow(expression: str, reason: str) -> None:
    assert fence(jmespath.compile(expression).parsed) == reason
    assert compile_inline(expression) is None


@pytest.mark.parametrize(
    "expression", ["{a: @, b: @}", "[a, a] | [0]", "a.{x: b.c, y: b.d}", "items[*].{s: sku, q: qty}"]
)
def test_fence_admits_copies_made_once(expression: str) -> None:
    assert fence(jmespath.compile(expression).parsed) is None


@pytest.fixture
def fresh_pool() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(max_workers=1)) as pool:
        yield pool


def test_fenced_steps_run_in_process_and_never_start_a_worker(fresh_pool: WorkerPool) -> None:
    row = loaded_transformation("jmespath", "map", {"expression": "{id: id, twice: [id, id]}"})
    step = compile_transformation(row, pool=fresh_pool)
    records = [{"id": i} for i in range(12_000)]
    assert step.inline
    assert step.apply(records).records == [{"id": i, "twice": [i, i]} for i in range(12_000)]
    assert fresh_pool.size == 0


def test_refused_expressions_still_run_in_the_sandbox(fresh_pool: WorkerPool) -> None:
    row = loaded_transformation("jmespath", "enrich", {"expression": "{n: length(to_string([@, @] | [@, @]))}"})
    step = compile_transformation(row, pool=fresh_pool)
    assert not step.inline
    assert step.apply([{"id": 1}]).records == [{"id": 1, "n": 41}]
    assert fresh_pool.size == 1


def test_per_record_errors_carry_the_library_messages(fresh_pool: WorkerPool) -> None:
    logic = {"expression": "{big: total > `5`, n: length(total)}"}
    inline = compile_transformation(loaded_transformation("jmespath", "enrich", logic), pool=fresh_pool)
    records: list[dict[str, Any]] = [{"total": 10}, {"total": "x"}, {"total": [1]}]
    outcome = inline.apply(records)
    assert inline.inline
    assert outcome.records == [{"total": [1], "big": None, "n": 1}]
    assert [(e.index, e.message) for e in outcome.errors] == [
        (
            0,
            "JMESPath error: In function length(), invalid type for value: 10, expected one of: "
            "['string', 'array', 'object'], received: \"number\"",
        ),
        (1, "JMESPath error: '>' not supported between instances of 'str' and 'int'"),
    ]


def test_timeout_is_checked_between_chunks(fresh_pool: WorkerPool) -> None:
    row = loaded_transformation("jmespath", "map", {"expression": "{s: to_string(@)}"}, timeout_seconds=0.001)
    step = compile_transformation(row, pool=fresh_pool)
    records = [{"id": i, "payload": "x" * 200} for i in range(200_000)]
    with pytest.raises(TransformationTimeoutError, match=r"timed out after 0.001 s"):
        step.apply(records)
