"""The ``INSERT ... SELECT ... ON CONFLICT`` that merges a staging table into the target.

A row whose key exists is updated only when one of the written columns would change
(``DO UPDATE SET ... WHERE ROW(target values) IS DISTINCT FROM ROW(new values)``), so a
re-load of unchanged rows writes no new row versions and fires no UPDATE row triggers.

"Would change" must mean "is stored differently", not "compares equal": ``486.2 = 486.20``
in ``numeric``, ``'A' = 'a'`` in ``citext`` or under a nondeterministic collation, and
``'1.0'::jsonb = '1.00'::jsonb``, yet an update changes what a reader sees. So a column is
compared with ``IS DISTINCT FROM`` only where equality is identity (the types below, and
text types under the byte-wise ``"C"`` collation); any other column is compared through
its type's output function, the text every client reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

__all__ = ["Column", "upsert_statement"]

#: types whose equality holds only between identical stored values
_IDENTITY_EQUALITY = frozenset({"int2", "int4", "int8", "bool", "date", "uuid", "timestamp", "timestamptz", "oid"})
_TEXT = frozenset({"text", "varchar"})


@dataclass(frozen=True)
class Column:
    """A writable column of the target: its name, SQL type, JSON-ness, type name and output function."""

    name: str
    type: str
    is_json: bool
    typname: str = "text"
    output: str = "textout"


def _compared(column: Column, alias: str) -> sql.Composable:
    """``alias.column`` as compared for "unchanged"."""
    ref = sql.SQL("{}.{}").format(sql.Identifier(alias), sql.Identifier(column.name))
    if column.typname in _IDENTITY_EQUALITY:
        return ref
    if column.typname in _TEXT:
        return sql.SQL('{} COLLATE "C"').format(ref)
    # output: a regproc rendered by PostgreSQL itself (quoted and qualified as needed)
    return sql.SQL('({}({}))::text COLLATE "C"').format(sql.SQL(column.output), ref)


def _unchanged_filter(updates: Sequence[Column]) -> sql.Composable:
    target = sql.SQL(", ").join(_compared(c, "t") for c in updates)
    new = sql.SQL(", ").join(_compared(c, "excluded") for c in updates)
    return sql.SQL("WHERE ROW({}) IS DISTINCT FROM ROW({})").format(target, new)


def upsert_statement(
    *,
    target: sql.Composable,
    stage: sql.Identifier,
    columns: Sequence[Column],
    key: Sequence[str],
    dedupe: bool,
    seq: str,
) -> sql.Composed:
    """``INSERT INTO target ... SELECT ... FROM stage ON CONFLICT (key) DO UPDATE ... WHERE changed``.

    ``dedupe``: keep only the last staged row of each key (highest ``seq``).
    """
    cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    updates = [c for c in columns if c.name not in key]
    action: sql.Composable
    if updates:
        action = sql.SQL("DO UPDATE SET {} {}").format(
            sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c.name)) for c in updates),
            _unchanged_filter(updates),
        )
    else:
        action = sql.SQL("DO NOTHING")
    if dedupe:
        select = sql.SQL("SELECT DISTINCT ON ({keys}) {cols} FROM {stage} ORDER BY {keys}, {seq} DESC")
    else:
        select = sql.SQL("SELECT {cols} FROM {stage}")
    return sql.SQL("INSERT INTO {target} AS t ({cols}) {select} ON CONFLICT ({keys}) {action}").format(
        target=target,
        cols=cols,
        keys=keys,
        action=action,
        select=select.format(keys=keys, cols=cols, stage=stage, seq=sql.Identifier(seq)),
    )
