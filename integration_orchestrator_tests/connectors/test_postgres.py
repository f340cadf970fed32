"""postgres source and postgres_table target against the test database."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from integration_orchestrator.columnar import batch_to_records
from integration_orchestrator.connectors import ConnectorError, open_source, open_target, read_batches


def secrets_for(database_url: str) -> Any:
    return {"warehouse_url": database_url}.__getitem__


@pytest.fixture
def orders(db: psycopg.Connection[dict[str, Any]]) -> str:
    db.execute(
        """
        CREATE TABLE orders (
            id integer PRIMARY KEY,
            customer text NOT NULL,
            amount numeric(10, 2),
            status text NOT NULL DEFAULT 'new',
            details jsonb,
            tags text[],
            loaded_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    return "orders"


def rows(
    db: psycopg.Connection[dict[str, Any]], query: str = "SELECT id, customer, amount, status FROM orders ORDER BY id"
) -> list[dict[str, Any]]:
    return db.execute(query).fetchall()


def target(database_url: str, **options: Any) -> Any:
    config = {"type": "postgres_table", "url": {"$secret": "warehouse_url"}, "table": "orders", **options}
    return open_target(config, secrets_for(database_url))


def test_append_uses_defaults_for_absent_columns(database_url: str, db: Any, orders: str) -> None:
    result = target(database_url, batch_size=2).write(
        [
            {"id": 1, "customer": "a", "amount": "1.50"},
            {"id": 2, "customer": "b"},
            {"id": 3, "customer": "c", "status": "paid"},
        ]
    )
    assert (result.rows_written, result.inserted, result.updated) == (3, 3, 0)
    assert rows(db) == [
        {"id": 1, "customer": "a", "amount": Decimal("1.50"), "status": "new"},
        {"id": 2, "customer": "b", "amount": None, "status": "new"},
        {"id": 3, "customer": "c", "amount": None, "status": "paid"},
    ]


def test_upsert_inserts_updates_and_leaves_unwritten_columns(database_url: str, db: Any, orders: str) -> None:
    db.execute("INSERT INTO orders (id, customer, status, amount) VALUES (1, 'a', 'paid', 10), (2, 'b', 'paid', 20)")
    result = target(database_url, mode="upsert", key=["id"]).write(
        [[{"id": 2, "customer": "B", "amount": 21}, {"id": 3, "customer": "c"}]]
    )
    assert (result.rows_written, result.inserted, result.updated) == (2, 1, 1)
    assert rows(db) == [
        {"id": 1, "customer": "a", "amount": Decimal("10.00"), "status": "paid"},
        {"id": 2, "customer": "B", "amount": Decimal("21.00"), "status": "paid"},  # status not in any record: kept
        {"id": 3, "customer": "c", "amount": None, "status": "new"},  # absent amount in one record: NULL
    ]


def test_upsert_of_10000_rows_with_duplicates_keeps_the_last(database_url: str, db: Any, orders: str) -> None:
    db.execute("INSERT INTO orders (id, customer) SELECT g, 'old' FROM generate_series(1, 5000) g")
    records = [{"id": i, "customer": f"first {i}"} for i in range(1, 8001)]
    records += [{"id": i, "customer": f"last {i}"} for i in range(1, 2001)]  # duplicates, later in the load
    assert len(records) == 10_000
    result = target(database_url, mode="upsert", key=["id"], batch_size=3000).write(iter(records))
    assert (result.rows_written, result.inserted, result.updated) == (8000, 3000, 5000)
    summary = db.execute(
        "SELECT count(*) AS n, count(*) FILTER (WHERE customer LIKE 'last %%') AS last, "
        "count(*) FILTER (WHERE customer = 'first ' || id) AS first FROM orders"
    ).fetchone()
    assert summary == {"n": 8000, "last": 2000, "first": 6000}


def test_replace_swaps_the_contents(database_url: str, db: Any, orders: str) -> None:
    db.execute("INSERT INTO orders (id, customer) VALUES (1, 'a'), (2, 'b')")
    result = target(database_url, mode="replace").write([{"id": 7, "customer": "z"}])
    assert (result.rows_written, result.inserted) == (1, 1)
    assert rows(db) == [{"id": 7, "customer": "z", "amount": None, "status": "new"}]


def test_json_and_array_columns(database_url: str, db: Any, orders: str) -> None:
    records = [
        {"id": 1, "customer": "a", "details": {"lines": [1, 2]}, "tags": ["x", "y"]},
        {"id": 2, "customer": "b", "details": [1, "two"], "tags": []},
        {"id": 3, "customer": "c", "details": "just text", "tags": None},
    ]
    target(database_url, mode="upsert", key=["id"]).write(records)
    got = rows(db, "SELECT id, details, tags FROM orders ORDER BY id")
    assert got == [
        {"id": 1, "details": {"lines": [1, 2]}, "tags": ["x", "y"]},
        {"id": 2, "details": [1, "two"], "tags": []},
        {"id": 3, "details": "just text", "tags": None},
    ]


@pytest.mark.parametrize("mode", ["append", "upsert", "replace"])
def test_a_failure_rolls_back_everything(database_url: str, db: Any, orders: str, mode: str) -> None:
    db.execute("INSERT INTO orders (id, customer) VALUES (100, 'kept')")
    records = [{"id": i, "customer": "x"} for i in range(1, 6)] + [{"id": 6, "customer": "x", "amount": "not a number"}]
    with pytest.raises(
        ConnectorError, match=r"postgres_table target `orders`: the load was rolled back: invalid input syntax"
    ):
        target(database_url, mode=mode, key=["id"], batch_size=2).write(records)
    assert rows(db) == [{"id": 100, "customer": "kept", "amount": None, "status": "new"}]


def test_not_null_violation_in_upsert_is_reported(database_url: str, db: Any, orders: str) -> None:
    with pytest.raises(ConnectorError, match="customer"):
        target(database_url, mode="upsert", key=["id"]).write([{"id": 1, "customer": None}])


@pytest.mark.parametrize(
    ("options", "records", "message"),
    [
        ({"table": "nope"}, [{"id": 1}], "does not exist"),
        ({}, [{"id": 1, "customer": "a", "colour": "red"}], "'colour' are not columns of the table"),
        (
            {"mode": "upsert", "key": ["customer"]},
            [{"id": 1, "customer": "a"}],
            r"unique index or primary key on exactly \(customer\)",
        ),
        ({"mode": "upsert", "key": ["nope"]}, [{"id": 1, "customer": "a"}], "'nope' are not columns"),
        ({"mode": "upsert", "key": ["id"]}, [{"customer": "a"}], "'id' are in no record"),
    ],
)
def test_bad_loads_are_explained(
    database_url: str, db: Any, orders: str, options: dict[str, Any], records: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ConnectorError, match=message):
        target(database_url, **options).write(records)
    assert rows(db) == []


def test_unknown_columns_can_be_dropped(database_url: str, db: Any, orders: str) -> None:
    target(database_url, ignore_unknown_columns=True).write([{"id": 1, "customer": "a", "colour": "red"}])
    assert rows(db) == [{"id": 1, "customer": "a", "amount": None, "status": "new"}]


def test_awkward_identifiers_are_quoted(database_url: str, db: Any) -> None:
    db.execute('CREATE SCHEMA "Sales Data"')
    db.execute('CREATE TABLE "Sales Data"."Order; DROP TABLE x" ("Key ""1""" int PRIMARY KEY, "select" text)')
    config = {
        "type": "postgres_table",
        "url": database_url,
        "schema": "Sales Data",
        "table": "Order; DROP TABLE x",
        "mode": "upsert",
        "key": ['Key "1"'],
    }
    open_target(config, secrets_for(database_url)).write([{'Key "1"': 1, "select": "a"}, {'Key "1"': 1, "select": "b"}])
    assert db.execute('SELECT * FROM "Sales Data"."Order; DROP TABLE x"').fetchall() == [{'Key "1"': 1, "select": "b"}]


def test_default_database_comes_from_the_caller(database_url: str, db: Any, orders: str) -> None:
    with pytest.raises(ConnectorError, match="no `url`"):
        open_target({"type": "postgres_table", "table": "orders"}, secrets_for(database_url))
    open_target(
        {"type": "postgres_table", "table": "orders"}, secrets_for(database_url), database_url=database_url
    ).write([{"id": 1, "customer": "a"}])
    assert len(rows(db)) == 1


def test_source_streams_a_parameterised_query_as_json_values(database_url: str, db: Any) -> None:
    db.execute(
        "CREATE TABLE src AS SELECT g AS id, g * 1.5 AS price, (g * 10)::numeric AS whole, "
        "timestamptz '2026-01-02 03:04:05+00' + g * interval '1 day' AS at, "
        "date '2026-01-01' + g AS day, gen_random_uuid() AS uid, 'x' || g AS label "
        "FROM generate_series(1, 25) g"
    )
    config = {
        "type": "postgres",
        "url": {"$secret": "warehouse_url"},
        "query": "SELECT id, price, whole, at, day, uid, label FROM src WHERE id > %(after)s ORDER BY id",
        "params": {"after": 5},
        "batch_size": 8,
    }
    batches = list(open_source(config, secrets_for(database_url)).read())
    assert [len(b) for b in batches] == [8, 8, 4]
    first = batches[0][0]
    assert first["id"] == 6 and first["price"] == 9.0 and first["whole"] == 60 and isinstance(first["whole"], int)
    assert dt.datetime.fromisoformat(first["at"]) == dt.datetime(2026, 1, 8, 3, 4, 5, tzinfo=dt.UTC)
    assert first["day"] == "2026-01-07"
    assert isinstance(first["uid"], str) and len(first["uid"]) == 36
    assert [r["label"] for b in batches for r in b][-1] == "x25"


def test_source_read_batches_streams_the_cursor_fetches(database_url: str, db: Any) -> None:
    db.execute("CREATE TABLE src AS SELECT g AS id, 'x' || g AS label, g * 1.5 AS price FROM generate_series(1, 20) g")
    config = {"type": "postgres", "url": {"$secret": "warehouse_url"}, "query": "SELECT * FROM src ORDER BY id",
              "batch_size": 8}
    source = open_source(config, secrets_for(database_url))
    chunks = list(read_batches(source))
    assert [c.batch.num_rows for c in chunks] == [8, 8, 4]
    records = [r for c in chunks for r in batch_to_records(c.batch)]
    assert records == [r for b in source.read() for r in b]  # the values read() gives


def test_source_runs_read_only_and_reports_query_errors(database_url: str, db: Any) -> None:
    db.execute("CREATE TABLE counter (n int)")
    config = {"type": "postgres", "url": database_url, "query": "SELECT * FROM missing_table"}
    with pytest.raises(ConnectorError, match='relation "missing_table" does not exist'):
        list(open_source(config, secrets_for(database_url)).read())
    writer = {"type": "postgres", "url": database_url, "query": "SELECT nextval('s')"}
    db.execute("CREATE SEQUENCE s")
    with pytest.raises(ConnectorError, match="read-only transaction"):
        list(open_source(writer, secrets_for(database_url)).read())


def test_keys_equal_only_in_postgres_are_deduplicated_too(database_url: str, db: Any, orders: str) -> None:
    # '1' and 1 differ in Python but are the same integer key: the loader retries with the dedupe
    result = target(database_url, mode="upsert", key=["id"]).write(
        [{"id": "1", "customer": "first"}, {"id": 1, "customer": "last"}]
    )
    assert (result.rows_written, result.inserted, result.updated) == (1, 1, 0)
    assert [r["customer"] for r in rows(db)] == ["last"]


def test_upsert_on_a_composite_key_with_all_columns_in_the_key(database_url: str, db: Any) -> None:
    db.execute("CREATE TABLE pairs (a int, b text, PRIMARY KEY (a, b))")
    db.execute("INSERT INTO pairs VALUES (1, 'x')")
    config = {"type": "postgres_table", "url": database_url, "table": "pairs", "mode": "upsert", "key": ["b", "a"]}
    result = open_target(config, secrets_for(database_url)).write(
        [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}, {"a": 2, "b": "x"}]
    )
    assert (result.rows_written, result.inserted, result.updated) == (1, 1, 0)
    assert db.execute("SELECT a, b FROM pairs ORDER BY a").fetchall() == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


