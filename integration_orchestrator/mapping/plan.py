"""``MappingPlan``: compiled mappings applied to records, with per-record and per-batch results.

A plan is built by :func:`integration_orchestrator.mapping.compile_plan`. Applying it
parses nothing: every mapping is a closure that reads the source value, runs its checks,
rules and coercion, and writes the target value.

Per record, each mapping's outcome is one of: written; missing (optional source absent,
nothing written); defaulted; nulled; failed (a :class:`FieldError`, error_handling
``fail``); skipped (error_handling ``skip``: the record is dropped, the remaining
mappings do not run). A record with errors or dropped has a partial ``output`` that
must not be written to a target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.mapping.codegen import generated_plan_function
from integration_orchestrator.mapping.errors import FieldError, FieldFailure
from integration_orchestrator.mapping.types import CoercionError

__all__ = [
    "BatchResult",
    "CompiledMapping",
    "MappingCounters",
    "MappingPlan",
    "NestedDrop",
    "NestedFailure",
    "RecordResult",
    "run_mappings",
]

Step = Callable[[Any, dict[str, Any]], "str | None"]


class NestedFailure(Exception):
    """Raised by an object/array step whose child mappings failed (carries their errors)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


class NestedDrop(Exception):
    """Raised by an object step whose child mapping skipped (dropped) the record."""

    def __init__(self, error: FieldError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    """One mapping ready to run. ``step(source, out)`` returns None or an event name."""

    name: str
    row_id: Any
    source_path: str
    target_path: str
    error_handling: str
    default: Any
    step: Step
    write: Callable[[dict[str, Any], Any], None]
    behaviours: tuple[str, ...] = ()
    tracer: set[str] | None = None
    inline: Any = None  # codegen.InlineParts when the plan function may inline this mapping
    round_trip: str | None = None  # why the step checks each value's round trip (roundtrip.py)


@dataclass(slots=True)
class RecordResult:
    """The outcome of one record: ``output``, whether it was ``dropped``, field ``errors``."""

    output: dict[str, Any]
    dropped: bool = False
    errors: list[FieldError] = field(default_factory=list)
    drop_reason: FieldError | None = None

    @property
    def ok(self) -> bool:
        """True when the output is complete and may be written."""
        return not self.dropped and not self.errors


@dataclass(slots=True)
class MappingCounters:
    """How often one mapping did each thing over a batch."""

    written: int = 0
    missing: int = 0
    defaulted: int = 0
    nulled: int = 0
    failed: int = 0
    skipped: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "written": self.written,
            "missing": self.missing,
            "defaulted": self.defaulted,
            "nulled": self.nulled,
            "failed": self.failed,
            "skipped": self.skipped,
        }


