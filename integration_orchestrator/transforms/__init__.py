"""Transformation engines: compile an ``integration_transformations`` row once, apply it to batches.

::

    from integration_orchestrator.transforms import compile_transformation

    compiled = compile_transformation(row)        # TransformationDefinitionError names row/field
    outcome = compiled.apply(records)             # .records (per the type's contract), .errors
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "BATCH_TYPES": "base",
    "PER_RECORD_TYPES": "base",
    "Engine": "base",
    "LogicError": "base",
    "Program": "base",
    "RecordFailure": "base",
    "TransformOutcome": "base",
    "CompiledTransformation": "compiled",
    "compile_transformation": "compiled",
    "SandboxUnavailableError": "errors",
    "TransformationDefinitionError": "errors",
    "TransformationExecutionError": "errors",
    "TransformationRuntimeError": "errors",
    "TransformationSandboxError": "errors",
    "TransformationTimeoutError": "errors",
    "load_transformation_rows": "loader",
    "ENTRY_POINT_GROUP": "registry",
    "available_languages": "registry",
    "get_engine": "registry",
    "register_engine": "registry",
    "unregister_engine": "registry",
    "LANGUAGES": "row",
    "PERFORMANCE_TIERS": "row",
    "TRANSFORMATION_TYPES": "row",
    "TransformationRow": "row",
    "ALLOW_WITHOUT_SECCOMP_ENV": "sandbox",
    "WorkerPool": "sandbox",
    "get_pool": "sandbox",
    "shutdown_pool": "sandbox",
    "CaseResult": "testing",
    "run_test_cases": "testing",
}

if TYPE_CHECKING:
    from integration_orchestrator.transforms.base import (
        BATCH_TYPES,
        PER_RECORD_TYPES,
        Engine,
        LogicError,
        Program,
        RecordFailure,
        TransformOutcome,
    )
    from integration_orchestrator.transforms.compiled import (
        CompiledTransformation,
        compile_transformation,
    )
    from integration_orchestrator.transforms.errors import (
        SandboxUnavailableError,
        TransformationDefinitionError,
        TransformationExecutionError,
        TransformationRuntimeError,
        TransformationSandboxError,
        TransformationTimeoutError,
    )
    from integration_orchestrator.transforms.loader import load_transformation_rows
    from integration_orchestrator.transforms.registry import (
        ENTRY_POINT_GROUP,
        available_languages,
        get_engine,
        register_engine,
        unregister_engine,
    )
    from integration_orchestrator.transforms.row import (
        LANGUAGES,
        PERFORMANCE_TIERS,
        TRANSFORMATION_TYPES,
        TransformationRow,
    )
    from integration_orchestrator.transforms.sandbox import (
        ALLOW_WITHOUT_SECCOMP_ENV,
        WorkerPool,
        get_pool,
        shutdown_pool,
    )
    from integration_orchestrator.transforms.testing import CaseResult, run_test_cases


def __getattr__(name: str) -> Any:
    """Load exports on first use: a sandbox worker importing one engine stays light."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALLOW_WITHOUT_SECCOMP_ENV",
    "BATCH_TYPES",
    "ENTRY_POINT_GROUP",
    "LANGUAGES",
    "PERFORMANCE_TIERS",
    "PER_RECORD_TYPES",
    "TRANSFORMATION_TYPES",
    "CaseResult",
    "CompiledTransformation",
    "Engine",
    "LogicError",
    "Program",
    "RecordFailure",
    "SandboxUnavailableError",
    "TransformOutcome",
    "TransformationDefinitionError",
    "TransformationExecutionError",
    "TransformationRow",
    "TransformationRuntimeError",
    "TransformationSandboxError",
    "TransformationTimeoutError",
    "WorkerPool",
    "available_languages",
    "compile_transformation",
    "get_engine",
    "get_pool",
    "load_transformation_rows",
    "register_engine",
    "run_test_cases",
    "shutdown_pool",
    "unregister_engine",
]
