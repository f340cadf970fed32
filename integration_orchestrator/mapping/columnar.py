"""The mapping plan as Polars expressions over a record batch, with the guard design.

``compile_columnar`` compiles the same rows as :func:`~integration_orchestrator.mapping.compile_plan`
and keeps that per-record plan. ``ColumnarPlan.apply(batch)`` computes, per mapping, the
mapped column and an *exact* mask: the rows where the columnar value is certainly what the
per-record engine computes and no mapping fails (value on the canonical subset, see
:mod:`.columnar_values` and :mod:`.columnar_rules`). Those rows map in Polars; every other
row is converted to a record and run through the per-record plan, unchanged, and its output
or failure is merged back in row order. So messages, ``error_handling`` outcomes and failed
records are the per-record engine's by construction.

A plan with a mapping that has no columnar form (a bidirectional row with a round-trip
check, object/array with children, custom,
jmespath or transformation rules, a cast with ``format``, a path with indexes or
wildcards, targets that overlap) runs every row per record. So does a batch in which some
mapping cannot be read exactly (e.g. a path into an exact-JSON column) or a nested target
would hold a decimal, date or datetime (an exact-JSON column in the table shape).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pyarrow as pa

from integration_orchestrator.columnar import batch_to_records, logical_types
from integration_orchestrator.mapping.columnar_merge import assemble
from integration_orchestrator.mapping.columnar_rules import apply_rules, has_columnar_form, schema_mask
from integration_orchestrator.mapping.columnar_values import FALSE, TRUE, Col, coerce, literal, navigate, root
from integration_orchestrator.mapping.columnar_values import source_check as check_source
from integration_orchestrator.mapping.columns import data_type
from integration_orchestrator.mapping.compiler import compile_plan
from integration_orchestrator.mapping.inverse import invert_row
from integration_orchestrator.mapping.paths import compile_path
from integration_orchestrator.mapping.plan import MappingCounters, MappingPlan
from integration_orchestrator.mapping.types import resolve_timezone
from integration_orchestrator.model.failures import FailedRecord
from integration_orchestrator.model.rows import MappingRow

__all__ = ["ColumnarPlan", "MappedBatch", "compile_columnar"]


@dataclass
class MappedBatch:
    """The clean outputs (one column per top-level target), failures, counters, and the split."""

    batch: pa.RecordBatch
    failures: list[FailedRecord]
    counters: dict[str, MappingCounters]
    fast_rows: int = 0
    slow_rows: int = 0


@dataclass(frozen=True)
class _Spec:
    """What the columnar form of one field mapping needs from its row."""

    name: str
    source_keys: tuple[str, ...]
    target_keys: tuple[str, ...]
    required: bool
    has_default: bool
    default: Any
    source_type: str | None
    target_type: str | None
    rules: Mapping[str, Any] | None
    pre: Any
    post: Any


@dataclass
class _Compiled:
    """The expressions of one batch schema."""

    outputs: dict[str, pl.Expr]
    logical: dict[str, str]
    exact: pl.Expr
    missing: list[pl.Expr]
    defaulted: list[pl.Expr]


def compile_columnar(
    rows: Sequence[MappingRow | Mapping[str, Any]],
    *,
    direction: str = "inbound",
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
) -> ColumnarPlan:
    """The columnar plan of ``rows`` (same arguments and definition errors as ``compile_plan``)."""
    plan = compile_plan(rows, direction=direction, timezone=timezone, transformations=transformations)
    by_name = {
        r.mapping_name: r for r in (row if isinstance(row, MappingRow) else MappingRow.from_dict(row) for row in rows)
    }
    found: list[_Spec | None] = []
    for mapping in plan.mappings:
        row = by_name[mapping.name]
        if mapping.round_trip is not None:
            found.append(None)  # its round-trip check runs per record
            continue
        if direction == "outbound" and row.mapping_direction == "bidirectional":
            row = invert_row(row)
        found.append(_spec(row, mapping.default))
    specs = [s for s in found if s is not None]
    if len(specs) != len(found) or _overlapping([s.target_keys for s in specs]):
        return ColumnarPlan(plan, None, resolve_timezone(timezone))
    return ColumnarPlan(plan, specs, resolve_timezone(timezone))


def _spec(row: MappingRow, default: Any) -> _Spec | None:
    rules = row.transformation_rules
    if row.mapping_type not in ("field", "object") or (rules is not None and "children" in rules):
        return None
    if not has_columnar_form(rules):
        return None
    source, target = compile_path(row.source_path).keys, compile_path(row.target_path).keys
    if source is None or target is None or not all(isinstance(k, str) for k in (*source, *target)):
        return None
    validation = row.validation_rules or {}
    return _Spec(
        name=row.mapping_name,
        source_keys=tuple(str(k) for k in source),
        target_keys=tuple(str(k) for k in target),
        required=bool(row.is_required),
        has_default=row.default_value is not None,
        default=default,
        source_type=data_type(row, "source_data_type"),
        target_type=data_type(row, "target_data_type"),
        rules=rules,
        pre=validation.get("pre"),
        post=validation.get("post"),
    )


def _overlapping(targets: list[tuple[str, ...]]) -> bool:
    """Two targets equal, or one inside the other (the per-record writes interact)."""
    for i, a in enumerate(targets):
        for b in targets[i + 1:]:
            n = min(len(a), len(b))
            if a[:n] == b[:n]:
                return True
    return False


@dataclass
class ColumnarPlan:
    """A mapping plan applied to record batches; ``plan`` is the per-record plan it keeps."""

    plan: MappingPlan
    specs: list[_Spec] | None
    timezone: Any
    _cache: dict[pa.Schema, _Compiled | None] = field(default_factory=dict, repr=False)

    @property
    def columnar(self) -> bool:
        """Whether every mapping has a columnar form (else every row runs per record)."""
        return self.specs is not None

    @property
    def target_columns(self) -> list[str]:
        """The top-level target fields, in the order the plan first writes them."""
        names: dict[str, None] = {}
        for mapping in self.plan.mappings:
            keys = compile_path(mapping.target_path).keys or ()
            if keys and isinstance(keys[0], str):
                names.setdefault(keys[0])
        return list(names)

    def apply(self, batch: pa.RecordBatch) -> MappedBatch:
        """Map ``batch``: clean rows in Polars, the others through the per-record plan."""
        compiled = self._compiled(batch.schema)
        n = batch.num_rows
        if compiled is None or n == 0:
            return self._merge(batch, None, list(range(n)), {})
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        result = (
            frame.lazy()
            .with_row_index("__row")
            .select(
                pl.col("__row"),
                compiled.exact.alias("__exact"),
                *[expr.alias(name) for name, expr in compiled.outputs.items()],
                *[e.alias(f"__m{i}") for i, e in enumerate(compiled.missing)],
                *[e.alias(f"__d{i}") for i, e in enumerate(compiled.defaulted)],
            )
            .collect()
        )
        exact = result.get_column("__exact")
        every = bool(exact.all())
        fast = result if every else result.filter(exact)
        slow = [] if every else result.get_column("__row").filter(~exact).to_list()
        names = [s.name for s in self.specs or []]
        counts = {
            name: (int(fast.get_column(f"__m{i}").sum()), int(fast.get_column(f"__d{i}").sum()), fast.height)
            for i, name in enumerate(names)
        }
        return self._merge(batch, (fast, compiled), slow, counts)

    def _merge(
        self,
        batch: pa.RecordBatch,
        fast: tuple[pl.DataFrame, _Compiled] | None,
        slow: list[int],
        counts: dict[str, tuple[int, int, int]],
    ) -> MappedBatch:
        records = batch_to_records(batch.take(pa.array(slow, pa.int64()))) if slow else []
        slow_result = self.plan.apply_batch(records)
        failures = [
            FailedRecord(slow[i], records[i], "; ".join(str(e) for e in r.errors),
                         {"errors": [e.as_dict() for e in r.errors]}, step="mappings")
            for i, r in slow_result.failed
        ]
        counters = {}
        for name, counter in slow_result.counters.items():
            missing, defaulted, total = counts.get(name, (0, 0, 0))
            counter.missing += missing
            counter.defaulted += defaulted
            counter.written += total - missing - defaulted
            counters[name] = counter
        targets = self._nested_targets()
        slow_outputs = [(slow[i], _declared(r.output, targets)) for i, r in enumerate(slow_result.results) if r.ok]
        fast_rows = 0 if fast is None else fast[0].height
        out = assemble(self.target_columns, fast, slow_outputs)
        return MappedBatch(out, failures, counters, fast_rows=fast_rows, slow_rows=len(slow))

    def _nested_targets(self) -> list[tuple[str | int, ...]]:
        keys = [compile_path(m.target_path).keys or () for m in self.plan.mappings]
        return [k for k in keys if len(k) > 1]

    def _compiled(self, schema: pa.Schema) -> _Compiled | None:
        if schema not in self._cache:
            self._cache[schema] = None if self.specs is None else _compile_schema(self.specs, schema, self.timezone)
        return self._cache[schema]


def _declared(output: dict[str, Any], targets: list[tuple[str | int, ...]]) -> dict[str, Any]:
    """``output`` with every nested target field the plan declares (null when not written)
    in the objects that exist: the table shape is the plan's, whichever rows wrote what."""
    for keys in targets:
        node: Any = output
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) and isinstance(key, str) else None
        if isinstance(node, dict) and isinstance(keys[-1], str):
            node.setdefault(keys[-1], None)
    return output


