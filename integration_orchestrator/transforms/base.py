"""The engine interface and the outcome of applying a transformation.

An :class:`Engine` knows one ``language``. ``check`` validates the logic in the
calling process (syntax only, never runs tenant code); ``build`` turns the logic into
a :data:`Program`. A program is called with a chunk of records:

- for the per-record types (map, filter, enrich, validate) it returns one raw value
  per record, or a :class:`RecordFailure` for a record whose evaluation failed;
- for the batch types (aggregate, custom) it returns the output records and raises for
  a batch-level failure.

The contract of each ``transformation_type`` (see :mod:`.contracts`) turns the raw
values into records. Built-in engines set ``sandboxed = True``: their programs are built
and run inside the worker pool (:mod:`.sandbox`), never in the calling process, unless
``inline`` offers a program whose cost per record is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integration_orchestrator.model.failures import FailedRecord

__all__ = [
    "BATCH_TYPES",
    "PER_RECORD_TYPES",
    "Engine",
    "LogicError",
    "Program",
    "RecordFailure",
    "TransformOutcome",
]

PER_RECORD_TYPES = frozenset({"map", "filter", "enrich", "validate"})
BATCH_TYPES = frozenset({"aggregate", "custom"})

Program = Callable[[list[dict[str, Any]]], list[Any]]


class LogicError(ValueError):
    """Raised by an engine's ``check``: ``field`` is the key inside ``transformation_logic``."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class RecordFailure:
    """A per-record evaluation failure returned by a program in place of a value."""

    message: str


class Engine:
    """Base class of transformation engines (subclass it to add a language).

    Register a subclass (or an instance) under the entry point group
    ``integration_orchestrator.engines``, or call :func:`register_engine`.
    """

    language: ClassVar[str] = ""
    #: True: the program is built and run in the sandboxed worker pool. The worker
    #: finds the engine through its entry point, so only entry-point engines may set it.
    sandboxed: ClassVar[bool] = False
    #: True when the language can break out of an in-process interpreter (general
    #: purpose code): refused when seccomp is unavailable unless the operator opts in.
    needs_seccomp: ClassVar[bool] = False
    #: Sandbox workers come in two profiles: "light" (JMESPath, JSONPath, QuickJS, Python)
    #: and "sql" (also DuckDB and pandas, a slower start); "sql" workers serve both.
    worker_profile: ClassVar[str] = "light"
    #: Chunks sent to the sandbox are ``chunk_scale`` times the tier's chunk size (engines
    #: with a high fixed cost per call, such as a fresh DuckDB connection, use more).
    chunk_scale: ClassVar[int] = 1

    def check(self, logic: Mapping[str, Any], transformation_type: str) -> None:
        """Validate ``logic`` without running it; raise :class:`LogicError` naming the key."""

    def build(self, logic: Mapping[str, Any], transformation_type: str, *, timeout_seconds: float) -> Program:
        """Return the program for ``logic`` (see the module docstring for its contract)."""
        raise NotImplementedError

    def inline(self, logic: Mapping[str, Any], transformation_type: str) -> Program | None:
        """For a sandboxed engine: a program safe to run in the calling process, or None.

        Return one only for logic whose cost per record is bounded and that cannot reach
        the process (the JMESPath engine does for its fenced subset); it runs in chunks
        with ``timeout_seconds`` checked between them. None keeps the sandbox.
        """
        return None


@dataclass(frozen=True)
class TransformOutcome:
    """Output records of a batch (per the type's contract) and the failed records."""

    records: list[dict[str, Any]]
    errors: list[FailedRecord] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors
