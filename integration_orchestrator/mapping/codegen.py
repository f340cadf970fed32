"""Generated Python for the hot path: field steps, and one function per plan.

For a field mapping whose source and target paths are singular and made of names only
(the common case), the step is generated as Python source with the reads, the writes and
only the stages the mapping has, so a step costs about what hand-written code costs.
A plan's whole record function is generated too: the generated field blocks inlined one
after the other (other mappings call their step), so applying a plan to a record that
maps cleanly is a single Python call. Any failure leaves the generated function; the
plan then re-runs the record mapping by mapping with error handling (steps are pure).

Keys and functions are bound names in the function's namespace, never pasted into the
source text. Semantics are exactly those of the closure steps (tested against them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.paths import MISSING
from integration_orchestrator.mapping.types import CoercionError

__all__ = ["InlineParts", "generated_field_step", "generated_plan_function"]

Step = Callable[[Any, dict[str, Any]], "str | None"]
PlanFunction = Callable[[Any, dict[str, Any], "list[tuple[int, str]] | None"], None]


@dataclass(frozen=True)
class InlineParts:
    """A name-only field mapping, ready to be generated."""

    source_keys: tuple[str, ...]
    target_keys: tuple[str, ...]
    target_path: str
    absent: Callable[[Any, dict[str, Any]], str | None]
    before: Callable[[Any], Any] | None
    coerce: Callable[[Any], Any] | None
    post: Callable[[Any], Any] | None
    write: Callable[[dict[str, Any], Any], None]


def _read(prefix: str, count: int, indent: str) -> list[str]:
    chain = "".join(f"[{prefix}s{i}]" for i in range(count))
    return [
        f"{indent}try:",
        f"{indent}    value = source{chain}",
        f"{indent}except (KeyError, TypeError):",
        f"{indent}    value = MISSING",
    ]


def _write(prefix: str, count: int, indent: str) -> list[str]:
    if count == 1:
        return [f"{indent}out[{prefix}t0] = result"]
    if count == 2:
        return [
            f"{indent}node = out.get({prefix}t0)",
            f"{indent}if node is None:",
            f"{indent}    out[{prefix}t0] = {{{prefix}t1: result}}",
            f"{indent}elif type(node) is dict:",
            f"{indent}    node[{prefix}t1] = result",
            f"{indent}else:",
            f"{indent}    {prefix}write(out, result)",
        ]
    return [f"{indent}{prefix}write(out, result)"]


def _pipeline(parts: InlineParts, prefix: str, indent: str) -> list[str]:
    lines = [f"{indent}result = value"]
    if parts.before is not None:
        lines.append(f"{indent}result = {prefix}before(result)")
    if parts.coerce is not None:
        lines += [f"{indent}if result is not None:", f"{indent}    result = {prefix}coerce(result)"]
    if parts.post is not None:
        lines.append(f"{indent}result = {prefix}post(result)")
    return lines + _write(prefix, len(parts.target_keys), indent)


def _bind(namespace: dict[str, Any], parts: InlineParts, prefix: str, *, unguarded: bool = False) -> None:
    """Bind the keys and functions of ``parts``; ``unguarded``: call guarded rules' inner
    function (a plan function raises on any failure and the record is re-run step by step)."""
    namespace.update({f"{prefix}s{i}": key for i, key in enumerate(parts.source_keys)})
    namespace.update({f"{prefix}t{i}": key for i, key in enumerate(parts.target_keys)})
    for name in ("absent", "before", "coerce", "post", "write"):
        function = getattr(parts, name)
        if unguarded and name in ("before", "post"):
            function = getattr(function, "__wrapped__", function)
        namespace[f"{prefix}{name}"] = function


def _build(lines: list[str], namespace: dict[str, Any], name: str, label: str) -> Any:
    namespace.update({"MISSING": MISSING, "CoercionError": CoercionError, "FieldFailure": FieldFailure})
    exec(compile("\n".join(lines), label, "exec"), namespace)  # noqa: S102 - source built from fixed fragments
    return namespace[name]


def generated_field_step(parts: InlineParts, tracer: set[str] | None) -> Step:
    """The step function of one name-only field mapping (errors as FieldFailure)."""
    namespace: dict[str, Any] = {"tracer": tracer}
    _bind(namespace, parts, "")
    lines = ["def step(source, out):", *_read("", len(parts.source_keys), "    ")]
    lines += ["    if value is None or value is MISSING:", "        return absent(value, out)"]
    if parts.before is None and parts.coerce is None and parts.post is None:
        lines += [*_pipeline(parts, "", "    "), "    return None"]
    else:
        lines += ["    try:", *_pipeline(parts, "", "        ")]
        lines += [
            "    except CoercionError as exc:",
            "        if tracer is not None:",
            "            tracer.add('coercion failure')",
            "        raise FieldFailure(str(exc), value) from None",
            "    except FieldFailure as failure:",
            "        failure.value = value",
            "        raise",
            "    return None",
        ]
    # The source above defines step(source, out) -> str | None.
    return cast(Step, _build(lines, namespace, "step", f"<mapping step {parts.target_path}>"))


def generated_plan_function(mappings: Sequence[Any]) -> PlanFunction:
    """One function ``(source, out, events)`` applying ``mappings`` in order.

    It raises on the first failure (FieldFailure, CoercionError, NestedFailure,
    NestedDrop) without error handling; ``events`` (when not None) receives
    ``(mapping index, event)`` for missing/defaulted values.
    """
    namespace: dict[str, Any] = {}
    lines = ["def apply(source, out, events):"]
    for index, mapping in enumerate(mappings):
        prefix = f"m{index}_"
        parts: InlineParts | None = mapping.inline
        if parts is None:
            namespace[f"{prefix}step"] = mapping.step
            lines += [
                f"    event = {prefix}step(source, out)",
                "    if event is not None and events is not None:",
                f"        events.append(({index}, event))",
            ]
            continue
        _bind(namespace, parts, prefix, unguarded=True)
        lines += _read(prefix, len(parts.source_keys), "    ")
        lines += [
            "    if value is None or value is MISSING:",
            f"        event = {prefix}absent(value, out)",
            "        if event is not None and events is not None:",
            f"            events.append(({index}, event))",
            "    else:",
            *_pipeline(parts, prefix, "        "),
        ]
    lines.append("    return None")
    return cast(PlanFunction, _build(lines, namespace, "apply", "<mapping plan>"))  # apply(source, out, events) above