def _compile_schema(specs: list[_Spec], schema: pa.Schema, tz: Any) -> _Compiled | None:
    frame = pl.from_arrow(schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    logical = logical_types(schema)
    record = root(dict(frame.schema), logical)
    tree: dict[str, Any] = {}
    out_logical: dict[str, str] = {}
    exact, missing, defaulted = TRUE, [], []
    for spec in specs:
        node = navigate(record, spec.source_keys)
        value = None if node is None else node.col()
        if node is None or value is None:
            return None
        col = _pipeline(value, spec, tz)
        absent = ~node.present | node.expr.is_null()
        absent_value, absent_ok, default_logical = _absent(spec, col)
        nested = len(spec.target_keys) > 1
        if nested and (col.logical or default_logical or col.kind in ("date", "ts", "adt", "json")):
            return None  # a nested decimal/date/datetime is exact JSON in the table shape
        exact = exact & pl.when(absent).then(absent_ok).otherwise(col.ok.fill_null(False))
        written = node.present | pl.lit(spec.has_default)
        _place(tree, spec.target_keys, pl.when(absent).then(absent_value).otherwise(col.expr), written)
        if len(spec.target_keys) == 1 and (col.logical or default_logical):
            out_logical[spec.target_keys[0]] = str(col.logical or default_logical)
        missing.append(~node.present & pl.lit(not spec.has_default))
        defaulted.append(absent & pl.lit(spec.has_default))
    outputs = {name: _build(item) for name, item in tree.items()}
    return _Compiled(outputs, out_logical, exact, missing, defaulted)


def _pipeline(col: Col, spec: _Spec, tz: Any) -> Col:
    """source check -> pre -> rules -> coercion -> post, as in ``steps.value_pipeline``."""
    col = check_source(col, spec.source_type)
    if spec.pre is not None:
        col = schema_mask(col, spec.pre)
    col = apply_rules(col, spec.rules, tz)
    col = coerce(col, spec.target_type, tz)
    if spec.post is not None:
        col = schema_mask(col, spec.post)
    if col.kind == "other":
        return Col(pl.lit(None), FALSE, "other")
    return col


def _absent(spec: _Spec, col: Col) -> tuple[pl.Expr, pl.Expr, str | None]:
    """The value written for a missing/null source, whether that row can be exact, and
    the default's logical type when the column takes it."""
    if spec.required:
        return pl.lit(None), FALSE, None
    if not spec.has_default:
        return pl.lit(None), TRUE, None
    default = literal(spec.default)
    if default is None:
        return pl.lit(None), FALSE, None
    if col.kind in ("null", "other"):
        return default.expr, TRUE, default.logical
    if col.kind != default.kind or col.logical != default.logical:
        return pl.lit(None), FALSE, None
    return default.expr, TRUE, None


def _place(tree: dict[str, Any], keys: tuple[str, ...], expr: pl.Expr, written: pl.Expr) -> None:
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = (expr, written)


def _build(item: Any) -> pl.Expr:
    """A leaf's expression, or a struct of the children valid where any child was written."""
    if isinstance(item, tuple):
        leaf: pl.Expr = item[0]
        return leaf
    children = [(name, _build(child), _written(child)) for name, child in item.items()]
    any_written = pl.any_horizontal([w for _, _, w in children])
    return pl.when(any_written).then(pl.struct([e.alias(name) for name, e, _ in children]))


def _written(item: Any) -> pl.Expr:
    if isinstance(item, tuple):
        flag: pl.Expr = item[1]
        return flag
    return pl.any_horizontal([_written(child) for child in item.values()])
