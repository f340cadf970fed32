"""Compiling ``integration_mappings`` rows into a :class:`MappingPlan`.

``compile_plan`` is strict (raises the first :class:`MappingDefinitionError`);
``compile_plan_tolerant`` returns the plan of the valid mappings and every error, so one
bad row never hides the others; ``validate_mappings`` checks every row in every
direction it runs in (for ``integration-orchestrator validate``).

Nested mappings: an ``object``/``array`` row lists its children (names or ids) in
``transformation_rules["children"]``. Children are compiled into their parent and are
not applied at the top level; their own ``mapping_direction`` is ignored (they follow the
parent). Unknown children and cycles are definition errors of the parent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.errors import ConfigurationError
from integration_orchestrator.mapping.columns import (
    data_type,
    definition_error,
    schema_check,
    typed_default,
    validation_schemas,
    writer,
)
from integration_orchestrator.mapping.errors import FieldFailure, MappingDefinitionError
from integration_orchestrator.mapping.inverse import invert_row, round_trip_reason
from integration_orchestrator.mapping.paths import PathSyntaxError, compile_path
from integration_orchestrator.mapping.plan import CompiledMapping, MappingPlan
from integration_orchestrator.mapping.roundtrip import round_trip_checked
from integration_orchestrator.mapping.rules import RuleContext, RuleDefinitionError, compile_rules
from integration_orchestrator.mapping.steps import StepParts, build_step
from integration_orchestrator.mapping.transformation_rule import CompiledOnce
from integration_orchestrator.mapping.types import coercer, resolve_timezone, source_checker
from integration_orchestrator.model.enums import MAPPING_DIRECTIONS, MAPPING_ERROR_HANDLING, MAPPING_TYPES
from integration_orchestrator.model.rows import MappingRow

__all__ = [
    "compile_mapping",
    "compile_plan",
    "compile_plan_tolerant",
    "validate_mappings",
]

RowLike = MappingRow | Mapping[str, Any]


def compile_plan(
    rows: Sequence[RowLike],
    *,
    direction: str = "inbound",
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
) -> MappingPlan:
    """The plan of ``rows`` for ``direction``; raises the first MappingDefinitionError.

    ``rows``: :class:`MappingRow` or dicts with the seed's columns, in application order.
    ``timezone``: IANA name given to naive datetimes (the config's ``timezone``).
    ``transformations``: ``integration_transformations`` by id (str) for ``transformation``
    rules and ``custom`` mappings -- compiled (``compile_transformation(row)``) or the raw
    rows, which are then compiled here (once each).
    """
    plan, errors = compile_plan_tolerant(rows, direction=direction, timezone=timezone, transformations=transformations)
    if errors:
        raise errors[0]
    return plan


def compile_plan_tolerant(
    rows: Sequence[RowLike],
    *,
    direction: str = "inbound",
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
) -> tuple[MappingPlan, list[MappingDefinitionError]]:
    """``(plan of the valid mappings, errors of the invalid ones)``, in row order."""
    compiler = _Compiler(rows, direction, timezone, transformations)
    mappings: list[CompiledMapping] = []
    errors = list(compiler.errors)
    for row in compiler.top_level():
        try:
            mappings.append(compiler.compile_checked(row, direction))
        except MappingDefinitionError as exc:
            errors.append(exc)
    return MappingPlan(mappings, direction=direction), errors


def validate_mappings(
    rows: Sequence[RowLike],
    *,
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
) -> list[MappingDefinitionError]:
    """Every definition error of ``rows``, in both directions (each message once)."""
    seen: set[str] = set()
    found: list[MappingDefinitionError] = []
    for direction in ("inbound", "outbound"):
        _, errors = compile_plan_tolerant(rows, direction=direction, timezone=timezone, transformations=transformations)
        for error in errors:
            if str(error) not in seen:
                seen.add(str(error))
                found.append(error)
    return found


def compile_mapping(
    rows: Sequence[RowLike],
    mapping: Any,
    *,
    timezone: str | None = "UTC",
    transformations: Mapping[str, Any] | None = None,
    tracer: set[str] | None = None,
    direction: str | None = None,
) -> tuple[MappingPlan, tuple[str, ...]]:
    """A plan of one mapping alone (with its children), for mapping tests.

    ``mapping`` is the row's id or name; ``rows`` are the config's rows (for children).
    ``direction`` (``None``: the row's own) chooses how it runs: an outbound row runs
    outbound, an inbound row inbound, a bidirectional row either (inbound by default;
    outbound is its derived inverse), with its round-trip check when its inverse is not
    exact. With ``tracer``, the plan records the behaviours it exercises into it;
    returns ``(plan, behaviours of the mapping)``.
    """
    compiler = _Compiler(rows, "inbound", timezone, transformations, tracer=tracer)
    row = compiler.find(mapping)
    if compiler.errors:
        own = [e for e in compiler.errors if e.row_id == row.id and e.name == row.mapping_name]
        if own:
            raise own[0]
    own_direction = "outbound" if row.mapping_direction == "outbound" else "inbound"
    wanted = direction or own_direction
    if wanted not in ("inbound", "outbound"):
        raise ConfigurationError(f"mapping direction must be inbound or outbound, not {wanted!r}")
    if wanted != own_direction and row.mapping_direction != "bidirectional":
        raise definition_error(
            row, "mapping_direction", f"an {row.mapping_direction} mapping cannot be tested {wanted}"
        )
    compiler.direction = wanted
    compiled = compiler.compile_checked(row, wanted)
    return MappingPlan([compiled], direction=wanted), compiled.behaviours


@dataclass
class _Compiler:
    raw_rows: Sequence[RowLike]
    direction: str
    timezone: str | None
    transformations: Mapping[str, Any] | None
    tracer: set[str] | None = None
    rows: list[MappingRow] = field(init=False)
    errors: list[MappingDefinitionError] = field(init=False, default_factory=list)
    tz: dt.tzinfo = field(init=False)
    _by_key: dict[str, MappingRow] = field(init=False, default_factory=dict)
    _children: dict[int, list[MappingRow]] = field(init=False, default_factory=dict)
    _is_child: set[int] = field(init=False, default_factory=set)
    _bad: set[int] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if self.direction not in ("inbound", "outbound"):
            raise ConfigurationError(f"mapping direction must be inbound or outbound, not {self.direction!r}")
        try:
            self.tz = resolve_timezone(self.timezone)
        except ValueError as exc:
            raise ConfigurationError(f"timezone: {exc}") from None
        self.rows = [row if isinstance(row, MappingRow) else MappingRow.from_dict(row) for row in self.raw_rows]
        self.transformations = CompiledOnce(self.transformations or {})
        for row in self.rows:
            try:
                _check_enums(row)
            except MappingDefinitionError as exc:
                self._fail(row, exc)
        self._index()
        for row in self.rows:
            self._resolve_children(row)
        for row in self.rows:
            self._check_cycle(row)

    def _fail(self, row: MappingRow, error: MappingDefinitionError) -> None:
        self._bad.add(id(row))
        self.errors.append(error)

    def _index(self) -> None:
        for row in self.rows:
            for key in (row.mapping_name, str(row.id) if row.id is not None else None):
                if key is None:
                    continue
                other = self._by_key.get(key)
                if other is not None and other is not row and key == row.mapping_name:
                    self._fail(
                        row, definition_error(row, "mapping_name", f"duplicate mapping_name (also id {other.id})")
                    )
                    continue
                self._by_key.setdefault(key, row)

    def find(self, mapping: Any) -> MappingRow:
        row = self._by_key.get(str(mapping))
        if row is None:
            raise MappingDefinitionError(str(mapping), "no such mapping among the config's rows")
        return row

    def _resolve_children(self, row: MappingRow) -> None:
        rules = row.transformation_rules
        refs = rules.get("children") if isinstance(rules, Mapping) else None
        if refs is None:
            return
        if row.mapping_type not in ("object", "array"):
            self._fail(
                row,
                definition_error(
                    row,
                    "transformation_rules.children",
                    f"only object and array mappings have children, this is a {row.mapping_type} mapping",
                ),
            )
            return
        if not isinstance(refs, list) or not refs:
            self._fail(
                row,
                definition_error(
                    row, "transformation_rules.children", "must be a non-empty list of mapping names or ids"
                ),
            )
            return
        children: list[MappingRow] = []
        for ref in refs:
            child = self._by_key.get(str(ref))
            if child is None:
                self._fail(
                    row,
                    definition_error(
                        row, "transformation_rules.children", f"no active mapping named {ref!r} in this config"
                    ),
                )
                return
            children.append(child)
            self._is_child.add(id(child))
        self._children[id(row)] = children

    def _check_cycle(self, row: MappingRow) -> None:
        path: list[MappingRow] = []

        def visit(current: MappingRow) -> bool:
            if any(current is seen for seen in path):
                names = " -> ".join(r.mapping_name for r in [*path[path.index(current):], current])
                self._fail(
                    row, definition_error(row, "transformation_rules.children", f"cycle in nested mappings: {names}")
                )
                return True
            path.append(current)
            found = any(visit(child) for child in self._children.get(id(current), []))
            path.pop()
            return found

        if id(row) not in self._bad:
            visit(row)

    def top_level(self) -> list[MappingRow]:
        wanted = (self.direction, "bidirectional")
        return [
            row
            for row in self.rows
            if id(row) not in self._is_child and id(row) not in self._bad and row.mapping_direction in wanted
        ]

    def compile_checked(self, row: MappingRow, direction: str) -> CompiledMapping:
        """``row`` compiled for ``direction``; a bidirectional row whose inverse is not
        exact gets the round-trip check (roundtrip.py)."""
        invert = direction == "outbound" and row.mapping_direction == "bidirectional"
        compiled = self.compile(row, invert=invert)
        if row.mapping_direction != "bidirectional":
            return compiled
        reason = round_trip_reason(row)
        if reason is None:
            return compiled
        tracer, self.tracer = self.tracer, None  # the way back must not count as coverage
        try:
            back = self.compile(row, invert=not invert)
        finally:
            self.tracer = tracer
        source_type = data_type(row, "target_data_type" if invert else "source_data_type")
        validation = row.validation_rules if isinstance(row.validation_rules, Mapping) else {}
        return round_trip_checked(compiled, back, source_type=source_type, reason=reason, tz=self.tz,
                                  sensitive=bool(validation.get("mask")))

    def compile(self, row: MappingRow, *, invert: bool) -> CompiledMapping:
        for child in self._children.get(id(row), []):
            if id(child) in self._bad:
                raise definition_error(
                    row, "transformation_rules.children", f"child mapping `{child.mapping_name}` is invalid"
                )
        _check_enums(row)
        original = row
        if invert:
            row = invert_row(row)
        elif row.mapping_direction == "bidirectional":
            # A bidirectional row that cannot be inverted is rejected in both directions.
            invert_row(row)
            try:
                compile_path(row.source_path, writable=True)
            except PathSyntaxError as exc:
                raise definition_error(row, "source_path", f"cannot be inverted: {exc}") from None
        try:
            return self._compile_row(row, self._compiled_children(original, invert=invert))
        except MappingDefinitionError as exc:
            if not invert:
                raise
            reason = f"cannot be inverted: {exc.reason} (in the derived outbound mapping)"
            raise definition_error(original, _SWAPPED.get(exc.field or "", exc.field or ""), reason) from None

    def _compile_row(self, row: MappingRow, children: tuple[CompiledMapping, ...] | None) -> CompiledMapping:
        try:
            source = compile_path(row.source_path)
        except PathSyntaxError as exc:
            raise definition_error(row, "source_path", str(exc)) from None
        try:
            target = compile_path(row.target_path, writable=True)
        except PathSyntaxError as exc:
            raise definition_error(row, "target_path", str(exc)) from None
        source_type, target_type = data_type(row, "source_data_type"), data_type(row, "target_data_type")
        tracer = self.tracer
        behaviours = ["value present", "value missing or null"]
        is_array = row.mapping_type == "array"
        default = typed_default(row, None if is_array else target_type, self.tz)
        has_default = row.default_value is not None
        if row.error_handling == "default" and not has_default:
            raise definition_error(row, "error_handling", "`default` needs a default_value")
        pre, post = validation_schemas(row)
        context = RuleContext(
            source_type=None if is_array and source_type == "array" else source_type,
            timezone=self.tz,
            transformations=self.transformations,
            tracer=tracer,
        )
        rules = self._rules(row, context)
        behaviours.extend(context.behaviours)
        if target_type is not None and not (is_array and target_type == "array"):
            behaviours.append("coercion failure")
        pre_fn = _traced_check(schema_check(pre, "pre"), tracer, "pre-validation failure") if pre is not None else None
        post_fn = (
            _traced_check(schema_check(post, "post"), tracer, "post-validation failure") if post is not None else None
        )
        behaviours.extend(
            name for name, v in (("pre-validation failure", pre), ("post-validation failure", post)) if v is not None
        )
        write = writer(target.keys or (), row.target_path)
        parts = StepParts(
            name=row.mapping_name,
            mapping_type=row.mapping_type,
            source_path=row.source_path,
            read=source.reader(),
            write=write,
            required=bool(row.is_required),
            has_default=has_default,
            default=default,
            source_check=source_checker(source_type),
            source_type=source_type,
            pre=pre_fn,
            rules=rules,
            coerce=coercer(target_type, self.tz),
            target_type=target_type,
            post=post_fn,
            children=children,
            tracer=tracer,
            source_keys=source.keys,
            target_keys=target.keys or (),
            target_path=row.target_path,
        )
        step, inline = build_step(parts)
        return CompiledMapping(
            name=row.mapping_name,
            row_id=row.id,
            source_path=row.source_path,
            target_path=row.target_path,
            error_handling=row.error_handling,
            default=default,
            step=step,
            inline=inline,
            write=write,
            behaviours=(*behaviours, f"error policy {row.error_handling}"),
            tracer=tracer,
        )

    def _rules(self, row: MappingRow, context: RuleContext) -> Any:
        rules = row.transformation_rules
        if row.mapping_type == "custom" and (not isinstance(rules, Mapping) or rules.get("type") != "transformation"):
            raise definition_error(
                row,
                "transformation_rules.type",
                'a custom mapping needs a `transformation` rule ({"type": "transformation", "transformation_id": ...})',
            )
        if rules is not None and not isinstance(rules, Mapping):
            raise definition_error(row, "transformation_rules", "must be an object with a `type`")
        try:
            return compile_rules(rules, context)
        except RuleDefinitionError as exc:
            raise definition_error(row, exc.where, exc.reason) from None

    def _compiled_children(self, row: MappingRow, *, invert: bool) -> tuple[CompiledMapping, ...] | None:
        """The parent's children, compiled (inverted with an inverted parent)."""
        children = self._children.get(id(row))
        if children is None:
            return None
        compiled: list[CompiledMapping] = []
        for child in children:
            try:
                compiled.append(self.compile(child, invert=invert))
            except MappingDefinitionError as exc:
                raise definition_error(
                    row, "transformation_rules.children", f"child mapping `{child.mapping_name}`: {exc}"
                ) from None
        return tuple(compiled)


# Columns of a derived outbound row, named as in the original row.
_SWAPPED = {
    "source_path": "target_path",
    "target_path": "source_path",
    "source_data_type": "target_data_type",
    "target_data_type": "source_data_type",
    "validation_rules.pre": "validation_rules.post",
    "validation_rules.post": "validation_rules.pre",
}


def _check_enums(row: MappingRow) -> None:
    enums = (("mapping_type", MAPPING_TYPES), ("error_handling", MAPPING_ERROR_HANDLING),
             ("mapping_direction", MAPPING_DIRECTIONS))
    for column, allowed in enums:
        value = getattr(row, column)
        if value not in allowed:
            raise definition_error(row, column, f"{value!r} is not one of {', '.join(sorted(allowed))}")
    for column in ("source_path", "target_path", "mapping_name"):
        if not isinstance(getattr(row, column), str) or not getattr(row, column).strip():
            raise definition_error(row, column, "must be a non-empty string")


def _traced_check(function: Any, tracer: set[str] | None, name: str) -> Any:
    if tracer is None:
        return function

    def run(value: Any) -> Any:
        try:
            return function(value)
        except FieldFailure:
            tracer.add(name)
            raise

    return run
