"""Row-level security: an application session of organization A never reads or writes
organization B's rows, in every table of the schema (found in the catalog, so a new table
without isolation fails here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.types.json import Jsonb

from integration_orchestrator.db import connect, tenant_transaction
from integration_orchestrator.db.schema import (
    APP_ROLE,
    ORGANIZATIONS_TABLE,
    READ_ONLY_TABLES,
    SYSTEM_READABLE_TABLES,
    TENANT_TABLES,
)
from integration_orchestrator_tests.rows import insert_row, populate_organization, valid_row

Conn = psycopg.Connection[dict[str, Any]]


_SKIPPED = ("schema_migrations",)


def _catalog_tables(sdb: Conn) -> list[str]:
    rows = sdb.execute(
        "SELECT c.relname FROM pg_class c WHERE c.relkind IN ('r', 'p') "
        "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
    ).fetchall()
    return [r["relname"] for r in rows if r["relname"] not in _SKIPPED]


def _tables_with_org(sdb: Conn) -> list[str]:
    rows = sdb.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE a.attname = 'organization_id' AND NOT a.attisdropped AND c.relkind IN ('r', 'p') "
        "AND c.relnamespace = current_schema()::regnamespace ORDER BY 1"
    ).fetchall()
    return [r["relname"] for r in rows]


@pytest.fixture(scope="module")
def two_orgs(sdb: Conn) -> tuple[dict[str, Any], dict[str, Any]]:
    a = populate_organization(sdb, "a")
    b = populate_organization(sdb, "b")
    return a, b


@pytest.fixture(scope="module")
def app(shared_database_url: str) -> Iterator[Conn]:
    """A second connection that the tests switch to the application role per transaction."""
    with connect(shared_database_url, autocommit=True) as conn:
        yield conn


def _snapshot(sdb: Conn, table: str, org: Any) -> list[dict[str, Any]]:
    column = "id" if table == ORGANIZATIONS_TABLE else "organization_id"
    query = sql.SQL("SELECT to_jsonb(t) AS r FROM {} t WHERE {} = %s ORDER BY to_jsonb(t)::text").format(
        sql.Identifier(table), sql.Identifier(column)
    )
    return [r["r"] for r in sdb.execute(query, (org,)).fetchall()]


def _attempt(app: Conn, org: Any, statement: sql.SQL | sql.Composed, params: tuple[Any, ...] = ()) -> str:
    """Run ``statement`` as the app role of ``org``: 'rows=N' or the SQLSTATE it failed with."""
    try:
        with tenant_transaction(app, org):
            cursor = app.execute(statement, params)
            return f"rows={cursor.rowcount}"
    except psycopg.Error as exc:
        return exc.sqlstate or type(exc).__name__


def test_every_table_has_row_level_security_and_a_policy(sdb: Conn) -> None:
    tables = _catalog_tables(sdb)
    rls = {
        r["relname"]: r["relrowsecurity"]
        for r in sdb.execute(
            "SELECT relname, relrowsecurity FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
        ).fetchall()
    }
    policies: dict[str, list[str]] = {}
    for r in sdb.execute("SELECT tablename, policyname, roles FROM pg_policies WHERE schemaname = current_schema()"):
        assert APP_ROLE in r["roles"], f"policy {r['policyname']} on {r['tablename']} is not for {APP_ROLE}"
        policies.setdefault(r["tablename"], []).append(r["policyname"])
    missing = [t for t in tables if not rls[t] or t not in policies]
    assert missing == [], f"tables without row-level security or without a policy: {missing}"
    assert set(tables) == set(TENANT_TABLES) | {ORGANIZATIONS_TABLE}
    assert _tables_with_org(sdb) == sorted(TENANT_TABLES)


def test_the_app_role_is_not_the_owner_and_bypasses_nothing(sdb: Conn) -> None:
    role = sdb.execute(
        "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
    ).fetchone()
    assert role == {"rolsuper": False, "rolbypassrls": False, "rolcanlogin": False}
    owners = sdb.execute(
        "SELECT count(*) AS n FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
        "AND relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (APP_ROLE,),
    ).fetchone()
    assert owners["n"] == 0


def test_app_session_reads_only_its_organization(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, _b = two_orgs
    problems = []
    for table in _tables_with_org(sdb):
        with tenant_transaction(app, a["organizations"]):
            own = app.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(table))).fetchone()["n"]
            foreign = app.execute(
                sql.SQL("SELECT count(*) AS n FROM {} WHERE organization_id IS DISTINCT FROM %s").format(
                    sql.Identifier(table)
                ),
                (a["organizations"],),
            ).fetchone()["n"]
        system = table in SYSTEM_READABLE_TABLES
        if own == 0:
            problems.append(f"{table}: org A sees none of its own rows (extend rows.populate_organization)")
        if foreign and not system:
            problems.append(f"{table}: org A sees {foreign} rows of another organization")
    assert problems == []
    with tenant_transaction(app, a["organizations"]):
        orgs = app.execute("SELECT id FROM organizations").fetchall()
    assert orgs == [{"id": a["organizations"]}]


def test_app_session_cannot_write_another_organizations_rows(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, b = two_orgs
    org_a, org_b = a["organizations"], b["organizations"]
    problems = []
    for table in [*_tables_with_org(sdb), ORGANIZATIONS_TABLE]:
        ident = sql.Identifier(table)
        key = sql.Identifier("id" if table == ORGANIZATIONS_TABLE else "organization_id")
        before = _snapshot(sdb, table, org_b)
        assert before, f"{table}: org B has no rows to attack"
        own_row = sdb.execute(
            sql.SQL("SELECT id FROM {} WHERE {} = %s LIMIT 1").format(ident, key), (org_a,)
        ).fetchone()
        foreign_row = sdb.execute(
            sql.SQL("SELECT to_jsonb(t) AS r FROM {} t WHERE {} = %s LIMIT 1").format(ident, key), (org_b,)
        ).fetchone()["r"]
        copy = {k: v for k, v in foreign_row.items() if k != "id"}
        columns = sql.SQL(", ").join(map(sql.Identifier, copy))
        attempts = {
            "update": _attempt(
                app, org_a, sql.SQL("UPDATE {} SET {} = {} WHERE {} = %s").format(ident, key, key, key), (org_b,)
            ),
            "delete": _attempt(app, org_a, sql.SQL("DELETE FROM {} WHERE {} = %s").format(ident, key), (org_b,)),
            "insert": _attempt(
                app,
                org_a,
                sql.SQL("INSERT INTO {} ({}) SELECT {} FROM jsonb_populate_record(NULL::{}, %s)").format(
                    ident, columns, columns, ident
                ),
                (Jsonb(copy),),
            ),
        }
        if own_row is not None:
            attempts["move own row to B"] = _attempt(
                app, org_a, sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(ident, key), (org_b, own_row["id"])
            )
        for what, outcome in attempts.items():
            # moving a row out may also be refused earlier by a trigger (e.g. 23503)
            allowed: tuple[str, ...] = ("rows=0", "42501") if what != "move own row to B" else ("42501", "23503")
            if table in READ_ONLY_TABLES:
                allowed = ("42501",)  # no write privilege at all
            if outcome not in allowed:
                problems.append(f"{table}: {what} by org A gave {outcome}")
        if _snapshot(sdb, table, org_b) != before:
            problems.append(f"{table}: org B's rows changed")
    assert problems == []


def test_insert_defaults_to_the_sessions_organization(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, _ = two_orgs
    row = valid_row("integration_configs", a)
    del row["organization_id"]
    with tenant_transaction(app, a["organizations"]):
        new_id = insert_row(app, "integration_configs", row)
    stored = sdb.execute("SELECT organization_id FROM integration_configs WHERE id = %s", (new_id,)).fetchone()
    assert stored["organization_id"] == a["organizations"]


def test_without_an_organization_the_app_sees_and_writes_nothing(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, _ = two_orgs
    with app.transaction():
        app.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
        counts = {
            t: app.execute(sql.SQL("SELECT count(*) AS n FROM {}").format(sql.Identifier(t))).fetchone()["n"]
            for t in [*_tables_with_org(sdb), ORGANIZATIONS_TABLE]
            if t not in SYSTEM_READABLE_TABLES
        }
    assert set(counts.values()) == {0}
    row = valid_row("integration_configs", a)
    del row["organization_id"]
    with pytest.raises((errors.InsufficientPrivilege, errors.NotNullViolation)), app.transaction():
        app.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
        insert_row(app, "integration_configs", row)


def test_rows_cannot_point_at_another_organizations_rows(app: Conn, two_orgs: Any) -> None:
    """Composite foreign keys: a mapping of A on B's config fails even though FK checks skip RLS."""
    a, b = two_orgs
    row = {**valid_row("integration_mappings", a), "config_id": b["integration_configs"]}
    with pytest.raises(errors.ForeignKeyViolation) as caught, tenant_transaction(app, a["organizations"]):
        insert_row(app, "integration_mappings", row)
    assert caught.value.diag.constraint_name == "integration_mappings_config_id_fkey"


