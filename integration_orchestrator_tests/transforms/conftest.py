"""Fixtures for the transformation engine tests: one sandbox pool per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integration_orchestrator.transforms import CompiledTransformation, WorkerPool, compile_transformation
from integration_orchestrator.transforms.sandbox import SandboxSettings
from integration_orchestrator_tests.rows import loaded_transformation


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(max_workers=2)) as p:
        yield p


@pytest.fixture
def compile_row(pool: WorkerPool) -> Callable[..., CompiledTransformation]:
    def build(language: str, kind: str, logic: dict[str, Any], **extra: Any) -> CompiledTransformation:
        return compile_transformation(loaded_transformation(language, kind, logic, **extra), pool=pool)

    return build
