"""``postgres`` source (a query) and ``postgres_table`` target (append / upsert / replace).

The URL of the server is ``url`` — a plain URL without a password, or a
``{"$secret": ...}`` holding the full URL — or, for a target only, when absent, the
database the caller passes in the :class:`ConnectorContext` (normally the platform
database). The bulk loading itself lives in
:mod:`integration_orchestrator.connectors.postgres_load`.

Tenant isolation: the platform database is shared by every organization and reached as
its owner, so a tenant's query never runs there (a ``postgres`` source must name its own
``url``), and a ``postgres_table`` target without ``url`` may not write into the
platform's own tables (those under row-level security, ``schema_migrations``, or in a
system schema).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import psycopg
import psycopg.sql
import pyarrow as pa

from integration_orchestrator.connectors.base import (
    ConnectorContext,
    ConnectorError,
    ConnectorSpec,
    Record,
    Target,
    WriteResult,
    register_source,
    register_target,
)
from integration_orchestrator.connectors.chunks import SourceChunk, record_chunks
from integration_orchestrator.connectors.incremental import incremental_of, incremental_schema, state_value
from integration_orchestrator.connectors.postgres_ledger import (
    LEDGER_TABLE,
    LoadContext,
    latest_state,
    loaded_letters,
    recent_loads,
    record_load,
    recorded_load,
    recorded_loads,
    reset_state,
)
from integration_orchestrator.connectors.postgres_load import TableLoader
from integration_orchestrator.connectors.secrets import STRING_OR_SECRET_SCHEMA
from integration_orchestrator.db.connection import connect

__all__ = ["POSTGRES_SOURCE", "POSTGRES_TABLE_TARGET", "PostgresSource", "PostgresTableTarget", "json_value"]

_SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"const": "postgres"},
        "url": STRING_OR_SECRET_SCHEMA,
        "query": {"type": "string", "minLength": 1},
        "params": {"type": ["object", "array"]},
        "batch_size": {"type": "integer", "minimum": 1},
        "incremental": incremental_schema("cursor"),
    },
    "required": ["type", "query"],
    "additionalProperties": False,
}
_IDENTIFIER: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 63}
_TARGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"const": "postgres_table"},
        "url": STRING_OR_SECRET_SCHEMA,
        "schema": _IDENTIFIER,
        "table": _IDENTIFIER,
        "mode": {"enum": ["append", "upsert", "replace"]},
        "key": {"type": "array", "items": _IDENTIFIER, "minItems": 1, "uniqueItems": True},
        "batch_size": {"type": "integer", "minimum": 1},
        "ignore_unknown_columns": {"type": "boolean"},
    },
    "required": ["type", "table"],
    "additionalProperties": False,
    "allOf": [
        {"if": {"properties": {"mode": {"const": "upsert"}}, "required": ["mode"]}, "then": {"required": ["key"]}}
    ],
}


def _check_url(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    url = config.get("url")
    if isinstance(url, str):
        if urlsplit(url).scheme not in {"postgresql", "postgres"}:
            return [(".url", "must be a postgresql:// URL")]
        if urlsplit(url).password or "password=" in url:
            return [(".url", 'holds a password: store the whole URL as a secret and write {"$secret": "<name>"}')]
    return []


def _url(config: Mapping[str, Any], context: ConnectorContext | None, name: str) -> str:
    url = config.get("url") or (context.database_url if context else None)
    if not url:
        raise ConnectorError(name, "no `url` in the config and no default database given by the caller")
    return str(url)


def _iso(value: dt.date | dt.time) -> str:
    return value.isoformat()


def _decimal(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


_CONVERTERS: dict[type, Callable[[Any], Any]] = {
    dt.datetime: _iso,
    dt.date: _iso,
    dt.time: _iso,
    dt.timedelta: lambda v: v.total_seconds(),
    Decimal: _decimal,
    uuid.UUID: str,
    bytes: lambda v: v.hex(),
    memoryview: lambda v: bytes(v).hex(),
}


def json_value(value: Any) -> Any:
    """``value`` as JSON-compatible Python (dates as ISO text, numerics as numbers, ...)."""
    converter = _CONVERTERS.get(type(value))
    if converter is not None:
        return converter(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


class PostgresSource:
    """Runs ``query`` with ``params`` in a read-only transaction, streaming rows by batch."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.name = "postgres source"
        if not config.get("url"):
            raise ConnectorError(
                self.name,
                "needs its own `url` (a secret holding the URL of a role allowed to read the data): "
                "queries never run on the platform database, which every organization shares",
            )
        self.url = _url(config, context, self.name)
        self.query = str(config["query"])
        self.params = config.get("params")
        self.batch_size = int(config.get("batch_size", 5000))
        self.incremental = incremental_of(config, context)

    def read(self) -> Iterator[list[Record]]:
        with connect(self.url) as conn:
            conn.read_only = True
            try:
                with conn.transaction(), conn.cursor(name=f"io_source_{uuid.uuid4().hex[:8]}") as cursor:
                    cursor.execute(self._statement(conn), self.params)
                    while rows := cursor.fetchmany(self.batch_size):
                        self._advance(rows)
                        yield [{k: json_value(v) for k, v in row.items()} for row in rows]
            except psycopg.Error as exc:
                raise ConnectorError(self.name, f"the query failed: {_pg_message(exc)}") from exc

    def _statement(self, conn: psycopg.Connection[Any]) -> str:
        """The query; incremental: only rows past the state (a literal, so the query's own
        placeholders are untouched), in cursor order."""
        if self.incremental is None:
            return self.query
        declared, run = self.incremental
        column = "io_incremental." + psycopg.sql.Identifier(declared["cursor_field"]).as_string(conn)
        state = run.cursor() if run.state is not None else declared.get("initial")
        where = "" if state is None else f" WHERE {column} > {psycopg.sql.Literal(state).as_string(conn)}"
        # the query is the config's own; the column is a quoted identifier, the state a quoted literal
        return f"SELECT * FROM ({self.query}\n) AS io_incremental{where} ORDER BY {column} NULLS FIRST"  # noqa: S608

    def _advance(self, rows: list[dict[str, Any]]) -> None:
        """The new state: the cursor of the last row read (rows come in cursor order)."""
        if self.incremental is None:
            return
        declared, run = self.incremental
        run.count("rows", len(rows))
        value = rows[-1].get(declared["cursor_field"])
        if value is not None:
            run.new_state = {"cursor": state_value(value)}

    def read_batches(self) -> Iterator[SourceChunk]:
        """One record batch per server-side cursor fetch, values as ``read()`` gives them."""
        return record_chunks(self.read())