# -- tenant isolation on the platform database ------------------------------------------


def test_source_without_url_never_runs_on_the_platform_database(database_url: str) -> None:
    config = {"type": "postgres", "query": "SELECT * FROM integration_credentials"}
    with pytest.raises(ConnectorError, match="needs its own `url`"):
        open_source(config, secrets_for(database_url), database_url=database_url)


@pytest.mark.parametrize(
    ("table", "schema"),
    [("integration_credentials", None), ("integration_configs", "public"), ("schema_migrations", None),
     ("pg_class", "pg_catalog")],
)
def test_target_without_url_refuses_platform_tables(database_url: str, db: Any, table: str, schema: str | None) -> None:
    before = db.execute("SELECT count(*) AS n FROM integration_credentials").fetchone()
    config: dict[str, Any] = {"type": "postgres_table", "table": table}
    if schema:
        config["schema"] = schema
    target = open_target(config, secrets_for(database_url), database_url=database_url)
    with pytest.raises(ConnectorError, match="is a table of the platform itself"):
        target.write([{"name": "x", "organization_id": "00000000-0000-0000-0000-000000000000"}])
    assert db.execute("SELECT count(*) AS n FROM integration_credentials").fetchone() == before


def test_target_without_url_writes_own_tables(database_url: str, db: Any) -> None:
    db.execute("CREATE TABLE my_register (id int PRIMARY KEY, name text)")
    target = open_target({"type": "postgres_table", "table": "my_register"}, secrets_for(database_url),
                         database_url=database_url)
    assert target.write([{"id": 1, "name": "a"}]).rows_written == 1
    assert db.execute("SELECT id, name FROM my_register").fetchall() == [{"id": 1, "name": "a"}]


