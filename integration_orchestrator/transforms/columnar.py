"""Pipeline steps applied to record batches, vectorized where the result is certainly exact.

A step whose logic has a columnar form (JMESPath map/filter/enrich in the subset of
:mod:`.jmespath_columnar`) computes, per row, its output and an *exact* mask (the guard
design). The rows outside the mask, and whole batches whose schema the subset does not
cover, go through ``fallback``: the step's per-record ``apply`` (today's engine,
unchanged). Their outputs and failures are merged back in row order, so messages,
``error_handling`` outcomes and dead-letter payloads are those of the per-record engine
by construction; the differential tests prove the columnar rows equal on a corpus.

:func:`apply_step_columnar` is the batch counterpart of ``factory.runtime.apply_step``:
same ``when`` routing, same order of the output rows, same failure attribution.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jmespath
import numpy as np
import polars as pl
import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, logical_types, records_to_batch
from integration_orchestrator.transforms.columnar_assemble import Part, assemble, canonical
from integration_orchestrator.transforms.columnar_base import (
    Fallback,
    Outcome,
    StepBatch,
    moved_failures,
    per_record,
)
from integration_orchestrator.transforms.contracts import truthy
from integration_orchestrator.transforms.jmespath_columnar import (
    Compiler,
    Unsupported,
    Val,
    collapse,
    supported,
    union_truth,
)
from integration_orchestrator.transforms.jmespath_columnar_functions import object_fields
from integration_orchestrator.transforms.jmespath_inline import compile_inline, copies
from integration_orchestrator.transforms.jmespath_output import FREE_COPIES
from integration_orchestrator.transforms.row import TransformationRow

if TYPE_CHECKING:
    from integration_orchestrator.transforms.sql_columnar import SqlColumnarStep

__all__ = [
    "ColumnarStep",
    "Fallback",
    "StepBatch",
    "apply_step_columnar",
    "compile_columnar_step",
    "moved_failures",
    "per_record",
    "when_mask",
]

Record = dict[str, Any]
_EXACT = "__io_exact"
_KEEP = "__io_keep"
_TYPES = frozenset({"map", "filter", "enrich"})


def compile_columnar_step(row: TransformationRow | Mapping[str, Any]) -> ColumnarStep | SqlColumnarStep | None:
    """The columnar form of a transformation row, or None when it has none at all.

    Takes the row ``compile_transformation`` takes. Steps with an input or output schema
    keep the per-record path (the schemas are checked per record). SQL steps (map,
    filter, enrich, aggregate, custom) run in the sandboxed DuckDB over the Arrow batch
    (:mod:`.sql_columnar`).
    """
    if not isinstance(row, TransformationRow):
        row = TransformationRow.from_mapping(row)
    if row.input_schema or row.output_schema:
        return None
    if row.language == "sql":
        return _sql_step(row)
    if row.language != "jmespath" or row.transformation_type not in _TYPES:
        return None
    expression = row.transformation_logic.get("expression")
    if not isinstance(expression, str):
        return None
    parsed = _parse(expression)
    if parsed is None or not supported(parsed) or copies(expression) > FREE_COPIES:
        return None  # an expression copying its input many times runs per record, its output capped
    return ColumnarStep(row.transformation_type, expression, parsed)


def _sql_step(row: TransformationRow) -> SqlColumnarStep | None:
    from integration_orchestrator.transforms.compiled import compile_transformation
    from integration_orchestrator.transforms.sql import SQLEngine
    from integration_orchestrator.transforms.sql_columnar import SQL_TYPES, SqlColumnarStep

    if row.transformation_type not in SQL_TYPES:
        return None
    transformation = compile_transformation(row)
    if not isinstance(transformation.engine, SQLEngine):
        return None
    return SqlColumnarStep(transformation)


def _parse(expression: str) -> Any:
    try:
        return jmespath.compile(expression).parsed
    except Exception:  # noqa: BLE001 - invalid or too deep: compile_transformation reports it
        return None


@dataclass(frozen=True)
class _Plan:
    #: the input columns the expressions read (only these are converted to Polars)
    reads: frozenset[str]
    exact: pl.Expr
    keep: pl.Expr | None = None
    #: output columns: (name, None) passes the input column through; else (name, (expr, logical))
    columns: tuple[tuple[str, tuple[pl.Expr, str | None] | None], ...] = ()


class ColumnarStep:
    """A JMESPath map, filter or enrich step over record batches."""

    def __init__(self, kind: str, expression: str, parsed: Mapping[str, Any]) -> None:
        self.kind = kind
        self.expression = expression
        self.parsed = parsed
        self._plans: dict[pa.Schema, _Plan | None] = {}

    def __repr__(self) -> str:
        return f"<ColumnarStep {self.kind} {self.expression!r}>"

    def apply(self, batch: pa.RecordBatch, fallback: Fallback) -> StepBatch:
        """The step's output for ``batch``; rows outside the exact mask run through ``fallback``."""
        plan = self._plan(batch.schema)
        if plan is None or batch.num_rows == 0:
            return per_record(batch, fallback)
        frame = _frame(batch, plan.reads)
        if self.kind == "filter":
            return self._filter(batch, frame, plan, fallback)
        return self._one_to_one(batch, frame, plan, fallback)

    def _plan(self, schema: pa.Schema) -> _Plan | None:
        if schema not in self._plans:
            try:
                self._plans[schema] = self._build(schema)
            except Unsupported:
                self._plans[schema] = None
        return self._plans[schema]

    def _build(self, schema: pa.Schema) -> _Plan:
        compiler = _compiler(schema)
        value = compiler.value(self.parsed)
        if self.kind == "filter":
            keep = union_truth(value)
            return _plan(compiler, keep=keep)
        result = collapse(value)
        if result.kind == "record":
            outputs: dict[str, Any] = dict.fromkeys(schema.names)
        elif self.kind == "map":
            outputs = {k: _output(compiler, k, u) for k, u in object_fields(compiler, result).items()}
        else:
            if result.fields is None:
                raise Unsupported("enrich with a value that may be null")
            outputs = dict.fromkeys(schema.names)
            outputs.update({k: _output(compiler, k, u) for k, u in result.fields})
        return _plan(compiler, columns=tuple(outputs.items()))

    def _filter(self, batch: pa.RecordBatch, frame: pl.DataFrame, plan: _Plan, fallback: Fallback) -> StepBatch:
        assert plan.keep is not None
        flags = _evaluate(frame, [plan.keep.alias(_KEEP), plan.exact.alias(_EXACT)])
        keep, exact = (flags[name].to_numpy() for name in (_KEEP, _EXACT))
        if exact.all():
            return StepBatch(_rows(batch, pa.array(keep)))
        rows = np.flatnonzero(~exact)
        records = batch_to_records(batch.take(pa.array(rows)))
        outcome = fallback(records)
        failures = moved_failures(outcome.errors, rows)
        kept = _kept_of_filter(records, outcome, fallback)
        chosen = np.sort(np.concatenate([np.flatnonzero(keep & exact), rows[kept]]))
        return StepBatch(_rows(batch, pa.array(chosen, pa.int64())), failures)

    def _one_to_one(self, batch: pa.RecordBatch, frame: pl.DataFrame, plan: _Plan, fallback: Fallback) -> StepBatch:
        computed = [(name, spec) for name, spec in plan.columns if spec is not None]
        result = _evaluate(frame, [spec[0].alias(name) for name, spec in computed] + [plan.exact.alias(_EXACT)])
        exact = result[_EXACT].to_numpy()
        done = canonical(result.drop(_EXACT).to_arrow(), {n: s[1] for n, s in computed if s[1]})
        arrays, fields = [], []
        for name, spec in plan.columns:
            source = batch if spec is None else done
            arrays.append(source.column(source.schema.get_field_index(name)))
            fields.append(source.schema.field(name))
        out = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
        if exact.all():
            return StepBatch(out)
        rows = np.flatnonzero(~exact)
        records = batch_to_records(batch.take(pa.array(rows)))
        outcome = fallback(records)
        failed = {f.index for f in outcome.errors}
        ok = [i for i in range(len(records)) if i not in failed]
        if len(ok) != len(outcome.records):
            raise RuntimeError(f"the per-record {self.kind} returned {len(outcome.records)} records for {len(ok)}")
        good = np.flatnonzero(exact)
        parts = [
            Part(good, _rows(out, pa.array(good))),
            Part(rows[ok], records_to_batch(outcome.records), outcome.records),
        ]
        return StepBatch(assemble(parts), moved_failures(outcome.errors, rows))


