"""postgres_table: the batch path (write_batches) against the record path, on a generated corpus.

The record path is ``Target.write_batches``'s default: each batch's records through
``write``. The batch path must leave the same table (compared as text, so a numeric's
scale or a json column's spelling counts) and fail with the same message.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from integration_orchestrator.columnar import batch_to_records, records_to_batch
from integration_orchestrator.connectors import ConnectorError, Target, WriteResult, open_target, postgres_chunks

COLUMNS = """
    id integer PRIMARY KEY,
    amount numeric,
    price numeric(12, 2),
    amount_text text,
    day date,
    at timestamptz,
    at_text text,
    naive timestamp,
    label text NOT NULL DEFAULT 'none',
    note varchar(40),
    flag boolean,
    flag_text text,
    n bigint,
    n_text text,
    ratio float8,
    details jsonb,
    raw json,
    tags text[],
    mixed text,
    mixed_json jsonb,
    untouched text DEFAULT 'kept'
"""
STRINGS = ["", "a,b", 'q"u"o', "line\nbreak", "cr\r\nlf", "back\\slash", "\\.", "\\N", "NULL", "ünïcödé 🎉", " pad "]
DECIMALS = ["486.20", "0.10", "-0.00", "12345678901234567.89", "0.000001", "0.0000001", "1E+2", "7", "3.14159"]
ZONES = [dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-3))]


def _maybe(rng: random.Random, value: Any) -> Any:
    return None if rng.random() < 0.15 else value


def corpus(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Records with every kind of value the batch path encodes, nulls and absent fields included."""
    rng = random.Random(seed)
    records = []
    for i in range(1, n + 1):
        amount = Decimal(rng.choice(DECIMALS)) if i % 3 else Decimal(rng.randint(0, 10**6)).scaleb(-rng.randint(0, 4))
        at = dt.datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
                         rng.randint(0, 59), rng.choice([0, rng.randint(1, 999_999)]), tzinfo=rng.choice(ZONES))
        record: dict[str, Any] = {
            "id": i,
            "amount": _maybe(rng, amount),
            "price": _maybe(rng, Decimal(f"{rng.uniform(0, 1000):.2f}")),
            "amount_text": _maybe(rng, amount),
            "day": _maybe(rng, dt.date(rng.randint(1, 2100), rng.randint(1, 12), rng.randint(1, 28))),
            "at": _maybe(rng, at),
            "at_text": _maybe(rng, at),
            "naive": _maybe(rng, at.replace(tzinfo=None)),
            "label": rng.choice(STRINGS) + str(i),
            "note": _maybe(rng, rng.choice(STRINGS)),
            "flag": _maybe(rng, rng.random() < 0.5),
            "flag_text": _maybe(rng, rng.random() < 0.5),
            "n": _maybe(rng, rng.randint(-(2**62), 2**62)),
            "n_text": _maybe(rng, rng.randint(-1000, 1000)),
            "ratio": _maybe(rng, rng.choice([0.1, 1e16, -2.5, 100.0, rng.random()])),
            "details": _maybe(rng, {"lines": [rng.randint(1, 9)], "who": {"name": rng.choice(STRINGS)}}),
            "raw": _maybe(rng, {"b": rng.choice(STRINGS), "a": [1, 2.5, None]}),
            "tags": _maybe(rng, [rng.choice(STRINGS) for _ in range(rng.randint(0, 3))]),
            "mixed": _maybe(rng, rng.choice([1, "1", 1.5, True])),
            "mixed_json": _maybe(rng, rng.choice([1, "text", {"k": [1]}, [Decimal("1.50")]])),
        }
        if rng.random() < 0.1:
            del record["note"]  # absent: NULL (a batch is a table)
        records.append(record)
    return records


def batches_of(records: list[dict[str, Any]], size: int) -> list[pa.RecordBatch]:
    return [records_to_batch(records[i : i + size]) for i in range(0, len(records), size)]


def _no_secrets(name: str) -> str:
    raise KeyError(name)


def target(database_url: str, table: str, **options: Any) -> Any:
    config = {"type": "postgres_table", "url": database_url, "table": table, **options}
    return open_target(config, _no_secrets)


def contents(db: Any, table: str) -> list[str]:
    return [r["row"] for r in db.execute(f"SELECT t::text AS row FROM {table} t ORDER BY id").fetchall()]


@pytest.fixture
def tables(db: Any) -> tuple[str, str]:
    db.execute(f"CREATE TABLE by_records ({COLUMNS})")
    db.execute(f"CREATE TABLE by_batches ({COLUMNS})")
    return "by_records", "by_batches"


