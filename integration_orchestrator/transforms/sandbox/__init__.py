"""Sandboxed worker processes for tenant transformation code."""

from integration_orchestrator.transforms.sandbox.limits import ALLOW_WITHOUT_SECCOMP_ENV, SandboxSettings
from integration_orchestrator.transforms.sandbox.pool import (
    SandboxCrashed,
    SandboxTimeout,
    WorkerPool,
    get_pool,
    shutdown_pool,
)

__all__ = [
    "ALLOW_WITHOUT_SECCOMP_ENV",
    "SandboxCrashed",
    "SandboxSettings",
    "SandboxTimeout",
    "WorkerPool",
    "get_pool",
    "shutdown_pool",
]
