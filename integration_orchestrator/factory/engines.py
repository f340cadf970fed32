"""The factory's view of the other engines: connectors, mapping plans, transformations.

:class:`Engines` bundles the callables the factory uses, so a data team can plug its
own; :func:`default_engines` uses the package's engines, imported lazily (at call time,
never at import time). The factory compiles at load (to validate rows) and again inside
the op at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from integration_orchestrator.model import FailedRecord
from integration_orchestrator.model.rows import Record

if TYPE_CHECKING:
    import pyarrow as pa

    from integration_orchestrator.model import Integration

__all__ = ["BatchOutcome", "Engines", "MappingPlan", "Transformation", "default_engines", "open_target"]



class BatchOutcome(Protocol):
    """What applying a transformation to a batch returns: output records and failed records."""

    @property
    def records(self) -> list[Record]: ...

    @property
    def errors(self) -> Sequence[FailedRecord]: ...


class MappingPlan(Protocol):
    def apply_batch(self, records: list[Record]) -> Any: ...


class Transformation(Protocol):
    def apply(self, records: list[Record]) -> BatchOutcome: ...


@dataclass(frozen=True)
class Engines:
    """The engine entry points the factory calls."""

    #: ``check_connection(config_row)`` raises a RowError for a bad ``connection_config``
    check_connection: Callable[[Mapping[str, Any]], Any]
    #: ``compile_plan(rows, direction=, transformations=)`` → a mapping plan
    compile_plan: Callable[..., MappingPlan]
    #: ``apply_plan(plan, records)`` → (output records, failed records)
    apply_plan: Callable[[MappingPlan, list[Record]], tuple[list[Record], list[FailedRecord]]]
    #: ``compile_transformation(row)`` → object with ``apply(records)``
    compile_transformation: Callable[[Mapping[str, Any]], Transformation]
    #: ``read_source(integration, database_url)`` → every source record
    read_source: Callable[[Integration, str], list[Record]]
    #: ``write_target(integration, database_url, records)`` → rows written
    write_target: Callable[[Integration, str, list[Record]], int]
    # The batch-level entries (ARCHITECTURE.md §10). None: the record-level entry above is
    # used on each batch's records. ``default_engines()`` sets all four; a team that
    # replaces a record-level entry replaces (or clears) its batch-level twin too.
    #: ``read_batches(integration, database_url, batch_size)`` → (batch, unreadable records) pairs
    read_batches: Callable[[Integration, str, int], Iterator[tuple[pa.RecordBatch, list[FailedRecord]]]] | None = None
    #: ``compile_columnar_plan(rows, direction=, transformations=)`` → a plan with ``.plan``
    #: (the per-record plan) and ``apply(batch)`` → ``.batch``, ``.failures`` (None: every
    #: record through ``compile_plan`` / ``apply_plan``)
    compile_columnar_plan: Callable[..., Any] | None = None
    #: ``compile_columnar_step(transformation row)`` → a columnar step for
    #: ``transforms.columnar.apply_step_columnar``, or None (per record through ``apply``)
    compile_columnar_step: Callable[[Mapping[str, Any]], Any] | None = None
    #: ``write_batches(integration, database_url, batches)`` → rows written, in one write; the
    #: default also takes ``load_context`` (the run, for a target's load ledger), passed only
    #: to an entry that names that parameter
    write_batches: Callable[[Integration, str, Iterable[pa.RecordBatch]], int] | None = None
    #: ``latest_state(integration, database_url)`` → the integration's incremental state in its
    #: target's load ledger (None: none yet, or reset). The default also lets ``read_batches``
    #: take ``incremental`` (``connectors.incremental.Incremental``: state in, new state out)
    latest_state: Callable[[Integration, str], Any] | None = None

    def write_target_stream(self, integration: Integration, database_url: str,
                            chunks: Iterable[list[Record]]) -> int:
        """``write_target`` over every record of ``chunks`` at once."""
        return self.write_target(integration, database_url, [r for chunk in chunks for r in chunk])


def _check_connection(row: Mapping[str, Any]) -> Any:
    from integration_orchestrator.connectors import validate_connection_config

    return validate_connection_config(
        row.get("connection_config"), row_name=row.get("integration_name"), row_id=row.get("id")
    )


def _compile_plan(rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> MappingPlan:
    from integration_orchestrator.mapping import compile_plan

    return compile_plan(rows, **kwargs)


def _apply_plan(plan: MappingPlan, records: list[Record]) -> tuple[list[Record], list[FailedRecord]]:
    result = plan.apply_batch(records)
    failures = [
        FailedRecord(index, records[index], "; ".join(str(e) for e in r.errors),
                     {"errors": [e.as_dict() for e in r.errors]}, step="mappings")
        for index, r in result.failed
    ]
    return result.outputs, failures


def _compile_transformation(row: Mapping[str, Any]) -> Transformation:
    from integration_orchestrator.transforms import compile_transformation

    return compile_transformation(row)


def _secret_resolver(integration: Integration, database_url: str) -> Callable[[str], str]:
    """Resolves ``{"$secret": name}`` through the credentials module, only when one is used."""

    def resolve(name: str) -> str:
        from integration_orchestrator.credentials import secret_resolver
        from integration_orchestrator.masking import register_secret

        resolver = secret_resolver(
            database_url, organization_id=integration.config.organization_id, config_id=integration.config.id
        )
        value = resolver(name)
        register_secret(value)  # redacted from logs, errors, previews and dead letters from now on
        return value

    return resolve


def _read_source(integration: Integration, database_url: str) -> list[Record]:
    return [record for batch in _open_source(integration, database_url).read() for record in batch]


def _write_target(integration: Integration, database_url: str, records: list[Record]) -> int:
    return int(_open_target(integration, database_url).write([records]).rows_written)


def _open_source(integration: Integration, database_url: str, incremental: Any = None) -> Any:
    from integration_orchestrator.connectors import open_source

    config = integration.config
    return open_source(
        config.connection_config.get("source") or {}, _secret_resolver(integration, database_url),
        database_url=database_url, row_name=config.integration_name, row_id=config.id, incremental=incremental,
    )


def _latest_state(integration: Integration, database_url: str) -> Any:
    target = _open_target(integration, database_url)
    read = getattr(target, "latest_state", None)
    if read is None:  # validation refuses incremental sources in front of such a target
        from integration_orchestrator.connectors import ConnectorError

        raise ConnectorError(str(getattr(target, "name", "target")), "keeps no incremental state (no `latest_state`)")
    return read(str(integration.config.id))


def open_target(integration: Integration, database_url: str) -> Any:
    """The integration's target connector (secrets resolved), e.g. to read its load ledger."""
    return _open_target(integration, database_url)


