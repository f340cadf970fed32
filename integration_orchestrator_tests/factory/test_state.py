"""``integration-orchestrator state show | reset`` through the real entry point."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from integration_orchestrator_tests.factory.test_incremental import T0, _count, _integration, _last_execution, _run
from integration_orchestrator_tests.rows import add_organization


def test_show_and_reset_the_state_from_the_command_line(db: psycopg.Connection[Any], database_url: str,
                                                         run_cli: Any) -> None:
    config = _integration(db, database_url)
    empty = run_cli("state", "show", config)
    assert empty.returncode == 0, empty.stderr
    assert "state: - (the next run starts from the start)" in empty.stdout and "0 ledger row(s)" in empty.stdout
    assert '"cursor_field":"updated_at"' in empty.stdout

    assert _run(database_url).success
    shown = run_cli("state", "show", config, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["state"] == {"cursor": "2025-03-01T00:00:04.000007+00:00"}
    assert [(load["kind"], load["rows_written"]) for load in report["loads"]] == [("run", 5)]

    middle = (T0.replace(second=2)).isoformat()  # start after the third row
    reset = run_cli("state", "reset", config, "--to", json.dumps({"cursor": middle}))
    assert reset.returncode == 0, reset.stderr
    assert f"the next run starts from {{\"cursor\":\"{middle}\"}}" in reset.stdout
    db.execute("TRUNCATE people_out")
    assert _run(database_url).success
    assert _last_execution(db)["records_in"] == 3 and _count(db) == 3  # ids 2, 3, 4 (2 is at :02.000007)

    assert run_cli("state", "reset", config).returncode == 0  # back to the start
    db.execute("TRUNCATE people_out")
    assert _run(database_url).success
    assert _last_execution(db)["records_in"] == 5 and _count(db) == 5
    text = run_cli("state", "show", config).stdout
    assert text.count(" reset ") == 2 and "5 ledger row(s)" in text  # run, reset, run, reset, run


def test_bad_input_is_refused_with_exit_status_2(db: psycopg.Connection[Any], database_url: str,
                                                 run_cli: Any) -> None:
    config = _integration(db, database_url)
    for args, message in (
        (("state", "show", "nope"), "CONFIG_ID: `nope` is not a config id"),
        (("state", "show", "00000000-0000-0000-0000-000000000000"), "no integration config with id"),
        (("state", "reset", config, "--to", "{oops"), "--to: is not JSON"),
        (("state", "reset", config, "--organization-id", add_organization(db)), "not found in this organization"),
    ):
        done = run_cli(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stdout, done.stderr)
