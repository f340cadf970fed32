"""Building the step closure of one mapping (field, object, array, custom).

A step reads the source value, handles absence, runs the value pipeline (source type
check, pre-validation, rules, target coercion, post-validation) and writes the result.
Order for a present value::

    source type check -> validation_rules.pre -> transformation_rules
        -> target_data_type coercion -> validation_rules.post -> write

Absent (path matches nothing) or null source value:

- ``is_required``: an error ("required value is missing"/"is null"), then ``error_handling``;
- else a ``default_value``: the default is written (it is already of the target type);
- else missing: nothing is written; null: null is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from integration_orchestrator.compose import compose
from integration_orchestrator.jsontypes import json_type
from integration_orchestrator.mapping.codegen import InlineParts, generated_field_step
from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.paths import MISSING
from integration_orchestrator.mapping.plan import CompiledMapping, NestedDrop, NestedFailure, run_mappings
from integration_orchestrator.mapping.types import CoercionError

__all__ = ["StepParts", "build_step", "value_pipeline"]

ValueFunction = Callable[[Any], Any]


@dataclass
class StepParts:
    """Everything a step needs, compiled."""

    name: str
    mapping_type: str
    source_path: str
    read: Callable[[Any], Any]
    write: Callable[[dict[str, Any], Any], None]
    required: bool
    has_default: bool
    default: Any
    source_check: Callable[[Any], bool] | None
    source_type: str | None
    pre: ValueFunction | None
    rules: ValueFunction | None
    coerce: ValueFunction | None
    target_type: str | None
    post: ValueFunction | None
    children: tuple[CompiledMapping, ...] | None = None
    tracer: set[str] | None = None
    source_keys: tuple[str | int, ...] | None = None
    target_keys: tuple[str | int, ...] = ()
    target_path: str = ""


def _checked_source(check: Callable[[Any], bool], source_type: str) -> ValueFunction:
    def run(value: Any) -> Any:
        if not check(value):
            raise FieldFailure(f"expected source type {source_type}, got {json_type(value)}", value)
        return value

    return run


def _coercion(coerce: ValueFunction, target_type: str, tracer: set[str] | None) -> ValueFunction:
    def run(value: Any) -> Any:
        if value is None:
            return None
        try:
            return coerce(value)
        except CoercionError as exc:
            if tracer is not None:
                tracer.add("coercion failure")
            raise FieldFailure(str(exc), value) from None

    return run


def value_pipeline(parts: StepParts, *, element: bool = False) -> ValueFunction | None:
    """The composed value function (``None``: identity). ``element``: per array element."""
    functions: list[ValueFunction] = []
    if parts.source_check is not None and parts.source_type and (not element or parts.source_type != "array"):
        functions.append(_checked_source(parts.source_check, parts.source_type))
    if parts.pre is not None and not element:
        functions.append(parts.pre)
    if parts.rules is not None:
        functions.append(parts.rules)
    if parts.coerce is not None and parts.target_type and (not element or parts.target_type != "array"):
        functions.append(_coercion(parts.coerce, parts.target_type, parts.tracer))
    if parts.post is not None and not element:
        functions.append(parts.post)
    return compose(functions)


def _absent_handler(parts: StepParts) -> Callable[[Any, dict[str, Any]], str | None]:
    write, default, tracer = parts.write, parts.default, parts.tracer
    required, has_default = parts.required, parts.has_default

    def absent(value: Any, out: dict[str, Any]) -> str | None:
        if tracer is not None:
            tracer.add("value missing or null")
        if required:
            state = "missing" if value is MISSING else "null"
            raise FieldFailure(f"required value is {state}", None if value is MISSING else value)
        if has_default:
            write(out, default)
            return "defaulted"
        if value is MISSING:
            return "missing"
        write(out, None)
        return None

    return absent


def build_step(parts: StepParts) -> tuple[Callable[[Any, dict[str, Any]], str | None], InlineParts | None]:
    """The step closure for ``parts`` according to its mapping type, and its inline
    parts when the plan function may inline it (name-only field mapping, no tracer)."""
    if parts.mapping_type == "array":
        return _array_step(parts), None
    if parts.mapping_type == "object" and parts.children is not None:
        return _object_step(parts), None
    return _field_step(parts)


def _names(keys: tuple[str | int, ...] | None) -> tuple[str, ...] | None:
    """``keys`` when it is a non-empty path of names only (no list indexes)."""
    names = tuple(k for k in keys or () if isinstance(k, str))
    return names if names and len(names) == len(keys or ()) else None


def _field_step(parts: StepParts) -> tuple[Callable[[Any, dict[str, Any]], str | None], InlineParts | None]:
    read, write, absent, tracer = parts.read, parts.write, _absent_handler(parts), parts.tracer
    before_functions = [f for f in (_source_check(parts), parts.pre, parts.rules) if f is not None]
    if tracer is not None:
        before_functions.insert(0, _mark(tracer, "value present"))
    before = compose(before_functions)
    coerce = parts.coerce if parts.target_type else None
    post = parts.post
    source_names, target_names = _names(parts.source_keys), _names(parts.target_keys)
    if source_names and target_names:
        inline = InlineParts(
            source_keys=source_names,
            target_keys=target_names,
            target_path=parts.target_path,
            absent=absent,
            before=before,
            coerce=coerce,
            post=post,
            write=write,
        )
        return generated_field_step(inline, tracer), inline if tracer is None else None
    if before is None and coerce is None and post is None:

        def copy_step(source: Any, out: dict[str, Any]) -> str | None:
            value = read(source)
            if value is None or value is MISSING:
                return absent(value, out)
            write(out, value)
            return None

        return copy_step, None

    def step(source: Any, out: dict[str, Any]) -> str | None:
        value = read(source)
        if value is None or value is MISSING:
            return absent(value, out)
        try:
            result = before(value) if before is not None else value
            if coerce is not None and result is not None:
                result = coerce(result)
            write(out, post(result) if post is not None else result)
        except CoercionError as exc:  # only the target coercion raises it (rules raise FieldFailure)
            if tracer is not None:
                tracer.add("coercion failure")
            raise FieldFailure(str(exc), value) from None
        except FieldFailure as failure:
            failure.value = value  # report the source value; the reason names the stage
            raise
        return None

    return step, None


def _mark(tracer: set[str], name: str) -> ValueFunction:
    def mark(value: Any) -> Any:
        tracer.add(name)
        return value

    return mark


def _object_step(parts: StepParts) -> Callable[[Any, dict[str, Any]], str | None]:
    read, write, absent, tracer = parts.read, parts.write, _absent_handler(parts), parts.tracer
    children = parts.children or ()
    before = compose([f for f in (_source_check(parts), parts.pre, parts.rules) if f is not None])
    after = parts.post

    def step(source: Any, out: dict[str, Any]) -> str | None:
        value = read(source)
        if value is None or value is MISSING:
            return absent(value, out)
        if tracer is not None:
            tracer.add("value present")
        if before is not None:
            value = before(value)
        if not isinstance(value, dict):
            raise FieldFailure(f"an object mapping needs an object, got {json_type(value)}", value)
        result = run_mappings(children, value)
        if result.dropped and result.drop_reason is not None:
            raise NestedDrop(_nested(result.drop_reason, parts.source_path))
        if result.errors:
            raise NestedFailure([_nested(e, parts.source_path) for e in result.errors])
        mapped = result.output
        write(out, after(mapped) if after is not None else mapped)
        return None

    return step


def _source_check(parts: StepParts) -> ValueFunction | None:
    if parts.source_check is None or not parts.source_type:
        return None
    return _checked_source(parts.source_check, parts.source_type)


def _nested(error: Any, prefix: str) -> Any:
    return type(error)(error.mapping, f"{prefix} / {error.path}", error.value, error.reason)


def _array_step(parts: StepParts) -> Callable[[Any, dict[str, Any]], str | None]:
    read, write, absent, tracer = parts.read, parts.write, _absent_handler(parts), parts.tracer
    children = parts.children
    element_fn = value_pipeline(parts, element=True)
    whole_check = parts.source_check if parts.source_type == "array" else None
    pre, post = parts.pre, parts.post
    coerce_whole = parts.target_type == "array"
    child_steps = tuple(child.step for child in children) if children is not None else None

    def step(source: Any, out: dict[str, Any]) -> str | None:
        value = read(source)
        if value is None or value is MISSING:
            return absent(value, out)
        if tracer is not None:
            tracer.add("value present")
        if not isinstance(value, list) or (whole_check is not None and not whole_check(value)):
            raise FieldFailure(f"an array mapping needs an array, got {json_type(value)}", value)
        if pre is not None:
            value = pre(value)
        mapped = None
        if element_fn is None and child_steps is not None:
            mapped = _map_objects_fast(value, child_steps)
        if mapped is None:
            mapped = _map_elements(value, element_fn, children, parts.source_path)
        if coerce_whole and not isinstance(mapped, list):  # pragma: no cover - always a list
            raise FieldFailure("array expected", mapped)
        write(out, post(mapped) if post is not None else mapped)
        return None

    return step


def _map_objects_fast(values: list[Any], steps: tuple[Any, ...]) -> list[Any] | None:
    """Every element an object and every child step succeeding: the mapped list.
    Otherwise ``None`` and :func:`_map_elements` does the work with error handling."""
    mapped: list[Any] = []
    append = mapped.append
    try:
        for item in values:
            if type(item) is not dict:
                return None
            out: dict[str, Any] = {}
            for step in steps:
                step(item, out)
            append(out)
    except (FieldFailure, NestedFailure, NestedDrop):
        return None
    return mapped


def _map_elements(
    values: list[Any], element_fn: ValueFunction | None, children: tuple[CompiledMapping, ...] | None, path: str
) -> list[Any]:
    """Map each element; the array mapping's own failure (first one) goes to its policy.

    Failures of child mappings are reported as they are (``NestedFailure``); a child
    with ``error_handling: skip`` drops that element only.
    """
    mapped: list[Any] = []
    child_errors: list[Any] = []
    for index, item in enumerate(values):
        try:
            if element_fn is not None and item is not None:
                item = element_fn(item)  # noqa: PLW2901 - the element becomes its mapped value
            if children is not None and not isinstance(item, dict):
                raise FieldFailure(f"array element is {json_type(item)}, expected an object", item)
        except FieldFailure as failure:
            raise FieldFailure(failure.reason, failure.value, f"{path}[{index}]") from None
        if children is None:
            mapped.append(item)
            continue
        out: dict[str, Any] = {}
        try:
            for child in children:
                child.step(item, out)
        except (FieldFailure, NestedFailure, NestedDrop):
            pass  # rare: run again below with per-mapping error handling (steps are pure)
        else:
            mapped.append(out)
            continue
        result = run_mappings(children, item)
        if result.dropped:
            continue
        if result.errors:
            child_errors.extend(_nested(e, f"{path}[{index}]") for e in result.errors)
            continue
        mapped.append(result.output)
    if child_errors:
        raise NestedFailure(child_errors)
    return mapped
