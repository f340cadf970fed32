"""Transformation engines: compile an ``integration_transformations`` row once, apply it to batches.

::

    from integration_orchestrator.transforms import compile_transformation

    compiled = compile_transformation(row)        # TransformationDefinitionError names row/field
    outcome = compiled.apply(records)             # .records (per the type's contract), .errors
"""

from integration_orchestrator.transforms.base import (
    BATCH_TYPES,
    PER_RECORD_TYPES,
    Engine,
    Program,
    RecordError,
    RecordFailure,
    TransformOutcome,
)
from integration_orchestrator.transforms.compiled import CompiledTransformation, compile_transformation
from integration_orchestrator.transforms.errors import (
    LogicError,
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
from integration_orchestrator.transforms.row import LANGUAGES, PERFORMANCE_TIERS, TRANSFORMATION_TYPES, TransformationRow
from integration_orchestrator.transforms.sandbox import ALLOW_WITHOUT_SECCOMP_ENV, WorkerPool, get_pool, shutdown_pool

__all__ = [
    "ALLOW_WITHOUT_SECCOMP_ENV",
    "BATCH_TYPES",
    "ENTRY_POINT_GROUP",
    "LANGUAGES",
    "PERFORMANCE_TIERS",
    "PER_RECORD_TYPES",
    "TRANSFORMATION_TYPES",
    "CompiledTransformation",
    "Engine",
    "LogicError",
    "Program",
    "RecordError",
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
    "shutdown_pool",
    "unregister_engine",
]