class PostgresTableTarget(Target):
    """Loads records or record batches into an existing table in one transaction (see ``postgres_load``)."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.schema = config.get("schema")
        self.table = str(config["table"])
        qualified = f"{self.schema}.{self.table}" if self.schema else self.table
        self.name = f"postgres_table target `{qualified}`"
        self.url = _url(config, context, self.name)
        self.on_platform_database = not config.get("url")
        #: the platform's own database (no ``url``, or the same URL): the caller's write-back can join the load
        self.same_as_platform = self.on_platform_database or (context is not None and self.url == context.database_url)
        self.mode = str(config.get("mode", "append"))
        self.key: list[str] = list(config.get("key") or [])
        self.batch_size = int(config.get("batch_size", 10000))
        self.ignore_unknown_columns = bool(config.get("ignore_unknown_columns", False))

    def write(
        self, records: Iterable[Record] | Iterable[list[Record]], load_context: LoadContext | None = None
    ) -> WriteResult:
        return self._load(
            lambda loader: loader.load(records, mode=self.mode, key=self.key, batch_size=self.batch_size),
            load_context,
        )

    def write_batches(self, batches: Iterable[pa.RecordBatch], load_context: LoadContext | None = None) -> WriteResult:
        """COPY the batches without making records where it can; the table and any error are
        exactly those of ``write`` with the batches' records.

        With ``load_context``, the load is recorded in the ledger (``postgres_ledger``) in
        the same transaction, and a run id already recorded loads nothing and returns
        the recorded counts."""
        return self._load(
            lambda loader: loader.load_batches(batches, mode=self.mode, key=self.key, batch_size=self.batch_size),
            load_context,
        )

    def recorded_loads(self, run_ids: Iterable[str]) -> dict[str, WriteResult]:
        """The ledger's results for ``run_ids`` (for the reconciler)."""
        with connect(self.url) as conn:
            return recorded_loads(conn, self.schema, run_ids)

    def latest_state(self, config_id: str) -> Any:
        """The integration's incremental state in this target's ledger (None: none yet)."""
        with connect(self.url) as conn:
            return latest_state(conn, self.schema, config_id)

    def recent_loads(self, config_id: str, limit: int = 10) -> list[dict[str, Any]]:
        """The integration's newest ledger rows (loads and resets), newest first."""
        with connect(self.url) as conn:
            return recent_loads(conn, self.schema, config_id, limit)

    def reset_state(self, config_id: str, state: Any = None) -> str:
        """Record a reset: the next run starts from ``state`` (None: from the start). Returns its ledger id."""
        run_id = f"reset:{uuid.uuid4()}"
        with connect(self.url) as conn:
            reset_state(conn, self.schema, config_id, state, run_id, self.name)
        return run_id

    def loaded_letters(self, letter_ids: Iterable[str]) -> set[str]:
        """Which dead letters a committed replay already wrote here."""
        with connect(self.url) as conn:
            return loaded_letters(conn, self.schema, letter_ids)

    def _load(self, run: Callable[[TableLoader], WriteResult], load: LoadContext | None = None) -> WriteResult:
        if load is not None and load.connection is not None and self.same_as_platform:
            return self._joined(load.connection, run, load)
        with connect(self.url) as conn:
            if self.on_platform_database:
                self._refuse_platform_table(conn)
                conn.rollback()
            return self._transaction(conn, run, load)

    def _joined(self, conn: psycopg.Connection[Any], run: Callable[[TableLoader], WriteResult],
                load: LoadContext) -> WriteResult:
        """The load inside the caller's open transaction on the platform database: it commits with it."""
        conn.execute("RESET ROLE")  # the caller may be in a tenant transaction: load as its login role
        self._refuse_platform_table(conn)
        return self._transaction(conn, run, load)

    def _transaction(self, conn: psycopg.Connection[Any], run: Callable[[TableLoader], WriteResult],
                     load: LoadContext | None) -> WriteResult:
        loader = TableLoader(
            conn,
            schema=self.schema,
            table=self.table,
            name=self.name,
            ignore_unknown_columns=self.ignore_unknown_columns,
        )
        try:
            with conn.transaction():
                return self._ledgered(conn, loader, run, load)
        except psycopg.Error as exc:
            raise ConnectorError(self.name, f"the load was rolled back: {_pg_message(exc)}") from exc

    def _ledgered(
        self, conn: psycopg.Connection[Any], loader: TableLoader, run: Callable[[TableLoader], WriteResult],
        load: LoadContext | None,
    ) -> WriteResult:
        """The load, its ledger row and (on the platform database) the caller's write-back: one transaction."""
        if load is None:
            return run(loader)
        recorded = recorded_load(conn, self.schema, load, self.name)
        if recorded is not None:
            return recorded  # this run id already committed its load: never twice
        result = run(loader)
        record_load(conn, self.schema, load, result)
        if self.same_as_platform and load.on_platform_commit is not None:
            load.on_platform_commit(conn, result)
        return result

    def _refuse_platform_table(self, conn: psycopg.Connection[Any]) -> None:
        qualified = ".".join(psycopg.sql.Identifier(p).as_string(conn) for p in (self.schema, self.table) if p)
        row = conn.execute(
            "SELECT c.relrowsecurity AS rls, n.nspname AS schema, c.relname AS name "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
            (qualified,),
        ).fetchone()
        if row is None:
            return  # the loader reports a missing table
        values = row if isinstance(row, dict) else dict(zip(("rls", "schema", "name"), row, strict=True))
        if (
            values["rls"]
            or values["name"] in {"schema_migrations", LEDGER_TABLE}
            or values["schema"] in {"pg_catalog", "information_schema"}
        ):
            raise ConnectorError(
                self.name,
                "is a table of the platform itself; a target in the platform database must be one of "
                "your own tables (or give the target its own `url`)",
            )


def _pg_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None and diag.message_primary else str(exc).strip()
    detail = diag.message_detail if diag is not None else None
    return f"{primary} ({detail})" if detail else primary


POSTGRES_SOURCE = register_source(
    ConnectorSpec(
        type="postgres",
        role="source",
        schema=_SOURCE_SCHEMA,
        factory=PostgresSource,
        description="a query with parameters, streamed with a server-side cursor",
        check=_check_url,
    )
)
POSTGRES_TABLE_TARGET = register_target(
    ConnectorSpec(
        type="postgres_table",
        role="target",
        schema=_TARGET_SCHEMA,
        factory=PostgresTableTarget,
        description="an existing table: append, upsert on key columns, or replace; bulk COPY",
        check=_check_url,
    )
)
