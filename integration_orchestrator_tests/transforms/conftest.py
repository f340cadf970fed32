"""Fixtures for the transformation engine tests: one sandbox pool per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integration_orchestrator.transforms import CompiledTransformation, WorkerPool, compile_transformation
from integration_orchestrator.transforms.sandbox import SandboxSettings


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    with WorkerPool(SandboxSettings(max_workers=2)) as p:
        yield p


def make_row(language: str, kind: str, logic: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", "00000000-0000-0000-0000-00000000000a"),
        "transformation_name": extra.pop("transformation_name", f"{language}_{kind}"),
        "language": language,
        "transformation_type": kind,
        "transformation_logic": logic,
        "timeout_seconds": extra.pop("timeout_seconds", 5),
        **extra,
    }


@pytest.fixture
def compile_row(pool: WorkerPool) -> Callable[..., CompiledTransformation]:
    def build(language: str, kind: str, logic: dict[str, Any], **extra: Any) -> CompiledTransformation:
        return compile_transformation(make_row(language, kind, logic, **extra), pool=pool)

    return build