@pytest.fixture
def system_template(sdb: Conn, two_orgs: Any) -> Any:
    row = valid_row("integration_templates", two_orgs[0])
    row["organization_id"] = None
    return insert_row(sdb, "integration_templates", row)


def test_system_templates_are_readable_but_not_writable(
    sdb: Conn, app: Conn, two_orgs: Any, system_template: Any
) -> None:
    a, _ = two_orgs
    org = a["organizations"]
    with tenant_transaction(app, org):
        visible = app.execute(
            "SELECT id FROM integration_templates WHERE organization_id IS NULL"
        ).fetchall()
    assert {"id": system_template} in visible
    before = _snapshot_system(sdb)
    tpl = sql.SQL("integration_templates")
    assert (
        _attempt(app, org, sql.SQL("UPDATE {} SET description = 'x' WHERE id = %s").format(tpl), (system_template,))
        == "rows=0"
    )
    assert _attempt(app, org, sql.SQL("DELETE FROM {} WHERE id = %s").format(tpl), (system_template,)) == "rows=0"
    assert (
        _attempt(
            app, org, sql.SQL("UPDATE {} SET organization_id = %s WHERE id = %s").format(tpl), (org, system_template)
        )
        == "rows=0"
    )
    row = {**valid_row("integration_templates", a), "organization_id": None}
    columns = sql.SQL(", ").join(map(sql.Identifier, row))
    values = sql.SQL(", ").join(sql.Placeholder() * len(row))
    assert (
        _attempt(app, org, sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(tpl, columns, values), tuple(row.values()))
        == "42501"
    )
    assert _snapshot_system(sdb) == before