# -- upsert into an empty table: COPY straight in, staging only on a repeated key ------------


@pytest.fixture
def update_statements(db: Any, orders: str) -> Any:
    """Counts UPDATE statements on orders (INSERT ... ON CONFLICT DO UPDATE fires them; COPY never does)."""
    db.execute("CREATE TABLE update_statements (n int)")
    db.execute(
        "CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO update_statements VALUES (1); RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER orders_updates AFTER UPDATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION count_update()"
    )
    return lambda: db.execute("SELECT count(*) AS n FROM update_statements").fetchone()["n"]


@pytest.mark.parametrize(
    ("records", "via_staging", "expected"),
    [
        (
            [{"id": 1, "customer": "a"}, {"id": 2, "customer": "b", "amount": 2}],
            False,
            [("a", None), ("b", Decimal("2.00"))],
        ),
        ([{"id": 1, "customer": "a"}, {"id": 1, "customer": "last"}], True, [("last", None)]),  # seen in Python
        (
            [{"id": "1", "customer": "a"}, {"id": 1, "customer": "last"}],
            True,
            [("last", None)],
        ),  # only PostgreSQL sees it
    ],
)
def test_upsert_into_an_empty_table_copies_straight_in(
    database_url: str, db: Any, update_statements: Any, records: list[dict[str, Any]], via_staging: bool,
    expected: list[tuple[str, Any]],
) -> None:
    result = target(database_url, mode="upsert", key=["id"], batch_size=1).write(records)
    assert (result.rows_written, result.inserted, result.updated) == (len(expected), len(expected), 0)
    assert [(r["customer"], r["amount"]) for r in rows(db)] == expected
    assert update_statements() == (1 if via_staging else 0)
    assert [r["status"] for r in rows(db)] == ["new"] * len(expected)  # defaults of unwritten columns


