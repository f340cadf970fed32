"""Python engine: ``{"code"}`` defining ``transform(record)`` or ``transform_batch(records)``.

The code runs only in a sandbox worker (separate process, empty environment, resource
limits, seccomp allow-list). Inside, it sees a reduced set of builtins (no ``open``,
``exec``, ``eval``, ``compile``, ``input``) and may import only the modules in
:data:`ALLOWED_MODULES`, which the worker imports before the seccomp filter is loaded.
The builtins and the import guard give clear messages; the process fence is what holds.
"""

from __future__ import annotations

import ast
import builtins
import importlib
from collections.abc import Mapping
from typing import Any, cast

from integration_orchestrator.transforms.base import PER_RECORD_TYPES, Engine, LogicError, Program, RecordFailure

__all__ = ["ALLOWED_MODULES", "PythonEngine", "preload_modules"]

ALLOWED_MODULES = (
    "base64", "collections", "copy", "datetime", "decimal", "fractions", "functools", "hashlib",
    "itertools", "json", "math", "operator", "random", "re", "statistics", "string", "time",
    "unicodedata", "uuid",
)
_BLOCKED_BUILTINS = {
    "__import__", "breakpoint", "compile", "copyright", "credits", "eval", "exec", "exit",
    "globals", "help", "input", "license", "locals", "memoryview", "open", "quit", "vars",
}


def preload_modules() -> None:
    """Import the allowed modules now (a worker does this before seccomp forbids file access)."""
    for name in ALLOWED_MODULES:
        importlib.import_module(name)


def _guarded_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
    root = name.partition(".")[0]
    if level != 0 or root not in ALLOWED_MODULES:
        raise ImportError(
            f"import of {name!r} is not allowed in transformations (allowed: {', '.join(ALLOWED_MODULES)})"
        )
    return builtins.__import__(name, globals, locals, fromlist, level)


def _safe_builtins() -> dict[str, Any]:
    safe = {k: v for k, v in vars(builtins).items() if k not in _BLOCKED_BUILTINS}
    safe["__import__"] = _guarded_import
    return safe


def _code(logic: Mapping[str, Any]) -> str:
    code = logic.get("code")
    if not isinstance(code, str) or not code.strip():
        raise LogicError("code", "must be a non-empty Python source string")
    return code


def _defined_functions(tree: ast.Module) -> set[str]:
    return {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


class PythonEngine(Engine):
    language = "python"
    sandboxed = True
    needs_seccomp = True

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        """Parse (never run) the code and check it defines the entry function."""
        code = _code(logic)
        try:
            tree = ast.parse(code, filename="<transformation>")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            line = getattr(exc, "lineno", None)
            where = f" (line {line})" if line else ""
            raise LogicError("code", f"Python syntax error{where}: {getattr(exc, 'msg', exc)}") from None
        names = ("transform",) if transformation_type in PER_RECORD_TYPES else ("transform_batch", "transform")
        if not _defined_functions(tree) & set(names):
            raise LogicError("code", f"must define {' or '.join(f'def {n}(...)' for n in names)}")

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        namespace: dict[str, Any] = {"__builtins__": _safe_builtins(), "__name__": "transformation"}
        exec(compile(_code(logic), "<transformation>", "exec"), namespace)  # noqa: S102 - sandbox worker only
        if transformation_type not in PER_RECORD_TYPES:
            fn = namespace.get("transform_batch") or namespace.get("transform")
            if not callable(fn):
                raise LogicError("code", "must define def transform_batch(records) or def transform(records)")
            return cast(Program, fn)  # tenant code: its result is checked against the type's contract
        transform = namespace.get("transform")
        if not callable(transform):
            raise LogicError("code", "must define def transform(record)")

        def run(records: list[dict[str, Any]]) -> list[Any]:
            out: list[Any] = []
            for record in records:
                try:
                    out.append(transform(record))
                except MemoryError:
                    raise
                except Exception as exc:  # noqa: BLE001 - tenant code: every failure is the record's
                    out.append(RecordFailure(f"{type(exc).__name__}: {exc}"))
            return out

        return run
