"""Incremental sync through real jobs: the state read from the ledger, committed with the rows.

A ``postgres`` source with ``incremental.cursor_field`` into a ``postgres_table`` target:
the second run over an unchanged source fetches 0 rows and writes 0; new rows are the only
ones fetched; a run that fails before its commit leaves the state unchanged; a ``reset``
ledger row starts over. A ``window`` source gets its partition's window (a backfill).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.connectors.base import WriteResult
from integration_orchestrator.connectors.postgres_ledger import LoadContext, latest_state, record_load
from integration_orchestrator.factory.engines import default_engines
from integration_orchestrator.factory.failures import IntegrationRunFailure
from integration_orchestrator.factory.incremental import run_incremental, window_partitions
from integration_orchestrator.model import Integration
from integration_orchestrator.model.rows import ConfigRecord
from integration_orchestrator.model.tags import TAG_WINDOW_END, TAG_WINDOW_START
from integration_orchestrator_tests.connectors.test_postgres_ledger import other_url
from integration_orchestrator_tests.rows import (
    PEOPLE_OUT,
    add_config,
    add_mapping,
    add_organization,
    create_target_table,
)

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


def _source_rows(db: psycopg.Connection[Any], ids: range) -> None:
    for i in ids:  # updated_at: exact microseconds, the cursor compares them exactly
        db.execute("INSERT INTO src VALUES (%s, %s, %s)", (i, f"n{i}", T0 + dt.timedelta(seconds=i, microseconds=7)))


def _integration(db: psycopg.Connection[Any], database_url: str, rows: int = 5) -> str:
    db.execute("CREATE TABLE src (id integer, name text, updated_at timestamptz)")
    _source_rows(db, range(rows))
    create_target_table(db)
    org = add_organization(db)
    source = {"type": "postgres", "url": other_url(database_url), "query": "SELECT id, name, updated_at FROM src",
              "incremental": {"cursor_field": "updated_at"}}
    config = add_config(db, org, "People", target=dict(PEOPLE_OUT))
    db.execute("UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{source}', %s) "
               "WHERE id = %s", (Jsonb(source), config))
    add_mapping(db, org, config, "id", "id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "name", "name")
    return config


def _run(database_url: str, **kwargs: Any) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return build_definitions(database_url).get_job_def("people").execute_in_process(
            instance=instance, raise_on_error=False, **kwargs)


def _last_execution(db: psycopg.Connection[Any]) -> dict[str, Any]:
    row = db.execute("SELECT status, records_in, records_out FROM integration_executions "
                     "ORDER BY created_at DESC, id DESC LIMIT 1").fetchone()
    assert row is not None
    return dict(row)


def _count(db: psycopg.Connection[Any]) -> int:
    row = db.execute("SELECT count(*) AS n, count(DISTINCT id) AS ids FROM people_out").fetchone()
    assert row is not None and row["n"] == row["ids"], row
    return int(row["n"])


def test_a_second_run_fetches_and_writes_nothing_and_new_rows_are_the_only_ones_fetched(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    config = _integration(db, database_url)
    assert _run(database_url).success
    assert _count(db) == 5
    state = latest_state(db, None, config)
    assert state == {"cursor": (T0 + dt.timedelta(seconds=4, microseconds=7)).isoformat()}

    assert _run(database_url).success  # unchanged source: 0 rows fetched, 0 written
    assert _last_execution(db) == {"status": "succeeded", "records_in": 0, "records_out": 0}
    assert _count(db) == 5
    assert latest_state(db, None, config) == state  # a run that read nothing keeps the state

    _source_rows(db, range(5, 8))
    assert _run(database_url).success  # only the 3 new rows are fetched
    assert _last_execution(db) == {"status": "succeeded", "records_in": 3, "records_out": 3}
    assert _count(db) == 8
    loads = db.execute("SELECT rows_written, state FROM integration_loads ORDER BY loaded_at").fetchall()
    assert [r["rows_written"] for r in loads] == [5, 0, 3]
    assert loads[1]["state"] is None and loads[2]["state"]["cursor"].startswith("2025-03-01T00:00:07.000007")


def test_a_run_that_fails_before_its_commit_leaves_the_state_unchanged(
    db: psycopg.Connection[Any], database_url: str
) -> None:
    config = _integration(db, database_url)
    assert _run(database_url).success
    before = latest_state(db, None, config)
    _source_rows(db, range(5, 7))
    db.execute("ALTER TABLE people_out ADD CONSTRAINT small CHECK (id < 6)")  # the load of id 6 fails
    assert not _run(database_url).success
    assert latest_state(db, None, config) == before
    db.execute("ALTER TABLE people_out DROP CONSTRAINT small")
    assert _run(database_url).success  # the failed run's rows come again, once
    assert _last_execution(db)["records_in"] == 2
    assert _count(db) == 7


def test_a_reset_row_in_the_ledger_starts_over(db: psycopg.Connection[Any], database_url: str) -> None:
    config = _integration(db, database_url)
    assert _run(database_url).success
    record_load(db, None, LoadContext(run_id="reset-1", config_id=config, kind="reset"), WriteResult(0))
    db.execute("TRUNCATE people_out")
    assert _run(database_url).success
    assert _last_execution(db)["records_in"] == 5
    assert _count(db) == 5


# --- the run's window: partition, then schedule tags, then the last window's end → now -------------

def _window_integration(window: dict[str, Any]) -> Integration:
    config = ConfigRecord.from_row({
        "id": "c1", "organization_id": "o1", "integration_name": "Audit", "timezone": "Europe/Berlin",
        "connection_config": {"source": {"type": "http", "url": "http://x", "incremental": {"window": window}},
                              "target": dict(PEOPLE_OUT)}})
    return Integration(config=config, pipeline=None, settings=None, mappings=(), tests={}, schedules=(),
                       transformations={})


@dataclass
class _Run:
    tags: dict[str, str]


@dataclass
class _Context:
    tags: dict[str, str]
    partition: dg.TimeWindow | None = None

    @property
    def has_partition_key(self) -> bool:
        return self.partition is not None

    @property
    def partition_time_window(self) -> dg.TimeWindow:
        assert self.partition is not None
        return self.partition

    @property
    def run(self) -> _Run:
        return _Run(self.tags)


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY1, DAY2 = dt.datetime(2025, 3, 30, tzinfo=dt.UTC), dt.datetime(2025, 3, 31, tzinfo=dt.UTC)
TAGS = {TAG_WINDOW_START: DAY1.isoformat(), TAG_WINDOW_END: DAY2.isoformat()}


@pytest.mark.parametrize(
    ("context", "state", "window", "new_state"),
    [
        (_Context(TAGS, dg.TimeWindow(DAY2, DAY2 + dt.timedelta(days=1))), None,
         (DAY2, DAY2 + dt.timedelta(days=1)), "2025-04-01T00:00:00+00:00"),  # the partition first
        (_Context(TAGS), None, (DAY1, DAY2), "2025-03-31T00:00:00+00:00"),  # a schedule tick's tags
        (_Context(TAGS), {"window_end": "2025-04-02T00:00:00+00:00"}, (DAY1, DAY2),
         "2025-04-02T00:00:00+00:00"),  # an older window never moves the state back
        (_Context({}), {"window_end": "2025-03-31T00:00:00+00:00"}, (DAY2, NOW), None),  # manual: last end → now
        (_Context({}), None, (dt.datetime(2024, 12, 31, 23, tzinfo=dt.UTC), NOW), None),  # manual: window.start → now
    ],
)
def test_the_runs_window(context: _Context, state: Any, window: tuple[dt.datetime, dt.datetime],
                         new_state: str | None) -> None:
    engines = replace(default_engines(), latest_state=lambda record, url: state)
    run = run_incremental(context, _window_integration({"start_param": "since", "start": "2025-01-01"}), engines, "")
    assert run is not None and run.window is not None and run.state == state
    assert run.window.start == window[0]
    assert run.window.end == window[1] or (window[1] is NOW and run.window.end >= NOW)
    assert run.new_state == {"window_end": (new_state or run.window.end.isoformat())}


@pytest.mark.parametrize(
    ("tags", "declared", "message"),
    [
        ({}, {"start_param": "since"}, "reads by window but this run has none"),
        ({TAG_WINDOW_START: "yesterday", TAG_WINDOW_END: "today"}, {"start_param": "since"}, "ISO-8601"),
        ({TAG_WINDOW_START: DAY2.isoformat(), TAG_WINDOW_END: DAY1.isoformat()}, {"start_param": "since"}, "empty"),
    ],
)
def test_a_run_without_a_usable_window_fails_before_reading(tags: dict[str, str], declared: dict[str, Any],
                                                             message: str) -> None:
    engines = replace(default_engines(), latest_state=lambda record, url: None)
    with pytest.raises(IntegrationRunFailure, match=message):
        run_incremental(_Context(tags), _window_integration(declared), engines, "")


def test_engines_that_cannot_keep_the_state_fail_the_run() -> None:
    engines = replace(default_engines(), latest_state=None)
    with pytest.raises(IntegrationRunFailure, match="cannot keep the state"):
        run_incremental(_Context(TAGS), _window_integration({"start_param": "since"}), engines, "")


def test_a_window_job_has_one_partition_per_window() -> None:
    partitions = window_partitions(_window_integration({"start_param": "since", "start": "2025-03-29"}))
    assert partitions is not None and partitions.timezone == "Europe/Berlin"  # the config's timezone
    key = partitions.get_partition_keys()[1]
    assert key == "2025-03-30T00:00"
    span = partitions.time_window_for_partition_key(key)
    assert span.end.astimezone(dt.UTC) - span.start.astimezone(dt.UTC) == dt.timedelta(hours=23)  # spring forward
    assert window_partitions(_window_integration({"start_param": "since"})) is None  # no start: no partitions
