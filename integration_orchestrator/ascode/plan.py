"""What applying files would change: one :class:`Change` per object, with field diffs.

Objects are found by natural key, never by id: a transformation by
``transformation_name`` in the organization, an integration by ``integration_name``,
inside it a mapping by (``source_path``, ``target_path``), a mapping's test by
``test_name``, a pipeline by ``pipeline_name``, a schedule by ``schedule_name``. Two rows
of the database sharing a key make the key ambiguous: an error, nothing is guessed.
Reads run in the caller's tenant transaction (row-level security of the organization).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from integration_orchestrator.ascode.columns import (
    CONFIGS,
    MAPPING_TESTS,
    MAPPINGS,
    PIPELINES,
    SCHEDULES,
    TRANSFORMATIONS,
    Table,
)
from integration_orchestrator.ascode.document import Document
from integration_orchestrator.ascode.portable import canonical, file_values, row_values

__all__ = ["Change", "Plan", "build_plan", "select_rows", "transformation_names"]

CREATE, UPDATE, UNCHANGED, EXTRA = "create", "update", "unchanged", "not in file"


@dataclass
class Change:
    """One object of a file and what applying it does."""

    action: str  # create | update | unchanged | not in file (kept as is)
    table: Table
    label: str
    values: dict[str, Any]  # managed values, file form
    path: tuple[str | int, ...]  # where the object is in its document
    document: Document | None
    row_id: str | None = None
    diffs: list[tuple[str, Any, Any]] = field(default_factory=list)
    parent: Change | None = None


@dataclass
class Plan:
    organization_id: str
    changes: list[Change]
    organization: str | None = None  # its slug or name, for people

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changed(self) -> bool:
        return any(c.action in (CREATE, UPDATE) for c in self.changes)


def select_rows(conn: psycopg.Connection[Any], table: Table, where: str | None = None, value: Any = None) -> list[Any]:
    """The rows of ``table`` the transaction sees (those whose ``where`` column is ``value``), oldest first."""
    query = sql.SQL("SELECT * FROM {}").format(sql.Identifier(table.table))
    if where:
        query += sql.SQL(" WHERE {} = %s").format(sql.Identifier(where))
    query += sql.SQL(" ORDER BY created_at, id")
    return list(conn.execute(query, (value,) if where else ()).fetchall())


def transformation_names(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """id → name of the organization's transformations."""
    return {str(r["id"]): r["transformation_name"] for r in select_rows(conn, TRANSFORMATIONS)}


