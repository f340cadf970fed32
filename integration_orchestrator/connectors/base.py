"""What every connector is: a source that yields batches, a target that writes them.

A connector type registers a :class:`ConnectorSpec` (its ``type``, its JSON Schema and a
factory). :func:`open_source` / :func:`open_target` resolve ``{"$secret": ...}`` values
through the caller's resolver (at run time, inside the op), then build the connector.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, runtime_checkable

import pyarrow as pa

from integration_orchestrator.columnar.convert import batch_to_records
from integration_orchestrator.errors import IntegrationOrchestratorError
from integration_orchestrator.model.rows import Record

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorFactory",
    "ConnectorSpec",
    "Record",
    "Role",
    "SecretResolver",
    "Source",
    "Target",
    "WriteResult",
    "accepts",
    "chunked",
    "connector_spec",
    "iter_batches",
    "register_source",
    "register_target",
    "registered_types",
    "write_batches",
]

SecretResolver = Callable[[str], str]
#: ``factory(config, context)``: builds a Source (source specs) or a Target (target specs).
ConnectorFactory = Callable[[dict[str, Any], "ConnectorContext"], "Source | Target"]
Role = Literal["source", "target"]

DEFAULT_BATCH_SIZE = 1000


class ConnectorError(IntegrationOrchestratorError):
    """A connector failed at run time (server down, bad response, load rejected).

    ``connector`` names the connector (``"http source"``, ``"postgres_table target"``),
    ``reason`` says what went wrong; the message never contains secret values.
    """

    def __init__(self, connector: str, reason: str) -> None:
        self.connector = connector
        self.reason = reason
        super().__init__(f"{connector}: {reason}")


@dataclass(frozen=True)
class ConnectorContext:
    """What the caller knows beyond the endpoint config.

    ``rate_limits``: the template's ``rate_limits`` (used by ``http`` when the config has
    no ``rate_limit`` of its own). ``database_url``: the database a ``postgres`` /
    ``postgres_table`` endpoint uses when its config has no ``url``. ``incremental``: the
    run's ``connectors.incremental.Incremental`` (state in, new state out) for a source
    that declares ``incremental``.
    """

    rate_limits: Mapping[str, Any] | None = None
    database_url: str | None = None
    incremental: Any = None


@runtime_checkable
class Source(Protocol):
    """Yields records in batches; streaming: never needs all records in memory."""

    def read(self) -> Iterator[list[Record]]: ...


@dataclass(frozen=True)
class WriteResult:
    """What a target wrote. ``inserted``/``updated``/``unchanged`` are ``None`` where unknown.

    ``unchanged``: rows an upsert found already holding the loaded values and left alone
    (counted in ``rows_written``, not in ``updated``).
    """

    rows_written: int
    inserted: int | None = None
    updated: int | None = None
    unchanged: int | None = None


@runtime_checkable
class Target(Protocol):
    """Writes records (or batches of records); all-or-nothing where the target allows.

    ``write_batches`` takes Arrow record batches (``integration_orchestrator.columnar``);
    this default gives ``write`` each batch's records, streamed. A target that can write
    batches directly overrides it with the same result. A class that implements the
    protocol without subclassing it gets the default through :func:`write_batches`.
    """

    def write(self, records: Iterable[Record] | Iterable[list[Record]]) -> WriteResult: ...

    def write_batches(self, batches: Iterable[pa.RecordBatch]) -> WriteResult:
        return self.write(batch_to_records(batch) for batch in batches)


def write_batches(target: Any, batches: Iterable[pa.RecordBatch], load_context: Any = None) -> WriteResult:
    """``target.write_batches(batches)``, or the default for a target class that lacks it.

    ``load_context`` (``postgres_ledger.LoadContext``: the run id that keys a load ledger)
    is passed only to a ``write_batches`` that takes a ``load_context`` parameter; other
    targets (plugins written before it) are called as before."""
    method = getattr(target, "write_batches", None)
    if method is not None:
        if load_context is not None and accepts(method, "load_context"):
            result: WriteResult = method(batches, load_context=load_context)
        else:
            result = method(batches)
        return result
    return Target.write_batches(target, batches)


def accepts(function: Callable[..., Any], parameter: str) -> bool:
    """Whether ``function`` takes a keyword argument named ``parameter``."""
    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return parameter in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


@dataclass(frozen=True)
class ConnectorSpec:
    """One connector type: ``schema`` validates its config (``type`` included).

    ``factory(config, context)`` builds the connector from a config whose secrets are
    already resolved.
    """

    type: str
    role: Role
    schema: Mapping[str, Any]
    factory: ConnectorFactory
    description: str = ""
    #: extra checks beyond the schema: ``check(config) -> [(json_path_suffix, reason)]``
    check: Callable[[Mapping[str, Any]], list[tuple[str, str]]] | None = None


_REGISTRY: dict[tuple[Role, str], ConnectorSpec] = {}


def register_source(spec: ConnectorSpec) -> ConnectorSpec:
    """Register (or replace) a source type; plugins call this to add their own."""
    _REGISTRY[("source", spec.type)] = spec
    return spec


def register_target(spec: ConnectorSpec) -> ConnectorSpec:
    """Register (or replace) a target type."""
    _REGISTRY[("target", spec.type)] = spec
    return spec


def connector_spec(role: Role, type_: str) -> ConnectorSpec | None:
    """The spec registered for ``type_`` as a source or a target, if any."""
    _load_builtins()
    return _REGISTRY.get((role, type_))


def registered_types(role: Role) -> list[str]:
    """Every registered type for ``role``, sorted."""
    _load_builtins()
    return sorted(t for (r, t) in _REGISTRY if r == role)


def _load_builtins() -> None:
    # Importing the package registers the built-in connectors (inline, file, http, postgres).
    import integration_orchestrator.connectors  # noqa: F401 - registers the built-in connectors


def iter_batches(
    records: Iterable[Record] | Iterable[list[Record]], size: int = DEFAULT_BATCH_SIZE
) -> Iterator[list[Record]]:
    """Normalise records, or batches (lists) of records, into lists of at most ``size`` records.

    Streams: at most ``size`` records (or one incoming batch) are held at a time.
    """
    iterator: Iterator[Record | list[Record]] = iter(records)
    for first in iterator:
        if isinstance(first, list):
            for start in range(0, len(first), size):
                yield _as_records(first[start : start + size])
            continue
        chunk = [first, *itertools.islice(iterator, size - 1)]
        if set(map(type, chunk)) == {dict}:  # the common case, checked at C speed
            yield cast(list[Record], chunk)  # every item is a dict (checked just above)
            continue
        yield from _mixed(chunk, size)


def _as_records(items: list[Any]) -> list[Record]:
    if set(map(type, items)) <= {dict}:
        return items
    return [_as_record(item) for item in items]


def _as_record(item: Any) -> Record:
    if isinstance(item, dict):
        return item
    if isinstance(item, Mapping):
        return dict(item)
    raise TypeError(f"expected a record (object) or a list of records, got {type(item).__name__}")


def _mixed(chunk: list[Any], size: int) -> Iterator[list[Record]]:
    pending: list[Record] = []
    for item in chunk:
        if isinstance(item, list):
            if pending:
                yield pending
                pending = []
            for start in range(0, len(item), size):
                yield _as_records(item[start : start + size])
        else:
            pending.append(_as_record(item))
    if pending:
        yield pending


def chunked(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Plain fixed-size chunking of a record stream (used by sources)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