def _open_target(integration: Integration, database_url: str) -> Any:
    from integration_orchestrator.connectors import open_target

    config = integration.config
    return open_target(
        config.connection_config.get("target") or {}, _secret_resolver(integration, database_url),
        database_url=database_url, row_name=config.integration_name, row_id=config.id,
    )


def _read_batches(
    integration: Integration, database_url: str, size: int, incremental: Any = None
) -> Iterator[tuple[pa.RecordBatch, list[FailedRecord]]]:
    """The source's record batches, streamed as the source cuts them. A line or row the source
    cannot read fails the run under ``fail_fast``/``retry`` (with today's connector error),
    else it is a failed record of step ``source`` (file, line, text) for the error strategy."""
    from integration_orchestrator.connectors import raise_first_bad, read_batches

    source = _open_source(integration, database_url, incremental)
    chunks = read_batches(source)
    if integration.strategy in ("fail_fast", "retry"):
        for batch in raise_first_bad(chunks, str(getattr(source, "name", "source"))):
            yield batch, []
        return
    for chunk in chunks:
        yield chunk.batch, [
            FailedRecord(bad.line - 1, {"file": bad.file, "line": bad.line, "text": bad.raw},
                         f"{bad.file} line {bad.line}: {bad.message}", {"file": bad.file, "line": bad.line},
                         step="source")
            for bad in chunk.bad
        ]


def _compile_columnar_plan(rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> Any:
    from integration_orchestrator.mapping.columnar import compile_columnar

    return compile_columnar(rows, **kwargs)


def _compile_columnar_step(row: Mapping[str, Any]) -> Any:
    from integration_orchestrator.transforms.columnar import compile_columnar_step

    return compile_columnar_step(row)


def _write_batches(integration: Integration, database_url: str, batches: Iterable[pa.RecordBatch],
                   load_context: Any = None) -> int:
    from integration_orchestrator.connectors import write_batches

    return int(write_batches(_open_target(integration, database_url), batches, load_context).rows_written)


def default_engines() -> Engines:
    return Engines(
        check_connection=_check_connection,
        compile_plan=_compile_plan,
        apply_plan=_apply_plan,
        compile_transformation=_compile_transformation,
        read_source=_read_source,
        write_target=_write_target,
        read_batches=_read_batches,
        write_batches=_write_batches,
        compile_columnar_plan=_compile_columnar_plan,
        compile_columnar_step=_compile_columnar_step,
        latest_state=_latest_state,
    )