class _Matcher:
    """Existing rows of one table under one parent, by natural key."""

    def __init__(self, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
        self.table = table
        self.rows: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            self.rows.setdefault(tuple(row[k] for k in table.key), []).append(row)
        self.seen: dict[tuple[Any, ...], str] = {}

    def find(
        self, document: Document, path: Sequence[str | int], values: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        key = tuple(values[k] for k in self.table.key)
        if key in self.seen:
            first = self.seen[key]
            where = "this file" if first == document.file else f"file `{first}`"
            raise document.error(
                f"a second {self.table.kind} with the key {_key_text(self.table, key)} (the first is in {where})", path)
        self.seen[key] = document.file
        found = self.rows.get(key, [])
        if len(found) > 1:
            ids = ", ".join(str(r["id"]) for r in found)
            raise document.error(
                f"{len(found)} {self.table.kind} rows of the database have the key {_key_text(self.table, key)} "
                f"({ids}); rename or delete all but one first", path)
        return found[0] if found else None

    def extras(self) -> list[Mapping[str, Any]]:
        return [rows[0] for key, rows in self.rows.items() if key not in self.seen]


def _key_text(table: Table, key: tuple[Any, ...]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in zip(table.key, key, strict=True))


def _label(table: Table, values: Mapping[str, Any], parent: Change | None) -> str:
    if table is MAPPINGS:
        text = f"mapping `{values['mapping_name']}` ({values['source_path']} → {values['target_path']})"
    else:
        text = f"{table.kind} `{values[table.key[0]]}`"
    return f"{parent.label} > {text}" if parent is not None else text


def _diff(table: Table, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(c, old[c], new[c]) for c in table.columns if canonical(old[c]) != canonical(new[c])]


class _Planner:
    def __init__(self, conn: psycopg.Connection[Any], organization_id: str, documents: Sequence[Document]) -> None:
        self.conn = conn
        self.documents = documents
        self.changes: list[Change] = []
        self.names = transformation_names(conn)
        self.plan = Plan(organization_id, self.changes)

    def add(self, document: Document, table: Table, item: Mapping[str, Any], path: tuple[str | int, ...],
            matcher: _Matcher, parent: Change | None, mapping_names: Mapping[str, str] | None = None) -> Change:
        values = file_values(table, {k: v for k, v in item.items() if k in table.columns})
        row = matcher.find(document, path, values)
        change = Change(CREATE, table, _label(table, values, parent), values, path, document, parent=parent)
        if row is not None:
            old = row_values(table, row, self.names, mapping_names)
            change.row_id = str(row["id"])
            change.diffs = _diff(table, old, values)
            change.action = UPDATE if change.diffs else UNCHANGED
        self.changes.append(change)
        return change

    def extras(self, matcher: _Matcher, parent: Change | None) -> None:
        for row in matcher.extras():
            values = file_values(matcher.table, row)
            self.changes.append(Change(EXTRA, matcher.table, _label(matcher.table, values, parent), values, (),
                                       None, str(row["id"]), parent=parent))

    def run(self) -> Plan:
        transformations = _Matcher(TRANSFORMATIONS, select_rows(self.conn, TRANSFORMATIONS))
        configs = _Matcher(CONFIGS, select_rows(self.conn, CONFIGS))
        for document in self.documents:
            for i, item in enumerate(document.data.get("transformations") or []):
                self.add(document, TRANSFORMATIONS, item, ("transformations", i), transformations, None)
        known = set(self.names.values()) | {c.values["transformation_name"] for c in self.changes}
        named = list(self.names.values())
        known -= {name for name in named if named.count(name) > 1}  # ambiguous: refused by name
        for document in self.documents:
            for i, item in enumerate(document.data.get("integrations") or []):
                self.integration(document, item, ("integrations", i), configs, known)
        return self.plan

    def integration(self, document: Document, item: Mapping[str, Any], path: tuple[str | int, ...],
                    configs: _Matcher, known: set[str]) -> None:
        config = self.add(document, CONFIGS, item, path, configs, None)
        rows = {table: [] if config.row_id is None else select_rows(self.conn, table, "config_id", config.row_id)
                for table in (MAPPINGS, PIPELINES, SCHEDULES)}
        mapping_names = {str(r["id"]): r["mapping_name"] for r in rows[MAPPINGS]}
        _check_references(document, item, path, known)
        mappings = _Matcher(MAPPINGS, rows[MAPPINGS])
        for i, mapping in enumerate(item.get("mappings") or []):
            where = (*path, "mappings", i)
            change = self.add(document, MAPPINGS, mapping, where, mappings, config, mapping_names)
            tests = _Matcher(MAPPING_TESTS, [] if change.row_id is None else
                             select_rows(self.conn, MAPPING_TESTS, "mapping_id", change.row_id))
            for j, test in enumerate(mapping.get("tests") or []):
                self.add(document, MAPPING_TESTS, test, (*where, "tests", j), tests, change)
            self.extras(tests, change)
        self.extras(mappings, config)
        for key, table in (("pipelines", PIPELINES), ("schedules", SCHEDULES)):
            matcher = _Matcher(table, rows[table])
            for i, child in enumerate(item.get(key) or []):
                self.add(document, table, child, (*path, key, i), matcher, config)
            self.extras(matcher, config)


def _check_references(document: Document, item: Mapping[str, Any], path: tuple[str | int, ...],
                      known: set[str]) -> None:
    """Every ``transformation_name`` a step or rule gives exists (in the file or the database)."""
    for i, pipeline in enumerate(item.get("pipelines") or []):
        for j, step in enumerate((pipeline.get("pipeline_steps") or {}).get("steps") or []):
            name = step.get("transformation_name")
            if name is not None and name not in known:
                raise document.error(_unknown(name), (*path, "pipelines", i),
                                     field=f"pipeline_steps.steps[{j}].transformation_name")
    for i, mapping in enumerate(item.get("mappings") or []):
        for name in _rule_references(mapping.get("transformation_rules")):
            if name not in known:
                raise document.error(_unknown(name), (*path, "mappings", i), field="transformation_rules")


def _unknown(name: str) -> str:
    return f"no transformation named `{name}` in the file or the organization (or several: give each its own name)"


def _rule_references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["transformation_name"]] if isinstance(value.get("transformation_name"), str) else []
        return found + [n for v in value.values() for n in _rule_references(v)]
    if isinstance(value, list):
        return [n for v in value for n in _rule_references(v)]
    return []


def build_plan(conn: psycopg.Connection[Any], organization_id: str, documents: Sequence[Document]) -> Plan:
    """The plan of ``documents`` against the organization's rows (read in the caller's transaction)."""
    return _Planner(conn, organization_id, documents).run()