def test_upsert_into_a_table_with_rows_takes_the_staging_path(
    database_url: str, db: Any, update_statements: Any
) -> None:
    db.execute("INSERT INTO orders (id, customer) VALUES (9, 'other')")
    result = target(database_url, mode="upsert", key=["id"]).write([{"id": 1, "customer": "a"}])
    assert (result.rows_written, result.inserted, result.updated) == (1, 1, 0)
    assert update_statements() == 1


def test_a_bad_value_in_an_upsert_into_an_empty_table_rolls_back(database_url: str, db: Any, orders: str) -> None:
    records = [{"id": 1, "customer": "x"}, {"id": 2, "customer": "x", "amount": "not a number"}]
    with pytest.raises(ConnectorError, match=r"the load was rolled back: invalid input syntax"):
        target(database_url, mode="upsert", key=["id"], batch_size=1).write(records)
    assert rows(db) == []


def test_a_stream_into_an_empty_table_is_staged_not_held(database_url: str, db: Any, update_statements: Any) -> None:
    records = ({"id": i, "customer": f"c{i}"} for i in range(1, 4))  # read once: never materialised for a retry
    result = target(database_url, mode="upsert", key=["id"]).write(records)
    assert (result.rows_written, result.inserted, result.updated) == (3, 3, 0)
    assert update_statements() == 1


@pytest.fixture
def rls_orders(database_url: str, db: Any) -> Iterator[str]:
    """orders owned by a login role that its FORCEd row-level security applies to; that role's URL."""
    role = f"io_rls_{uuid.uuid4().hex[:8]}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    db.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    db.execute(
        "CREATE TABLE orders (id integer PRIMARY KEY, customer text NOT NULL, status text NOT NULL DEFAULT 'new')"
    )
    db.execute(sql.SQL("ALTER TABLE orders OWNER TO {}").format(sql.Identifier(role)))
    db.execute("ALTER TABLE orders ENABLE ROW LEVEL SECURITY")
    db.execute("ALTER TABLE orders FORCE ROW LEVEL SECURITY")
    db.execute("CREATE POLICY everything ON orders USING (true) WITH CHECK (true)")
    try:
        yield make_conninfo(database_url, user=role)
    finally:
        db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize("mode", ["append", "upsert"])
def test_row_level_security_tables_load_without_copy_into_them(db: Any, rls_orders: str, mode: str) -> None:
    # COPY FROM is refused under row-level security: both modes go through staging + INSERT
    records = [{"id": 1, "customer": "a"}, {"id": 2, "customer": "b"}]
    result = target(rls_orders, mode=mode, key=["id"], batch_size=1).write(records)
    assert (result.rows_written, result.inserted) == (2, 2)
    assert db.execute("SELECT id, customer, status FROM orders ORDER BY id").fetchall() == [
        {"id": 1, "customer": "a", "status": "new"}, {"id": 2, "customer": "b", "status": "new"},
    ]