def _snapshot_system(sdb: Conn) -> list[Any]:
    return [r["r"] for r in sdb.execute(
        "SELECT to_jsonb(t) AS r FROM integration_templates t WHERE organization_id IS NULL ORDER BY id"
    ).fetchall()]


def test_app_can_instantiate_a_system_template_into_its_organization(
    sdb: Conn, app: Conn, two_orgs: Any, system_template: Any
) -> None:
    a, b = two_orgs
    with tenant_transaction(app, a["organizations"]):
        config_id = app.execute(
            "SELECT create_integration_from_template(%s, 'mine', NULL, %s, NULL) AS id",
            (system_template, a["organizations"]),
        ).fetchone()["id"]
    assert sdb.execute("SELECT organization_id FROM integration_configs WHERE id = %s", (config_id,)).fetchone() == {
        "organization_id": a["organizations"]
    }
    with pytest.raises(errors.InsufficientPrivilege), tenant_transaction(app, a["organizations"]):
        app.execute(
            "SELECT create_integration_from_template(%s, 'theirs', NULL, %s, NULL)",
            (system_template, b["organizations"]),
        )
    # B's own template is invisible to A: "not found"
    with pytest.raises(errors.NoDataFound), tenant_transaction(app, a["organizations"]):
        app.execute(
            "SELECT create_integration_from_template(%s, 'x', NULL, %s, NULL)",
            (b["integration_templates"], a["organizations"]),
        )


def test_history_is_read_only_for_the_app(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, _ = two_orgs
    with tenant_transaction(app, a["organizations"]):
        app.execute("UPDATE integration_configs SET description = 'changed' WHERE id = %s", (a["integration_configs"],))
        rows = app.execute(
            "SELECT operation, version FROM integration_config_history WHERE row_id = %s ORDER BY version",
            (a["integration_configs"],),
        ).fetchall()
    assert rows[0] == {"operation": "insert", "version": 1}
    assert rows[-1]["operation"] == "update" and rows[-1]["version"] == len(rows)
    outcome = _attempt(
        app,
        a["organizations"],
        sql.SQL("DELETE FROM integration_config_history WHERE row_id = %s"),
        (a["integration_configs"],),
    )
    assert outcome == "42501"


def test_app_may_rename_its_own_organization_only(sdb: Conn, app: Conn, two_orgs: Any) -> None:
    a, b = two_orgs
    with tenant_transaction(app, a["organizations"]):
        renamed = app.execute(
            "UPDATE organizations SET name = 'Renamed' WHERE id IN (%s, %s) RETURNING id, "
            "updated_at > created_at AS touched",
            (a["organizations"], b["organizations"]),
        ).fetchall()
    assert renamed == [{"id": a["organizations"], "touched": True}]
    assert _attempt(
        app, a["organizations"], sql.SQL("UPDATE organizations SET slug = 'taken' WHERE id = %s"), (a["organizations"],)
    ) == "42501"
    names = sdb.execute("SELECT name FROM organizations WHERE id = %s", (b["organizations"],)).fetchone()
    assert names["name"] == "Org b"
