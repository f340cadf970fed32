"""Data teams' own ops as pipeline steps (ARCHITECTURE.md §8; public API: ``integration_orchestrator.ops``).

A function decorated with :func:`integration_op` and declared under the entry-point group
``integration_orchestrator.ops`` (or registered in process with :func:`register_op`) is a
step kind: ``{"name": "geocode", "order": 2, "op": "acme.geocode", "config": {...}}``.
The step runs as its own op node (``step_<slug>``) whose op definition is built once per
registered op (and number of inputs, and pool) and shared by every job using it; it
requires the op's ``required_resource_keys``, which the user's Definitions provide.

The function is called once per record batch with the op's execution context, its config
(checked against ``config_schema``, a Dagster config schema, at load, defaults applied)
and the batch's records (a list of dicts); it returns or yields the output records, and a
:class:`RecordFailure` for each record it cannot process — those follow the pipeline's
error strategy (``fail_fast``, ``continue_on_error``, ``dead_letter``, ``retry``). An
exception fails the op (a ``retry`` pipeline retries it).
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.factory.failure_marks import marks_failure
from integration_orchestrator.factory.integration_job import INTEGRATION_RESOURCE_KEY, job_of
from integration_orchestrator.factory.resources import DATABASE_RESOURCE_KEY
from integration_orchestrator.factory.runtime import BatchStream, merge_streams
from integration_orchestrator.factory.streaming import run_batches
from integration_orchestrator.model import FailedRecord, StepRecord, slugify

__all__ = [
    "ENTRY_POINT_GROUP",
    "IntegrationOp",
    "OpProblem",
    "RecordFailure",
    "check_op_step",
    "custom_step_op",
    "integration_op",
    "register_op",
    "registered_ops",
]

ENTRY_POINT_GROUP = "integration_orchestrator.ops"


@dataclass(frozen=True)
class RecordFailure:
    """Yielded (or returned) by an op for a record it cannot process: the record and why."""

    record: Mapping[str, Any]
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegrationOp:
    """A registered op: ``fn(context, config, records)`` → output records and RecordFailures."""

    name: str
    fn: Callable[[Any, Any, list[dict[str, Any]]], Iterable[Any]]
    config_schema: Any = None
    required_resource_keys: frozenset[str] = frozenset()
    description: str | None = None

    def __call__(self, context: Any, config: Any, records: list[dict[str, Any]]) -> Iterable[Any]:
        return self.fn(context, config, records)


def integration_op(
    name: str, config_schema: Any = None, required_resource_keys: Iterable[str] = (), description: str | None = None,
) -> Callable[[Callable[..., Iterable[Any]]], IntegrationOp]:
    """Declare ``fn(context, config, records)`` as the op ``name`` (register it under the
    entry-point group ``integration_orchestrator.ops``, or with :func:`register_op`)."""
    if not name.strip():
        raise ValueError("integration_op needs a name (a non-empty string)")

    def decorate(fn: Callable[..., Iterable[Any]]) -> IntegrationOp:
        return IntegrationOp(name, fn, config_schema, frozenset(required_resource_keys),
                             description or (fn.__doc__ or "").strip() or None)

    return decorate


class OpProblem(ValueError):
    """An op step that cannot load: the op is unknown, failed to import, or its config is bad."""


_REGISTERED: dict[str, IntegrationOp] = {}


@functools.cache
def _entry_point_ops() -> tuple[Mapping[str, IntegrationOp], Mapping[str, str]]:
    """The ops declared under the entry-point group (loaded once per process) and the ones that failed to load."""
    ops: dict[str, IntegrationOp] = {}
    broken: dict[str, str] = {}
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as error:  # noqa: BLE001 - a broken package makes its steps invalid rows, not the location
            broken[entry.name] = f"{type(error).__name__}: {error}"
            continue
        if not isinstance(loaded, IntegrationOp):
            broken[entry.name] = f"{entry.value} is not decorated with integration_orchestrator.ops.integration_op"
            continue
        ops[loaded.name] = loaded
        if entry.name != loaded.name:
            broken.setdefault(entry.name, f"the entry point is named {entry.name!r}; the op it loads, {loaded.name!r}")
    return ops, broken


def register_op(op: IntegrationOp) -> IntegrationOp:
    """Register ``op`` in this process (code location and run workers must both do it)."""
    _REGISTERED[op.name] = op
    return op


def registered_ops() -> Mapping[str, IntegrationOp]:
    return {**_entry_point_ops()[0], **_REGISTERED}


def _config_type(op: IntegrationOp) -> Any:
    from dagster._config import resolve_to_config_type

    return resolve_to_config_type(op.config_schema if op.config_schema is not None else dg.Any)


def processed_config(op: IntegrationOp, config: Mapping[str, Any]) -> Any:
    """``config`` checked against the op's schema, defaults applied; raises OpProblem."""
    from dagster._config import process_config

    value: Any = dict(config) if op.config_schema is not None else (dict(config) or None)
    result = process_config(_config_type(op), value)
    if not result.success:
        reasons = "; ".join(e.message for e in result.errors or [])
        raise OpProblem(f"config of op `{op.name}` is invalid: {reasons}")
    return result.value


