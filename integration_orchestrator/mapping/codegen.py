"""Generated field steps: one small Python function per field mapping.

For a field mapping whose source and target paths are singular and made of names only
(the common case), the step is generated as Python source with the reads, the writes and
only the stages the mapping has, so a step costs about what hand-written code costs.
Keys and functions are passed as bound names, never pasted into the source text.
Semantics are exactly those of ``steps._field_step`` (tested against it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from integration_orchestrator.mapping.errors import FieldFailure
from integration_orchestrator.mapping.paths import MISSING, write_value
from integration_orchestrator.mapping.types import CoercionError

__all__ = ["generated_field_step"]

Step = Callable[[Any, dict[str, Any]], "str | None"]


def _read_lines(count: int) -> list[str]:
    chain = "".join(f"[s{i}]" for i in range(count))
    return [
        "    try:",
        f"        value = source{chain}",
        "    except (KeyError, TypeError):",
        "        value = MISSING",
    ]


def _write_lines(count: int, indent: str) -> list[str]:
    if count == 1:
        return [f"{indent}out[t0] = result"]
    if count == 2:
        return [
            f"{indent}node = out.get(t0)",
            f"{indent}if node is None:",
            f"{indent}    out[t0] = {{t1: result}}",
            f"{indent}elif type(node) is dict:",
            f"{indent}    node[t1] = result",
            f"{indent}else:",
            f"{indent}    write_any(out, result)",
        ]
    return [f"{indent}write_any(out, result)"]


def generated_field_step(
    *,
    source_keys: tuple[str, ...],
    target_keys: tuple[str, ...],
    target_path: str,
    absent: Callable[[Any, dict[str, Any]], str | None],
    before: Callable[[Any], Any] | None,
    coerce: Callable[[Any], Any] | None,
    post: Callable[[Any], Any] | None,
    tracer: set[str] | None,
) -> Step:
    """The step function for a name-only field mapping (see the module docstring)."""

    def write_any(out: dict[str, Any], value: Any) -> None:
        try:
            write_value(out, target_keys, value)
        except TypeError as exc:
            raise FieldFailure(f"cannot write target path `{target_path}`: {exc}", value) from None

    namespace: dict[str, Any] = {
        "MISSING": MISSING,
        "absent": absent,
        "before": before,
        "coerce": coerce,
        "post": post,
        "tracer": tracer,
        "write_any": write_any,
        "CoercionError": CoercionError,
        "FieldFailure": FieldFailure,
    }
    namespace.update({f"s{i}": key for i, key in enumerate(source_keys)})
    namespace.update({f"t{i}": key for i, key in enumerate(target_keys)})
    lines = ["def step(source, out):", *_read_lines(len(source_keys))]
    lines += ["    if value is None or value is MISSING:", "        return absent(value, out)"]
    body = ["result = value"]
    if before is not None:
        body.append("result = before(result)")
    if coerce is not None:
        body.append("if result is not None:")
        body.append("    result = coerce(result)")
    if post is not None:
        body.append("result = post(result)")
    if before is None and coerce is None and post is None:
        lines += [f"    {line}" for line in body] + [*_write_lines(len(target_keys), "    "), "    return None"]
    else:
        lines += ["    try:"] + [f"        {line}" for line in body] + _write_lines(len(target_keys), "        ")
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
    exec(compile("\n".join(lines), f"<mapping step {target_path}>", "exec"), namespace)  # noqa: S102 - source built from fixed fragments
    return namespace["step"]
