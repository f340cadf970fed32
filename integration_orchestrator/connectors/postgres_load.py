"""Bulk loading of records into an existing PostgreSQL table, inside the caller's transaction.

- ``append``: ``COPY`` straight into the table (per batch, the batch's columns); on a table
  whose row-level security applies to the session (no ``COPY FROM`` there), each batch is
  COPied into staging and INSERTed from it.
- ``upsert``: ``COPY`` into a temporary staging table shaped like the target (same column
  types, no constraints), then ONE ``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE``
  that leaves rows whose written columns would not change alone (:mod:`.postgres_upsert`).
  Duplicate keys within the load are collapsed first (``DISTINCT ON (key)``), keeping the
  LAST record for each key in input order; when no key repeats (tracked while streaming)
  that sort is skipped. Into an EMPTY table (not under row-level security), records
  given as a list (readable twice) are first COPied straight in under a savepoint (an
  upsert there only inserts); a key repeated in the load or committed meanwhile by
  another transaction raises a unique violation, the savepoint is rolled back and the
  staging path runs.
- ``replace``: ``COPY`` into staging, then ``TRUNCATE`` + one ``INSERT`` (the table is
  locked only for that last step).

Columns: a record field must be a column of the table (else an error, or dropped with
``ignore_unknown_columns``). The columns written are those that appear in any record; a
record lacking one of them writes NULL there. Columns that appear in no record keep their
default on insert and their value on update. JSON/JSONB columns receive any JSON value.
Identifiers are always quoted with ``psycopg.sql``.

Loads arrive as lists of records (``load``) or Arrow record batches (``load_batches``);
both run the same algorithm over chunks (:mod:`.postgres_chunks`) and leave the same table.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import orjson
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.abc import Params, QueryNoTemplate
from psycopg.rows import dict_row
from psycopg.types.json import JsonDumper, set_json_dumps

from integration_orchestrator.connectors.base import ConnectorError, WriteResult
from integration_orchestrator.connectors.postgres_chunks import (
    Chunk,
    Copier,
    KeyTracker,
    batch_chunks,
    record_chunks,
)
from integration_orchestrator.connectors.postgres_upsert import Column, upsert_statement

__all__ = ["Column", "TableLoader"]

_SEQ = "__io_seq"
_JSON_TYPES = {"json", "jsonb"}
Chunks = Callable[[], Iterable[Chunk]]


class TableLoader:
    """Loads records or record batches into ``schema.table`` through ``conn`` (the caller owns the transaction)."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        schema: str | None,
        table: str,
        name: str,
        ignore_unknown_columns: bool = False,
    ) -> None:
        self.conn = conn
        self.target = sql.Identifier(schema, table) if schema else sql.Identifier(table)
        self.name = name
        self.ignore_unknown_columns = ignore_unknown_columns
        self._columns: dict[str, Column] | None = None
        self._oid: int | None = None
        self._copier: Copier | None = None
        # A dict value in a non-JSON column is written as JSON text (psycopg has no default).
        conn.adapters.register_dumper(dict, JsonDumper)
        set_json_dumps(_dumps, context=conn)

    def _rows(self, query: QueryNoTemplate, params: Params | None = None) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cursor:
            cursor.execute(query, params)
            return cursor.fetchall()

    # -- table metadata -------------------------------------------------------------

    def columns(self) -> dict[str, Column]:
        """The writable columns of the target table, in table order."""
        if self._columns is None:
            oid = self._table_oid()
            rows = self._rows(
                """
                SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname,
                       t.typoutput::regproc::text AS output
                FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
                ORDER BY a.attnum
                """,
                (oid,),
            )
            self._columns = {
                r["name"]: Column(r["name"], r["type"], r["typname"] in _JSON_TYPES, r["typname"], r["output"])
                for r in rows
            }
        return self._columns

    def _table_oid(self) -> int:
        if self._oid is not None:
            return self._oid
        oid = self._rows("SELECT to_regclass(%s)::oid AS oid", (self.target.as_string(self.conn),))[0]["oid"]
        if oid is None:
            raise ConnectorError(
                self.name, "the table does not exist (create it first; the loader never creates tables)"
            )
        self._oid = int(oid)
        return self._oid

    def check_key(self, key: Sequence[str]) -> None:
        """The key columns exist and a unique index/constraint covers exactly them."""
        missing = [k for k in key if k not in self.columns()]
        if missing:
            raise ConnectorError(
                self.name, f"key column(s) {', '.join(map(repr, missing))} are not columns of the table"
            )
        rows = self._rows(
            """
            SELECT 1 FROM pg_index i
            WHERE i.indrelid = %s AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
              AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                   WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) = %s::text[]
            """,
            (self._table_oid(), sorted(key)),
        )
        if not rows:
            raise ConnectorError(
                self.name,
                f"upsert needs a unique index or primary key on exactly ({', '.join(key)}); the table has none",
            )

    # -- loading --------------------------------------------------------------------

    def load(self, records: Iterable[Any], *, mode: str, key: Sequence[str], batch_size: int) -> WriteResult:
        """Load records (or lists of records); a list is readable twice (see the upsert into an empty table)."""
        if isinstance(records, list):  # already in memory: can be read twice (a stream is not)
            chunks = list(record_chunks(records, batch_size))
            return self._load(lambda: chunks, mode=mode, key=key, rereadable=True)
        return self._load(lambda: record_chunks(records, batch_size), mode=mode, key=key, rereadable=False)

    def load_batches(
        self, batches: Iterable[pa.RecordBatch], *, mode: str, key: Sequence[str], batch_size: int
    ) -> WriteResult:
        """Load Arrow record batches; the table receives what ``load`` of their records would write.

        ``batches`` that is not an iterator (a list, or any iterable giving a fresh pass
        each time) is readable twice, like a list of records.
        """
        rereadable = not isinstance(batches, Iterator)
        return self._load(lambda: batch_chunks(batches, batch_size), mode=mode, key=key, rereadable=rereadable)

    def _load(self, chunks: Chunks, *, mode: str, key: Sequence[str], rereadable: bool) -> WriteResult:
        self.conn.execute("SET LOCAL work_mem = '256MB'")
        if mode == "append":
            return self._append(chunks())
        if mode == "upsert":
            self.check_key(key)
            if rereadable:
                direct = self._insert_into_empty(chunks, key)
                if direct is not None:
                    return direct
        stage = self._create_stage(with_seq=mode == "upsert")
        tracker = KeyTracker()
        count = 0
        seen: dict[str, None] = {}
        for chunk in chunks():
            seen.update(dict.fromkeys(self._copy(stage, chunk)))
            if mode == "upsert":
                tracker.add(chunk.keys(key))
            count += chunk.rows
        columns = [c for c in self.columns() if c in seen]
        if mode == "replace":
            return self._replace(stage, columns, count)
        return self._upsert(stage, columns, list(key), count, maybe_duplicates=tracker.duplicates)

    def _insert_into_empty(self, chunks: Chunks, key: Sequence[str]) -> WriteResult | None:
        """Upsert into an empty table: COPY straight into it, under a savepoint.

        Into a table holding none of the keys, an upsert inserts every record, which is
        what a plain COPY does. A key that repeats in the load or that a concurrent
        transaction committed first makes the COPY fail with a unique violation (the key
        has a unique index, :meth:`check_key`): the savepoint is rolled back and the load
        goes through the staging table. No key is kept in Python, so memory does not grow
        with the load. None: take the staging path.
        """
        fields: set[str] = set()
        rows = 0
        for chunk in chunks():  # chunks are never empty
            fields |= chunk.fields()
            rows += chunk.rows
        if not rows or not self._copy_allowed() or not self._is_empty():
            return None
        names = self._known_columns(fields)
        if any(k not in names for k in key):
            return None  # the staging path explains the missing key column
        count = 0
        try:
            with self.conn.transaction():
                for chunk in chunks():
                    self._copy(self.target, chunk, names=names)
                    count += chunk.rows
        except psycopg.errors.UniqueViolation:
            return None
        return WriteResult(rows_written=count, inserted=count, updated=0, unchanged=0)

    def _append(self, chunks: Iterable[Chunk]) -> WriteResult:
        """COPY each chunk into the table; under row-level security (no COPY FROM there),
        COPY into staging and INSERT the chunk from it."""
        count = 0
        stage = None if self._copy_allowed() else self._create_stage(with_seq=False)
        for chunk in chunks:
            if stage is None:
                self._copy(self.target, chunk)
            else:
                self.conn.execute(sql.SQL("TRUNCATE {}").format(stage))
                cols = sql.SQL(", ").join(map(sql.Identifier, self._copy(stage, chunk)))
                self.conn.execute(
                    sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(self.target, cols, cols, stage)
                )
            count += chunk.rows
        return WriteResult(rows_written=count, inserted=count, updated=0)

    def _copy_allowed(self) -> bool:
        """COPY FROM is refused on a table whose row-level security applies to this session."""
        rows = self._rows("SELECT NOT row_security_active(%s) AS allowed", (self._table_oid(),))
        return bool(rows[0]["allowed"])

    def _is_empty(self) -> bool:
        return bool(
            self._rows(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {}) AS empty").format(self.target))[0]["empty"]
        )

    def _create_stage(self, *, with_seq: bool) -> sql.Identifier:
        stage = sql.Identifier(f"io_stage_{uuid.uuid4().hex[:12]}")
        self.conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                stage, sql.SQL(", ").join(map(sql.Identifier, self.columns())), self.target
            )
        )
        if with_seq:  # numbered by PostgreSQL in COPY order: the input order, for "last record wins"
            self.conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} bigint GENERATED ALWAYS AS IDENTITY").format(
                    stage, sql.Identifier(_SEQ)
                )
            )
        return stage

    def _known_columns(self, fields: set[str]) -> list[str]:
        """The table's columns among ``fields`` (table order); unknown fields are an error
        unless ``ignore_unknown_columns``."""
        known = self.columns()
        unknown = sorted(fields - known.keys())
        if unknown and not self.ignore_unknown_columns:
            raise ConnectorError(
                self.name,
                f"record field(s) {', '.join(map(repr, unknown))} are not columns of the table "
                "(set `ignore_unknown_columns: true` to drop them)",
            )
        return [c for c in known if c in fields]

    def _copy(self, table: sql.Identifier, chunk: Chunk, *, names: list[str] | None = None) -> list[str]:
        """COPY ``chunk`` into ``table`` (its own columns, or ``names``); returns the columns it wrote."""
        names = names or self._known_columns(chunk.fields())
        if not names:
            raise ConnectorError(self.name, "the records have no field that is a column of the table")
        if self._copier is None:
            self._copier = Copier(self.conn, [n for n, c in self.columns().items() if c.is_json])
        chunk.copy(self._copier, table, names)
        return names

    def _replace(self, stage: sql.Identifier, columns: list[str], count: int) -> WriteResult:
        self.conn.execute(sql.SQL("TRUNCATE {}").format(self.target))
        if columns:
            cols = sql.SQL(", ").join(map(sql.Identifier, columns))
            self.conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(self.target, cols, cols, stage))
        return WriteResult(rows_written=count, inserted=count, updated=0)

    def _upsert(
        self, stage: sql.Identifier, columns: list[str], key: list[str], count: int, *, maybe_duplicates: bool
    ) -> WriteResult:
        if count == 0:
            return WriteResult(rows_written=0, inserted=0, updated=0, unchanged=0)
        missing = [k for k in key if k not in columns]
        if missing:
            raise ConnectorError(self.name, f"upsert key column(s) {', '.join(map(repr, missing))} are in no record")
        if not maybe_duplicates:
            # No key seen twice on the Python side: skip the dedupe sort. Values that differ in
            # Python but are equal in PostgreSQL ('1' and 1) make the INSERT fail with a
            # cardinality violation; it is then run again with the dedupe.
            try:
                with self.conn.transaction():
                    return self._insert_on_conflict(stage, columns, key, dedupe=False, distinct=count)
            except psycopg.errors.CardinalityViolation:
                pass
        return self._insert_on_conflict(stage, columns, key, dedupe=True, distinct=None)

    def _insert_on_conflict(
        self, stage: sql.Identifier, columns: list[str], key: list[str], *, dedupe: bool, distinct: int | None
    ) -> WriteResult:
        """Run the merge; ``distinct``: the number of distinct keys staged (counted here when None).

        Counts: ``inserted`` and ``updated`` are rows PostgreSQL inserted and changed;
        ``unchanged`` are staged rows whose key exists with equal values (not rewritten).
        ``rows_written`` is every distinct staged key (inserted + updated + unchanged),
        as before unchanged rows were skipped; with ``DO NOTHING`` (every column in the
        key) only the inserted rows, as always.
        """
        known = self.columns()
        statement = upsert_statement(
            target=self.target, stage=stage, columns=[known[c] for c in columns], key=key, dedupe=dedupe, seq=_SEQ
        )
        if distinct is None:
            keys = sql.SQL(", ").join(map(sql.Identifier, key))
            distinct = int(
                self._rows(sql.SQL("SELECT count(*) AS n FROM (SELECT DISTINCT {} FROM {}) d").format(keys, stage))[
                    0
                ]["n"]
            )
        before = self._tuple_counts()
        with self.conn.cursor() as cursor:
            cursor.execute(statement)
            total = cursor.rowcount
        after = self._tuple_counts()
        inserted, updated = after[0] - before[0], after[1] - before[1]
        unchanged = distinct - total
        written = total if len(columns) == len(key) else distinct
        if inserted + updated != total:  # e.g. a partitioned table: the split is unknown
            return WriteResult(rows_written=written, unchanged=unchanged)
        return WriteResult(rows_written=written, inserted=inserted, updated=updated, unchanged=unchanged)

    def _tuple_counts(self) -> tuple[int, int]:
        """Rows inserted/updated in the target so far by this transaction (statistics
        counters: cheaper than RETURNING a row per record)."""
        row = self._rows(
            "SELECT pg_stat_get_xact_tuples_inserted(%(oid)s) AS inserted,"
            " pg_stat_get_xact_tuples_updated(%(oid)s) AS updated",
            {"oid": self._table_oid()},
        )[0]
        return int(row["inserted"]), int(row["updated"])


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