def check_op_step(step: StepRecord) -> IntegrationOp:
    """The op of ``step``; raises OpProblem naming the op when it is unknown or its config is bad."""
    name = str(step.op)
    op = registered_ops().get(name)
    if op is None:
        broken = _entry_point_ops()[1].get(name)
        if broken:
            raise OpProblem(f"op `{name}` failed to load from entry point group {ENTRY_POINT_GROUP}: {broken}")
        known = ", ".join(sorted(registered_ops())) or "none"
        raise OpProblem(f"unknown op `{name}` (registered under {ENTRY_POINT_GROUP}: {known})")
    processed_config(op, step.config)
    return op


def _run_op(op: IntegrationOp, step: str, context: Any, config: Any, batch: Any,
            offset: int) -> tuple[Any, list[FailedRecord]]:
    records = batch_to_records(batch)
    position = {id(r): i for i, r in enumerate(records)}
    out: list[dict[str, Any]] = []
    failures: list[FailedRecord] = []
    for item in op(context, config, records) or ():
        if isinstance(item, RecordFailure):
            index = position.get(id(item.record), len(failures))
            failures.append(FailedRecord(offset + index, dict(item.record), item.message, dict(item.details), step))
        elif isinstance(item, Mapping):
            out.append(dict(item))
        else:
            raise TypeError(f"op `{op.name}` produced {type(item).__name__}; expected a dict or a RecordFailure")
    return records_to_batch(out), failures


@functools.cache
def custom_step_op(name: str, inputs: int = 1, pool: str | None = None) -> dg.OpDefinition:
    """The shared op definition of the registered op ``name`` (node ``step_<slug>`` of each job)."""
    op = registered_ops()[name]
    base = f"integration_op_{slugify(name, 'op')}_{inputs}"
    keys = {DATABASE_RESOURCE_KEY, INTEGRATION_RESOURCE_KEY, *op.required_resource_keys}

    @dg.op(name=base if pool is None else f"{base}__pool_{slugify(pool, 'pool')}", required_resource_keys=keys,
           pool=pool, ins={f"in_{i}": dg.In(BatchStream) for i in range(inputs)}, out=dg.Out(BatchStream),
           description=op.description)
    @marks_failure
    def _custom(context, **streams):  # type: ignore[no-untyped-def]  # Dagster reads types from annotations
        job = job_of(context)
        step = job.step(context.op.name)
        config = job.compiled(f"op-config:{step.name}", lambda: processed_config(op, step.config))
        stream = merge_streams([streams[k] for k in sorted(streams)])
        out = run_batches(context, job, step.name, stream,
                          lambda batch, offset: _run_op(op, step.name, context, config, batch, offset))
        return BatchStream(parts=out.parts, stats=out.stats, index=stream.index)

    return _custom
