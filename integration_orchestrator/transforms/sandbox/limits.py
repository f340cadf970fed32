"""Resource limits of a sandbox worker and the settings read from the environment."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

__all__ = [
    "ALLOW_WITHOUT_SECCOMP_ENV",
    "MEMORY_ENV",
    "WORKERS_ENV",
    "SandboxSettings",
    "allow_without_seccomp",
    "apply_limits",
    "drop_privileges",
    "set_cpu_budget",
]

#: Operator opt-in: run python/javascript even where seccomp cannot be loaded.
ALLOW_WITHOUT_SECCOMP_ENV = "INTEGRATION_ORCHESTRATOR_ALLOW_WITHOUT_SECCOMP"
#: Address-space limit of each worker in MiB (default 1024).
MEMORY_ENV = "INTEGRATION_ORCHESTRATOR_SANDBOX_MEMORY_MB"
#: Maximum number of worker processes per Python process (default min(4, CPUs)).
WORKERS_ENV = "INTEGRATION_ORCHESTRATOR_SANDBOX_WORKERS"

CPU_HARD_LIMIT = 6 * 3600  # seconds of CPU a worker may use in its life
OPEN_FILES = 32


def allow_without_seccomp() -> bool:
    """Read at call time: ``1``/``true``/``yes`` opts in."""
    return os.environ.get(ALLOW_WITHOUT_SECCOMP_ENV, "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class SandboxSettings:
    memory_bytes: int = 1024 * 1024 * 1024
    max_workers: int = 2
    seccomp: bool = True

    @classmethod
    def from_env(cls) -> SandboxSettings:
        memory_mb = int(os.environ.get(MEMORY_ENV) or 1024)
        workers = int(os.environ.get(WORKERS_ENV) or min(4, os.cpu_count() or 1))
        return cls(memory_bytes=memory_mb * 1024 * 1024, max_workers=max(1, workers))


def _address_space_now() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def apply_limits(memory_bytes: int) -> None:
    """Address space (what is mapped now + ``memory_bytes``), file size 0, few open files,
    no core dumps and a hard CPU cap. Called in the worker once its libraries are loaded
    (their mappings, ~1.4 GB of mostly untouched address space, are the baseline)."""
    limit = _address_space_now() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_HARD_LIMIT, CPU_HARD_LIMIT))


NOBODY = 65534


def drop_privileges() -> int:
    """As root, become ``nobody`` (after the hard limits are set, so they cannot be raised)."""
    if os.getuid() != 0:
        return os.getuid()
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)
    return os.getuid()


def set_cpu_budget(seconds: float) -> None:
    """Let the next job use at most ``seconds`` more CPU (SIGXCPU ends the worker past it)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    soft = min(CPU_HARD_LIMIT, int(used + seconds) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, CPU_HARD_LIMIT))