def _plan(compiler: Compiler, **parts: Any) -> _Plan:
    exact = compiler.exact()
    exprs = [exact, *([parts["keep"]] if "keep" in parts else [])]
    exprs += [spec[0] for _, spec in parts.get("columns", ()) if spec is not None]
    reads = frozenset(name for e in exprs for name in e.meta.root_names())
    return _Plan(reads, exact, **parts)


def _output(compiler: Compiler, key: str, u: Any) -> tuple[pl.Expr, str | None] | None:
    """An output column: None when it is the input column ``key`` unchanged (passed through as Arrow)."""
    v = collapse(u)
    if v is compiler.columns.get(key):
        return None
    return _materialize(v)


def _frame(batch: pa.RecordBatch, reads: frozenset[str]) -> pl.DataFrame:
    """The columns of ``batch`` the plan reads, as Polars (a placeholder column keeps the height)."""
    names = [n for n in batch.schema.names if n in reads]
    if not names:
        return pl.DataFrame({"__io_height": pl.repeat(None, batch.num_rows, dtype=pl.Null, eager=True)})
    frame = pl.from_arrow(batch.select(names))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _rows(batch: pa.RecordBatch, which: pa.Array) -> pa.RecordBatch:
    """Rows of ``batch`` by a mask or indexes, column by column (faster than ``RecordBatch.filter``)."""
    mask = pa.types.is_boolean(which.type)
    columns = [column.filter(which) if mask else column.take(which) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _evaluate(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``exprs`` over ``frame``, literals broadcast to its height."""
    names = [e.meta.output_name() for e in exprs]
    return frame.with_columns(exprs).select(names)


def _compiler(schema: pa.Schema) -> Compiler:
    if not len(schema):
        raise Unsupported("a batch without columns")
    empty = pl.from_arrow(pa.RecordBatch.from_pylist([], schema=schema))
    assert isinstance(empty, pl.DataFrame)
    return Compiler(dict(empty.schema), logical_types(schema))


def _materialize(v: Val) -> tuple[pl.Expr, str | None]:
    """An output column's expression and logical type."""
    if v.kind == "null":
        return pl.lit(None), None
    if v.fields is not None:
        return pl.struct([_nested(k, collapse(u)) for k, u in v.fields]), None
    if v.kind == "record" or v.expr is None:
        raise Unsupported("the whole record as a value")
    if v.kind == "dec":
        return v.expr, "decimal"
    if v.kind == "opaque":
        return v.expr, v.logical if v.logical in ("decimal", "datetime", "json") else None
    return v.expr, None


def _nested(key: str, v: Val) -> pl.Expr:
    if v.kind in ("dec", "opaque", "record"):
        raise Unsupported("a decimal, date or JSON value inside an object")
    expr, _ = _materialize(v)
    return expr.alias(key)


def _kept_of_filter(records: list[Record], outcome: Outcome, fallback: Fallback) -> list[int]:
    """Which of ``records`` a per-record filter kept (it returns the same record objects)."""
    kept, j, out = [], 0, outcome.records
    for i, record in enumerate(records):
        if j < len(out) and out[j] is record:
            kept.append(i)
            j += 1
    if j == len(out):
        return kept
    return [i for i, r in enumerate(records) if fallback([r]).records]


@functools.lru_cache(maxsize=256)
def _when_parsed(when: str) -> Any:
    return _parse(when)


def when_mask(when: str, batch: pa.RecordBatch) -> np.ndarray:
    """Which rows ``when`` chooses: the truthiness of the expression per record, as ``apply_step``."""
    flags = np.zeros(batch.num_rows, dtype=bool)
    exact = np.zeros(batch.num_rows, dtype=bool)
    parsed = _when_parsed(when)
    if parsed is not None and supported(parsed) and batch.num_rows:
        try:
            compiler = _compiler(batch.schema)
            plan = _plan(compiler, keep=union_truth(compiler.value(parsed)))
            assert plan.keep is not None
            frame = _frame(batch, plan.reads)
            result = _evaluate(frame, [plan.keep.alias(_KEEP), plan.exact.alias(_EXACT)])
            flags, exact = result[_KEEP].to_numpy().copy(), result[_EXACT].to_numpy()
        except Unsupported:
            pass
    rows = np.flatnonzero(~exact)
    if len(rows):
        evaluate = compile_inline(when) or jmespath.compile(when).search
        records = batch_to_records(batch.take(pa.array(rows)))
        flags[rows] = [truthy(evaluate(r)) for r in records]
    return flags


def apply_step_columnar(
    name: str,
    step: ColumnarStep | SqlColumnarStep | None,
    batch: pa.RecordBatch,
    fallback: Fallback,
    when: str | None = None,
) -> StepBatch:
    """``apply_step`` on a batch: ``step`` (None: per record) with ``when`` routing.

    Chosen rows go through the step, the others pass through unchanged. One-to-one
    results keep the rows' positions; otherwise the step's rows come first, then the
    passed-through ones. Failures are attributed to ``name`` at their input row.
    """

    def run(rows: pa.RecordBatch) -> StepBatch:
        return per_record(rows, fallback) if step is None else step.apply(rows, fallback)

    if when is None:
        result = run(batch)
        return StepBatch(result.batch, [f.at(name) for f in result.failures])
    mask = when_mask(when, batch)
    chosen = np.flatnonzero(mask)
    if not len(chosen):
        return StepBatch(batch)
    result = run(_rows(batch, pa.array(chosen, pa.int64())))
    failures = [
        f.at(name, int(chosen[f.index]) if 0 <= f.index < len(chosen) else None) for f in result.failures
    ]
    failed = {f.index for f in failures}
    kept = np.array([i for i in chosen if i not in failed], dtype=np.int64)
    others = np.flatnonzero(~mask)
    passed = _rows(batch, pa.array(others, pa.int64()))
    count = result.batch.num_rows
    if count != len(kept):  # not one-to-one: the step's rows first, then the passed-through ones
        parts = [Part(np.arange(count), result.batch), Part(np.arange(count, count + len(others)), passed)]
    else:
        parts = [Part(kept, result.batch), Part(others, passed)]
    return StepBatch(assemble(parts), failures)
