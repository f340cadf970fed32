"""Vectorized steps against the per-record path, on a seeded generated corpus (no database).

For every expression of the table × filter/map/enrich × with and without ``when``, on
batches of generated records (strings, ints, floats, Decimals, booleans, nulls, nested
objects, lists, mixed-type fields, missing fields), the columnar step and the per-record
transformation (through the same ``when`` routing as ``factory.runtime.apply_step``) must
give the same output records (normalised to table shape: records → batch → records,
compared by ``repr`` so types, Decimal scales, key order and NaN count) and the same
failures (index, message, step, details).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import jmespath
import pyarrow as pa
import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.factory.runtime import apply_step
from integration_orchestrator.model.failures import FailedRecord
from integration_orchestrator.transforms import compile_transformation
from integration_orchestrator.transforms.columnar import (
    StepBatch,
    apply_step_columnar,
    compile_columnar_step,
    when_mask,
)
from integration_orchestrator.transforms.contracts import truthy
from integration_orchestrator.transforms.jmespath_inline import compile_inline

STRINGS = ["active", "cancelled", "", "a", "Ada", "ß→é", "gold", "b", "ae"]
DECIMALS = [
    "486.20", "250", "250.00", "-0", "0.5", "1E+3", "1E-25", "12345678901234567.89", "NaN", "99999999999999999999999",
]
FLOATS = [0.0, -0.0, 1.5, 250.0, 0.1, float("nan"), 1e300, -3.25]
INTS = [0, 1, -1, 3, 10, 251, 2**53 + 1, 2**62]


def _maybe(rng: random.Random, value: Any, null: float = 0.12) -> Any:
    return None if rng.random() < null else value


def _record(rng: random.Random, profile: int) -> dict[str, Any]:
    record: dict[str, Any] = {
        "s": _maybe(rng, rng.choice(STRINGS)),
        "t": _maybe(rng, rng.choice(STRINGS), 0.05),
        "i": _maybe(rng, rng.choice(INTS)),
        "f": _maybe(rng, rng.choice(FLOATS)),
        "d": _maybe(rng, Decimal(rng.choice(DECIMALS[: 6 if profile % 2 else len(DECIMALS)]))),
        "b": _maybe(rng, rng.random() < 0.5),
        "n": _maybe(rng, {"x": _maybe(rng, rng.choice(STRINGS)), "y": rng.choice(INTS[:6]),
                         "z": {"w": _maybe(rng, rng.random() < 0.5)}}),
        "l": _maybe(rng, [rng.choice(STRINGS) for _ in range(rng.randint(0, 3))]),
        "mixed": rng.choice([1, "1", None, 2.5]) if profile == 2 else rng.choice([1, 7, None]),
    }
    if profile == 3:
        record["d"] = None  # a batch whose decimal column is all null
    for key in list(record):
        if rng.random() < 0.04:
            del record[key]
    return record


def corpus() -> list[pa.RecordBatch]:
    """The seeded corpus: batches of 60 records in 5 profiles."""
    rng = random.Random(14)
    return [records_to_batch([_record(rng, profile) for _ in range(60)]) for profile in range(5)]


BATCHES = corpus()
CORPUS_SIZE = sum(b.num_rows for b in BATCHES)

VALUES = [
    "s", "n.x", "n.y", "n.z.w", "n.nope", "missing", "i", "d", "f", "b", "n", "l", "mixed",
    "s == 'active'", "s != 'active'", "s == t", "i == `1`", "i == f", "i != `3`", "f == `1.5`", "d == `250`",
    "d == i", "d != `0.5`", "b == `true`", "b == i", "s == `null`", "missing == `null`", "n == `null`",
    "`1` == `1.0`", "d == f", "mixed == `1`",
    "i > `10`", "i <= `0`", "f < `1.5`", "f >= i", "d > `250`", "d < `0.5`", "d >= i", "d > `100.25`",
    "i < `9007199254740993`", "s > t", "s < 'b'", "s < i", "b > `0`", "n > `1`", "d < s",
    "b", "!b", "!s", "!i", "!n", "!l", "s && t", "s || t", "i && s", "b && 'x' || 'y'",
    "i > `5` && 'big' || 'small'", "d > `250` && 'gold' || 'standard'", "d > `100` && s || t",
    "s == 'active' && i > `3`", "s == 'active' || !b", "n.z.w || b", "l && s",
    "length(s)", "length(l)", "length(n)", "length(i)", "contains(s, 'a')", "contains(s, t)",
    "starts_with(s, t)", "ends_with(s, 'e')", "starts_with(i, 'a')",
    "to_string(i)", "to_string(s)", "to_string(b)", "to_string(d)", "to_string(missing)", "to_string(f)",
    "not_null(s, t)", "not_null(missing, s)", "not_null(s, `\"none\"`)", "not_null(i, s)",
    "join('-', [s, t])", "join(', ', [s, n.x])", "join('', [t])",
    "{a: s, b: i}", "{a: {b: s, c: n.y}}", "{a: d}", "merge(n, {q: s})",
]
OBJECTS = [
    "@", "n", "{a: s, b: i, c: d}", "merge(@, {label: join(' / ', [s, t])})", "merge(@, n)",
    "merge(n, {q: s})", "{x: {y: s, z: i}}", "merge(@, {s: i, new: b})", "{s: t}", "merge(@, {a: d > `250`})",
    "{tier: d > `250` && 'gold' || 'standard'}", "{a: s, a: i}", "s", "merge(@, {d: `null`})",
]
WHENS = [None, "i > `3`", "s", "b", "d > `100`"]


# The per-record routing the columnar path must equal.
_reference_apply_step = apply_step


def _row(kind: str, expression: str) -> dict[str, Any]:
    return {"transformation_name": "t", "transformation_type": kind, "language": "jmespath",
            "transformation_logic": {"expression": expression}}


def _failures(failures: list[FailedRecord]) -> str:
    return repr([(f.index, f.message, f.step, f.details) for f in failures])


def _check(kind: str, expression: str) -> int:
    """Compare both paths on every batch and ``when``; the number of comparisons."""
    row = _row(kind, expression)
    compiled = compile_transformation(row)
    assert compiled.inline, f"{expression} is not in the inline fence: the reference would need the sandbox"
    step = compile_columnar_step(row)
    assert step is not None, f"{kind} {expression} has no columnar form"
    count = 0
    for n, batch in enumerate(BATCHES):
        for when in WHENS:
            records = batch_to_records(batch)
            try:
                out, failures = _reference_apply_step("step", compiled.apply, records, when)
            except Exception as exc:  # noqa: BLE001 - the per-record path raises (e.g. a failing `when`): so must we
                with pytest.raises(type(exc)):
                    apply_step_columnar("step", step, batch, compiled.apply, when)
                continue
            got = apply_step_columnar("step", step, batch, compiled.apply, when)
            expected = records_to_batch(out)
            context = f"{kind} {expression!r} when={when!r} batch {n}"
            assert repr(batch_to_records(got.batch)) == repr(batch_to_records(expected)), context
            if got.batch.num_rows:
                assert got.batch.schema.names == expected.schema.names, context
            assert _failures(got.failures) == _failures(failures), context
            count += 1
    return count


@pytest.mark.parametrize("expression", VALUES)
def test_filter_matches_per_record(expression: str) -> None:
    assert _check("filter", expression)


@pytest.mark.parametrize("expression", VALUES)
def test_map_and_enrich_of_a_value_match_per_record(expression: str) -> None:
    for kind in ("map", "enrich"):
        assert _check(kind, f"{{v: {expression}}}")


@pytest.mark.parametrize("expression", OBJECTS)
def test_map_and_enrich_of_objects_match_per_record(expression: str) -> None:
    for kind in ("map", "enrich"):
        assert _check(kind, expression)


@pytest.mark.parametrize("when", [w for w in WHENS if w] + ["to_string(f)", "n.x", "length(s) > `2`"])
def test_when_mask_matches_per_record(when: str) -> None:
    evaluate = compile_inline(when) or jmespath.compile(when).search
    for batch in BATCHES:
        try:
            expected = [truthy(evaluate(r)) for r in batch_to_records(batch)]
        except Exception as exc:  # noqa: BLE001 - e.g. a NaN Decimal compared: the columnar mask raises the same
            with pytest.raises(type(exc)):
                when_mask(when, batch)
            continue
        assert when_mask(when, batch).tolist() == expected


BENCH = [
    ("filter", "status == 'active'"),
    ("enrich", "{tier: total > `250` && 'gold' || 'standard'}"),
    ("map", "merge(@, {label: join(' / ', [country, tier])})"),
]


def test_the_benchmark_steps_run_columnar_on_clean_rows() -> None:
    records = [{"customer_id": i, "country": "Germany", "total": Decimal(f"{i}.50"), "status": s, "tier": "x"}
               for i, s in enumerate(["active", "cancelled", "active"])]
    batch = records_to_batch(records)

    def refuse(rows: list[dict[str, Any]]) -> Any:
        raise AssertionError(f"ran per record: {rows}")

    for kind, expression in BENCH:
        step = compile_columnar_step(_row(kind, expression))
        assert step is not None
        result = step.apply(batch, refuse)
        assert isinstance(result, StepBatch)
        assert not result.failures
        assert repr(batch_to_records(result.batch)) == repr(
            batch_to_records(records_to_batch(compile_transformation(_row(kind, expression)).apply(records).records))
        )


@pytest.mark.parametrize(
    ("row", "why"),
    [
        (_row("map", "items[0]"), "an index expression"),
        (_row("map", "sort_by(@, &a)"), "a function outside the subset"),
        (_row("validate", "s"), "validate keeps the per-record path"),
        ({**_row("map", "{a: s}"), "input_schema": {"type": "object"}}, "schemas are checked per record"),
        ({**_row("map", "{a: s}"), "language": "jsonpath", "transformation_logic": {"path": "$.s"}}, "not JMESPath"),
    ],
)
def test_steps_without_a_columnar_form(row: dict[str, Any], why: str) -> None:
    assert compile_columnar_step(row) is None, why


def test_the_corpus_is_large_enough() -> None:
    assert CORPUS_SIZE == 300