@pytest.fixture
def record_fallbacks(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many batches the batch path handed to the record path."""
    calls = []
    original = batch_to_records

    def spy(batch: pa.RecordBatch) -> list[dict[str, Any]]:
        calls.append(batch.num_rows)
        return original(batch)

    monkeypatch.setattr(postgres_chunks, "batch_to_records", spy)
    return lambda: len(calls)


def both(database_url: str, tables: tuple[str, str], batches: Any, **options: Any) -> tuple[WriteResult, WriteResult]:
    by_records = Target.write_batches(target(database_url, tables[0], **options), batches)
    by_batches = target(database_url, tables[1], **options).write_batches(batches)
    return by_records, by_batches


@pytest.mark.parametrize(
    ("mode", "prefill"),
    [("append", False), ("upsert", False), ("upsert", True), ("replace", True)],
    ids=["append", "upsert-into-empty", "upsert-over-rows", "replace"],
)
def test_batch_path_writes_what_the_record_path_writes(
    database_url: str, db: Any, tables: tuple[str, str], record_fallbacks: Callable[[], int], mode: str,
    prefill: bool,
) -> None:
    records = corpus(1500)
    if prefill:
        for table in tables:
            db.execute(
                f"INSERT INTO {table} (id, label, amount) SELECT g, 'old', 486.2 FROM generate_series(1, 2000, 3) g"
            )
    batches = batches_of(records, 400)
    by_records, by_batches = both(database_url, tables, batches, mode=mode, key=["id"], batch_size=300)
    assert by_batches == by_records
    assert contents(db, tables[1]) == contents(db, tables[0])
    assert record_fallbacks() == 0  # every batch went through the CSV COPY
    sample = db.execute("SELECT amount::text AS a FROM by_batches WHERE amount::text = '486.20' LIMIT 1").fetchone()
    assert sample == {"a": "486.20"}  # the scale is kept


def test_a_stream_of_batches_with_repeated_keys_keeps_the_last(
    database_url: str, db: Any, tables: tuple[str, str]
) -> None:
    records = corpus(600)
    records += [{**r, "label": "again"} for r in corpus(600, seed=8)[:200]]  # keys 1..200 again, later
    by_records, by_batches = both(database_url, tables, batches_of(records, 250), mode="upsert", key=["id"])
    assert by_batches == by_records == WriteResult(rows_written=600, inserted=600, updated=0, unchanged=0)
    assert contents(db, tables[1]) == contents(db, tables[0])
    assert db.execute("SELECT count(*) AS n FROM by_batches WHERE label = 'again'").fetchone() == {"n": 200}


BAD: dict[str, list[dict[str, Any]]] = {
    "not a number": [{"id": 1, "label": "a", "amount": Decimal(5)}, {"id": 2, "label": "b", "price": "lots"}],
    "null in NOT NULL": [{"id": 1, "label": None}],
    "too long": [{"id": 1, "label": "x", "note": "x" * 41}],
    "NUL byte": [{"id": 1, "label": "nul\x00here"}],
    "unknown column": [{"id": 1, "label": "x", "colour": "red"}],
    "decimal into integer": [{"id": 1, "label": "x", "n": Decimal("1.5")}],
    "bad date text": [{"id": 1, "label": "x", "day": "2026-02-30"}],
    "repeated key": [{"id": 1, "label": "x"}, {"id": 1, "label": "y"}],
    "no columns": [{"colour": "red"}],
}


@pytest.mark.parametrize("mode", ["append", "upsert"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_rows_fail_with_the_record_paths_message(
    database_url: str, db: Any, tables: tuple[str, str], mode: str, case: str
) -> None:
    batches = [records_to_batch([{"id": 100 + i, "label": "fine"} for i in range(3)]), records_to_batch(BAD[case])]
    errors = []
    for table, write in [(tables[0], Target.write_batches), (tables[1], type(target(database_url, "x")).write_batches)]:
        try:
            result = write(target(database_url, table, mode=mode, key=["id"], ignore_unknown_columns=False), batches)
            errors.append(result)
        except ConnectorError as exc:
            errors.append(str(exc).replace(table, "T"))
    assert errors[1] == errors[0]
    if case != "repeated key" or mode == "append":
        assert isinstance(errors[0], str)
        assert contents(db, tables[0]) == contents(db, tables[1]) == []


@pytest.fixture
def row_updates(db: Any, tables: tuple[str, str]) -> Callable[[str], int]:
    """Counts UPDATE row-trigger firings per table."""
    db.execute("CREATE TABLE updates (tbl text, id int)")
    db.execute(
        "CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN INSERT INTO updates VALUES (TG_TABLE_NAME, NEW.id); RETURN NEW; END $$"
    )
    for table in tables:
        db.execute(
            f"CREATE TRIGGER {table}_updates AFTER UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION count_update()"
        )
    return lambda table: db.execute("SELECT count(*) AS n FROM updates WHERE tbl = %s", (table,)).fetchone()["n"]


def test_upsert_skips_unchanged_rows(
    database_url: str, db: Any, tables: tuple[str, str], row_updates: Callable[[str], int]
) -> None:
    records = corpus(800)
    batches = batches_of(records, 300)
    both(database_url, tables, batches, mode="upsert", key=["id"])
    by_records, by_batches = both(database_url, tables, batches, mode="upsert", key=["id"])  # the same again
    assert by_batches == by_records == WriteResult(rows_written=800, inserted=0, updated=0, unchanged=800)
    assert (row_updates(tables[0]), row_updates(tables[1])) == (0, 0)

    changed = [dict(r) for r in records[:10]]
    changed[0]["amount"] = Decimal("486.2")  # equal to 486.20 but not the same: rewritten
    changed[1]["details"] = {"lines": [1.0]}  # jsonb 1.0 vs 1
    changed[2]["label"] = changed[2]["label"].upper() + "x"
    changed[3]["tags"] = None
    changed[4]["ratio"] = -0.0
    changed[5]["raw"] = {"a": [1, 2.5, None], "b": "reordered"}
    by_records, by_batches = both(database_url, tables, [records_to_batch(changed)], mode="upsert", key=["id"])
    real = sum(1 for new, old in zip(changed, records[:10], strict=True) if new != old or str(new) != str(old))
    assert real >= 5
    assert by_batches == by_records
    assert (by_batches.updated, by_batches.unchanged, by_batches.rows_written) == (real, 10 - real, 10)
    assert (row_updates(tables[0]), row_updates(tables[1])) == (real, real)
    assert contents(db, tables[1]) == contents(db, tables[0])


def test_write_batches_default_for_a_target_that_does_not_subclass(database_url: str, db: Any) -> None:
    from integration_orchestrator.connectors import write_batches

    class Plain:
        def __init__(self) -> None:
            self.records: list[Any] = []

        def write(self, records: Any) -> WriteResult:
            for batch in records:
                self.records.extend(batch)
            return WriteResult(rows_written=len(self.records))

    plain = Plain()
    result = write_batches(plain, [records_to_batch([{"a": Decimal("1.50")}]), records_to_batch([{"b": 1}])])
    assert result.rows_written == 2
    assert plain.records == [{"a": Decimal("1.50")}, {"b": 1}]


@pytest.mark.parametrize(
    ("column", "old", "new"),
    [("amount", "486.20", Decimal("486.2")), ("details", '{"a": 1.0}', {"a": 1}), ("label", "A", "a"),
     ("ratio", "0", -0.0), ("tags", "{}", None)],
)
def test_equal_but_not_identical_values_are_rewritten(
    database_url: str, db: Any, tables: tuple[str, str], row_updates: Callable[[str], int], column: str, old: str,
    new: Any,
) -> None:
    db.execute(f"INSERT INTO by_batches (id, label, {column}) VALUES (1, 'A', %s)", (old,)) if column != "label" else (
        db.execute("INSERT INTO by_batches (id, label) VALUES (1, 'A')")
    )
    before = contents(db, "by_batches")
    result = target(database_url, "by_batches", mode="upsert", key=["id"]).write_batches(
        [records_to_batch([{"id": 1, column: new, **({"label": "A"} if column != "label" else {})}])]
    )
    assert (result.updated, result.unchanged, row_updates("by_batches")) == (1, 0, 1)
    assert contents(db, "by_batches") != before


@pytest.mark.parametrize("bad_row", [None, 3, 47], ids=["clean", "bad in the first slice", "bad in a later slice"])
def test_a_batch_sent_in_slices_is_all_or_nothing(
    database_url: str, db: Any, tables: tuple[str, str], record_fallbacks: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch, bad_row: int | None,
) -> None:
    """One batch's CSV goes in slices inside one COPY; a bad row in any slice rolls the whole
    batch back to the record path, which gives the record path's error."""
    monkeypatch.setattr(postgres_chunks, "_SLICE_ROWS", 10)
    rows = [{"id": i, "label": f"row {i}", "amount": Decimal(f"{i}.50")} for i in range(55)]
    if bad_row is not None:
        rows[bad_row]["amount"] = "lots"  # a text into a numeric column
    batch = records_to_batch(rows)
    outcomes = []
    for table, write in [(tables[0], Target.write_batches), (tables[1], type(target(database_url, "x")).write_batches)]:
        try:
            outcomes.append(write(target(database_url, table, mode="append"), [batch]))
        except ConnectorError as exc:
            outcomes.append(str(exc).replace(table, "T"))
    assert outcomes[1] == outcomes[0]
    if bad_row is None:
        assert contents(db, tables[1]) == contents(db, tables[0]) and len(contents(db, tables[1])) == 55
        assert record_fallbacks() == 0  # the batch path never fell back
    else:
        assert contents(db, tables[1]) == contents(db, tables[0]) == []
