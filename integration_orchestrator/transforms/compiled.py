"""``compile_transformation`` and :class:`CompiledTransformation`.

Compiling validates the row and parses its logic in the calling process (no tenant code
runs there). ``apply`` checks the input schema, runs the engine (in the sandbox pool for
the built-in languages), applies the type's contract, checks the output schema and
returns a :class:`TransformOutcome`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from integration_orchestrator.model.failures import FailedRecord
from integration_orchestrator.transforms.base import (
    PER_RECORD_TYPES,
    Engine,
    RecordFailure,
    TransformOutcome,
)
from integration_orchestrator.transforms.contracts import (
    Failure,
    apply_batch_contract,
    apply_record_contract,
)
from integration_orchestrator.transforms.errors import (
    LogicError,
    SandboxUnavailableError,
    TransformationDefinitionError,
    TransformationRuntimeError,
    TransformationSandboxError,
    TransformationTimeoutError,
)
from integration_orchestrator.transforms.registry import available_languages, get_engine
from integration_orchestrator.transforms.row import TransformationRow
from integration_orchestrator.transforms.sandbox.limits import ALLOW_WITHOUT_SECCOMP_ENV
from integration_orchestrator.transforms.sandbox.pool import (
    SandboxCrashed,
    SandboxTimeout,
    WorkerPool,
    get_pool,
)
from integration_orchestrator.transforms.schemas import (
    SchemaChecker,
    sample_indexes,
    shape_error,
)

__all__ = ["TIERS", "CompiledTransformation", "compile_transformation"]

#: performance_tier -> (records per chunk, chunks in flight at once)
TIERS: dict[str, tuple[int, int]] = {"lightweight": (2000, 1), "standard": (1000, 2), "heavy": (1000, 4)}


def compile_transformation(
    row: TransformationRow | Mapping[str, Any],
    *,
    schema_check: str | None = None,
    pool: WorkerPool | None = None,
) -> CompiledTransformation:
    """Validate and parse a transformation row; raise :class:`TransformationDefinitionError`.

    ``schema_check`` is ``"all"`` (every record) or ``"sample"`` (the first 100 and every
    100th after); by default ``sample`` for performance_tier ``heavy``, else ``all``.
    ``pool`` overrides the process's sandbox pool (tests, embedding).
    """
    if not isinstance(row, TransformationRow):
        row = TransformationRow.from_mapping(row)
    else:
        row.validate()
    engine = get_engine(row.language)
    if engine is None:
        raise row.error(
            "language", f"unknown language {row.language!r} (available: {', '.join(available_languages())})"
        )
    try:
        engine.check(row.transformation_logic, row.transformation_type)
    except LogicError as exc:
        raise row.error(f"transformation_logic.{exc.field}", exc.reason) from None
    mode = schema_check or ("sample" if row.performance_tier == "heavy" else "all")
    if mode not in ("all", "sample"):
        raise ValueError(f"schema_check must be 'all' or 'sample', not {mode!r}")
    return CompiledTransformation(row, engine, schema_check=mode, pool=pool)


class CompiledTransformation:
    """A transformation ready to apply to batches (safe to share between threads)."""

    def __init__(
        self, row: TransformationRow, engine: Engine, *, schema_check: str = "all", pool: WorkerPool | None = None
    ) -> None:
        self.row = row
        self.engine = engine
        self.schema_check = schema_check
        self._pool = pool
        chunk_size, self.parallelism = TIERS[row.performance_tier]
        self.chunk_size = chunk_size * max(1, engine.chunk_scale)
        self._input = SchemaChecker(row.input_schema, "input_schema") if row.input_schema else None
        self._output = SchemaChecker(row.output_schema, "output_schema") if row.output_schema else None
        identity = [
            str(row.organization_id),
            str(row.id),
            row.version,
            row.language,
            row.transformation_type,
            row.transformation_logic,
        ]
        self.key = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        self._program = None
        if not engine.sandboxed:
            self._program = engine.build(
                row.transformation_logic, row.transformation_type, timeout_seconds=row.timeout_seconds
            )
        else:
            self._program = engine.inline(row.transformation_logic, row.transformation_type)
        #: True when a sandboxed engine's program runs in this process (see ``Engine.inline``).
        self.inline = engine.sandboxed and self._program is not None

    def __repr__(self) -> str:
        return f"<CompiledTransformation {self.name!r} {self.row.language}/{self.row.transformation_type}>"

    @property
    def name(self) -> str:
        return self.row.transformation_name

    @property
    def per_record(self) -> bool:
        return self.row.transformation_type in PER_RECORD_TYPES

    def apply(self, records: Iterable[dict[str, Any]]) -> TransformOutcome:
        """Transform one batch; per-record failures are returned, batch failures raised."""
        records = list(records)
        failures: list[Failure] = []
        positions, accepted = self._check_input(records, failures)
        deadline = time.monotonic() + float(self.row.timeout_seconds)
        indexes: list[int] | None = None
        if self.per_record:
            raw = self._run_records(accepted, deadline)
            local, outputs, record_failures = apply_record_contract(self.row.transformation_type, accepted, raw)
            identity = len(positions) == len(records)
            indexes = local if identity else [positions[i] for i in local]
            failures.extend(f if identity else (positions[f[0]], *f[1:]) for f in record_failures)
        else:
            value = self._run_batch(accepted, deadline)
            try:
                outputs = apply_batch_contract(self.row.transformation_type, value)
            except ValueError as exc:
                raise TransformationRuntimeError(self.name, str(exc), row_id=self.row.id) from None
        kept = self._check_output(outputs, indexes, records, failures)
        failures.sort(key=lambda f: f[0])
        errors = [
            FailedRecord(i, rec, msg, shape_error(self.row, i, rec, msg, extra)) for i, rec, msg, extra in failures
        ]
        return TransformOutcome(records=kept, errors=errors)

    # -- schemas -------------------------------------------------------------------------

    def _check_input(
        self, records: list[dict[str, Any]], failures: list[Failure]
    ) -> tuple[list[int], list[dict[str, Any]]]:
        if self._input is None:
            return list(range(len(records))), records
        bad: dict[int, list[str]] = {}
        for i in sample_indexes(len(records), self.schema_check):
            problems = self._input.errors(records[i])
            if problems:
                bad[i] = problems
        for i, problems in bad.items():
            failures.append((i, records[i], "; ".join(problems), {"errors": problems}))
        positions = [i for i in range(len(records)) if i not in bad]
        return positions, [records[i] for i in positions]

    def _check_output(
        self,
        outputs: list[dict[str, Any]],
        indexes: list[int] | None,
        records: list[dict[str, Any]],
        failures: list[Failure],
    ) -> list[dict[str, Any]]:
        """Drop outputs failing output_schema; ``indexes`` map outputs to input records (per-record types)."""
        if self._output is None:
            return outputs
        bad: set[int] = set()
        for j in sample_indexes(len(outputs), self.schema_check):
            out = outputs[j]
            problems = self._output.errors(out)
            if problems:
                bad.add(j)
                index, source = (indexes[j], records[indexes[j]]) if indexes is not None else (j, out)
                failures.append((index, source, "; ".join(problems), {"errors": problems, "output": out}))
        return [out for j, out in enumerate(outputs) if j not in bad]

    # -- execution -----------------------------------------------------------------------

    def _run_records(self, records: list[dict[str, Any]], deadline: float) -> list[Any]:
        if not records:
            return []
        if self.inline:
            return self._run_inline(records, deadline)
        if self._program is not None:
            return list(self._program(records))
        size = self.chunk_size
        chunks = [records[i : i + size] for i in range(0, len(records), size)]
        if len(chunks) == 1 or self.parallelism == 1:
            parts = [self._sandbox(chunk, deadline) for chunk in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.parallelism) as executor:
                parts = list(executor.map(lambda c: self._sandbox(c, deadline), chunks))
        return [value for part in parts for value in part]

    def _run_inline(self, records: list[dict[str, Any]], deadline: float) -> list[Any]:
        program, size, out = self._program, self.chunk_size * 5, []
        assert program is not None
        for start in range(0, len(records), size):
            if start and time.monotonic() > deadline:
                raise self._timeout()
            out.extend(program(records[start : start + size]))
        return out

    def _run_batch(self, records: list[dict[str, Any]], deadline: float) -> Any:
        if self._program is not None:
            try:
                return self._program(records)
            except Exception as exc:
                raise TransformationRuntimeError(self.name, f"{type(exc).__name__}: {exc}", row_id=self.row.id) from exc
        return self._sandbox(records, deadline)

    def _request(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        row = self.row
        return {
            "key": self.key,
            "language": row.language,
            "type": row.transformation_type,
            "logic": row.transformation_logic,
            "timeout": float(row.timeout_seconds),
            "per_record": self.per_record,
            "records": records,
        }

    def _sandbox(self, records: list[dict[str, Any]], deadline: float) -> Any:
        pool = self._pool or get_pool()
        bind_key = self.key if self.row.language == "python" else None
        try:
            response = pool.call(
                self._request(records),
                deadline,
                bind_key=bind_key,
                needs_seccomp=self.engine.needs_seccomp,
                profile=self.engine.worker_profile,
            )
        except SandboxTimeout:
            raise self._timeout() from None
        except SandboxCrashed as exc:
            raise TransformationSandboxError(self.name, exc.reason, row_id=self.row.id) from None
        except PermissionError as exc:
            raise SandboxUnavailableError(
                self.name,
                f"{self.row.language} transformations run only under the seccomp sandbox, which is unavailable "
                f"on this host ({exc}); set {ALLOW_WITHOUT_SECCOMP_ENV}=1 to run them with the other limits only",
                row_id=self.row.id,
            ) from None
        return self._unpack(response)

    def _timeout(self) -> TransformationTimeoutError:
        return TransformationTimeoutError(
            self.name,
            f"timed out after {self.row.timeout_seconds} s (timeout_seconds); the code was stopped",
            row_id=self.row.id,
        )

    def _unpack(self, response: Mapping[str, Any]) -> Any:
        if response.get("ok"):
            if not self.per_record:
                return response["value"]
            values = response["values"]
            for index, message in response["failures"]:
                values[index] = RecordFailure(message)
            return values
        kind, error = response.get("kind"), str(response.get("error", ""))
        row_id = self.row.id
        if kind == "definition":
            field = f"transformation_logic.{response.get('field') or 'code'}"
            raise TransformationDefinitionError(self.name, error, row_id=row_id, field=field)
        if kind == "timeout":
            raise self._timeout()
        if kind == "memory":
            raise TransformationSandboxError(self.name, f"exceeded the sandbox memory limit ({error})", row_id=row_id)
        raise TransformationRuntimeError(self.name, error, row_id=row_id)