@dataclass(slots=True)
class BatchResult:
    """Results in input order, and counters by mapping name."""

    results: list[RecordResult]
    counters: dict[str, MappingCounters]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The outputs of the records that mapped cleanly."""
        return [r.output for r in self.results if r.ok]

    @property
    def failed(self) -> list[tuple[int, RecordResult]]:
        return [(i, r) for i, r in enumerate(self.results) if r.errors and not r.dropped]

    @property
    def dropped(self) -> list[tuple[int, RecordResult]]:
        return [(i, r) for i, r in enumerate(self.results) if r.dropped]


def run_mappings(
    mappings: tuple[CompiledMapping, ...], source: Any, events: list[tuple[int, str]] | None = None
) -> RecordResult:
    """Apply ``mappings`` in order to ``source`` (also used for nested child mappings)."""
    out: dict[str, Any] = {}
    result = RecordResult(out)
    for index, mapping in enumerate(mappings):
        try:
            event = mapping.step(source, out)
        except FieldFailure as failure:
            error = FieldError(mapping.name, failure.path or mapping.source_path, failure.value, failure.reason)
            event = _apply_policy(mapping, error, result)
            if event == "skipped":
                if events is not None:
                    events.append((index, event))
                return result
        except NestedFailure as nested:
            result.errors.extend(nested.errors)
            event = "failed"
        except NestedDrop as drop:
            result.dropped = True
            result.drop_reason = drop.error
            if events is not None:
                events.append((index, "skipped"))
            return result
        if event is not None and events is not None:
            events.append((index, event))
    return result


def _apply_policy(mapping: CompiledMapping, error: FieldError, result: RecordResult) -> str:
    policy = mapping.error_handling
    if mapping.tracer is not None:
        mapping.tracer.add(f"error policy {policy}")
    if policy == "skip":
        result.dropped = True
        result.drop_reason = error
        return "skipped"
    if policy in ("default", "null"):
        value = mapping.default if policy == "default" else None
        try:
            mapping.write(result.output, value)
        except FieldFailure as failure:
            result.errors.append(FieldError(mapping.name, mapping.target_path, value, failure.reason))
            return "failed"
        return "defaulted" if policy == "default" else "nulled"
    result.errors.append(error)
    return "failed"


_FAILURES = (FieldFailure, CoercionError, NestedFailure, NestedDrop)


def _step_loop(steps: tuple[Step, ...]) -> Callable[[Any, dict[str, Any], list[tuple[int, str]] | None], None]:
    """The plan function as a loop over the steps (traced plans, used by mapping tests)."""

    def run(source: Any, out: dict[str, Any], events: list[tuple[int, str]] | None) -> None:
        for index, step in enumerate(steps):
            event = step(source, out)
            if event is not None and events is not None:
                events.append((index, event))

    return run


class MappingPlan:
    """The compiled mappings of one direction, applied to records in order."""

    def __init__(self, mappings: Iterable[CompiledMapping], *, direction: str = "inbound") -> None:
        self.mappings: tuple[CompiledMapping, ...] = tuple(mappings)
        self.direction = direction
        traced = any(m.tracer is not None for m in self.mappings)
        self._run: Any = None if traced else generated_plan_function(self.mappings)
        if self._run is None:
            self._run = _step_loop(tuple(m.step for m in self.mappings))

    @property
    def mapping_names(self) -> list[str]:
        return [m.name for m in self.mappings]

    def __len__(self) -> int:
        return len(self.mappings)

    def __repr__(self) -> str:
        return f"MappingPlan(direction={self.direction!r}, mappings={self.mapping_names!r})"

    def apply(self, record: Any) -> RecordResult:
        """Map one record. Never raises for bad data: errors are in the result."""
        out: dict[str, Any] = {}
        try:
            self._run(record, out, None)
        except _FAILURES:
            # Rare path: run again with per-mapping error handling (steps are pure).
            return run_mappings(self.mappings, record)
        return RecordResult(out)

    def apply_batch(self, records: Iterable[Any]) -> BatchResult:
        """Map records in order; count each mapping's outcomes."""
        mappings = self.mappings
        counts = [MappingCounters() for _ in mappings]
        results: list[RecordResult] = []
        events: list[tuple[int, str]] = []
        total = 0
        stopped_before = [0] * (len(mappings) + 1)
        run = self._run
        for record in records:
            total += 1
            out: dict[str, Any] = {}
            try:
                run(record, out, events)
                result = RecordResult(out)
            except _FAILURES:
                events.clear()  # rare path: run again with per-mapping error handling
                result = run_mappings(mappings, record, events)
            results.append(result)
            if events:
                for index, event in events:
                    counter = counts[index]
                    setattr(counter, event, getattr(counter, event) + 1)
                    if event == "skipped":
                        stopped_before[index + 1] += 1
                events.clear()
        not_reached = 0
        for index, counter in enumerate(counts):
            not_reached += stopped_before[index]
            ran = total - not_reached
            counter.written = ran - (
                counter.missing + counter.defaulted + counter.nulled + counter.failed + counter.skipped
            )
        return BatchResult(results, {m.name: c for m, c in zip(mappings, counts, strict=True)})
