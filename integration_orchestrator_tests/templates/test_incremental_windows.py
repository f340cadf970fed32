"""The Okta group membership events template reads by window: two consecutive schedule ticks
fetch two consecutive days, each once, and a partition of the job backfills another day.

The server on loopback speaks Okta's System Log API: ``since``/``until`` bound the events'
``published`` time (``since`` inclusive, ``until`` exclusive), ``Authorization: SSWS <token>``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import dagster as dg
import pytest

from integration_orchestrator.credentials import KEYS_ENV, generate_key, set_secret
from integration_orchestrator.db import connect
from integration_orchestrator.templates.instantiate import instantiate_template
from integration_orchestrator.templates.library import builtin_template_paths, install_builtin_templates
from integration_orchestrator.templates.model import load_template_file
from integration_orchestrator_tests.processes import REPO_ROOT, bin_path
from integration_orchestrator_tests.rows import add_organization, add_schedule

TOKEN = "SSWS 00e2e-window-token"
DAY = dt.datetime(2025, 3, 29, tzinfo=dt.UTC)

ACCESS_CHANGES = """
CREATE TABLE access_changes (
    event_id text PRIMARY KEY, change text NOT NULL, occurred_at timestamptz NOT NULL, outcome text,
    user_id text NOT NULL, user_login text, group_id text NOT NULL, group_name text, actor_login text
)
"""


def _events() -> list[dict[str, Any]]:
    """Three events a day from the template's own sample, on 2025-03-29 .. 2025-04-01."""
    document = load_template_file(next(p for p in builtin_template_paths() if p.stem == "okta_group_membership_events"))
    sample = next(t["input_data"] for t in document.tests if "uuid" in t["input_data"])
    events = []
    for day in range(4):
        for n in range(3):
            event = copy.deepcopy(sample)
            event["uuid"] = f"evt-{day}-{n}"
            at = DAY + dt.timedelta(days=day, hours=8 * n)
            event["published"] = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            events.append(event)
    return events


class _Logs(BaseHTTPRequestHandler):
    events: ClassVar[list[dict[str, Any]]] = []
    seen: ClassVar[list[dict[str, list[str]]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        type(self).seen.append(query)
        if parts.path != "/api/v1/logs" or self.headers.get("Authorization") != TOKEN or "until" not in query:
            self.send_error(400)
            return
        since, until = query["since"][0], query["until"][0]
        page = [e for e in self.events if since <= e["published"] < until]
        data = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def okta_logs() -> Iterator[str]:
    _Logs.events, _Logs.seen = _events(), []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Logs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _windows() -> list[tuple[str, str]]:
    return [(q["since"][0], q["until"][0]) for q in _Logs.seen]


def _instantiate(db: Any, database_url: str, okta_logs: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEYS_ENV, f"k1:{generate_key()}")
    install_builtin_templates(db)
    org = UUID(add_organization(db, "acme"))
    db.execute(ACCESS_CHANGES)
    db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON access_changes TO integration_app")
    set_secret(db, "okta_api_token", TOKEN, organization_id=org)
    with connect(database_url, autocommit=True) as app:
        instance = instantiate_template(
            app, template_name="okta_group_membership_events", version="1.0.0", instance_name="Okta Access",
            customizations={"connection": {"source": {"url": f"{okta_logs}/api/v1/logs"}}}, organization_id=org,
        )
    add_schedule(db, org, instance.config_id, schedule_name="Nightly access", cron_expression="0 0 * * *",
                 timezone="UTC", missed_execution_policy="run_all")
    return str(instance.config_id)


def test_consecutive_ticks_fetch_consecutive_windows_once_and_a_partition_backfills_a_day(
    db: Any, database_url: str, okta_logs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integration_orchestrator.assembly import build_definitions

    _instantiate(db, database_url, okta_logs, monkeypatch)
    defs = build_definitions(database_url)
    job = defs.get_job_def("okta_access")
    schedule = defs.get_schedule_def("nightly_access_schedule")
    assert job.partitions_def is not None  # one partition per window: backfills from the UI

    with dg.instance_for_test() as dagster_instance:
        for tick in (DAY + dt.timedelta(days=2), DAY + dt.timedelta(days=3)):  # two consecutive midnights
            data = schedule.evaluate_tick(dg.build_schedule_context(instance=dagster_instance,
                                                                    scheduled_execution_time=tick))
            assert data.run_requests, data.skip_message
            [request] = data.run_requests
            result = job.execute_in_process(instance=dagster_instance, tags=request.tags)
            assert result.success
        assert _windows() == [("2025-03-30T00:00:00.000Z", "2025-03-31T00:00:00.000Z"),
                              ("2025-03-31T00:00:00.000Z", "2025-04-01T00:00:00.000Z")]
        loaded = [r["event_id"] for r in db.execute("SELECT event_id FROM access_changes ORDER BY 1").fetchall()]
        assert loaded == [f"evt-{d}-{n}" for d in (1, 2) for n in range(3)]

        backfill = job.execute_in_process(instance=dagster_instance, partition_key="2025-03-29T00:00")
        assert backfill.success
    assert _windows()[-1] == ("2025-03-29T00:00:00.000Z", "2025-03-30T00:00:00.000Z")
    assert len(_windows()) == 3  # each window fetched once
    counts = db.execute("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM access_changes").fetchone()
    assert counts == {"n": 9, "ids": 9}
    states = db.execute("SELECT state FROM integration_loads ORDER BY loaded_at").fetchall()
    # a backfill of an older window never moves the state back
    assert [s["state"] for s in states] == [{"window_end": "2025-03-31T00:00:00+00:00"},
                                            {"window_end": "2025-04-01T00:00:00+00:00"},
                                            {"window_end": "2025-04-01T00:00:00+00:00"}]


@pytest.mark.slow
def test_a_backfill_of_a_range_of_windows_launches_one_run_per_window(
    db: Any, database_url: str, okta_logs: str, monkeypatch: pytest.MonkeyPatch, dagster_home: Path,
    dagster_daemon: Any,
) -> None:
    """Dagster's own backfill (``dagster job backfill``: the runs the UI's Partitions tab queues)
    over three days, dequeued and launched by a real daemon: one run per partition, each
    fetching its window once."""
    _instantiate(db, database_url, okta_logs, monkeypatch)
    env = {**os.environ, "INTEGRATION_ORCHESTRATOR_DATABASE_URL": database_url, "DAGSTER_HOME": str(dagster_home),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    target = ("-m", "integration_orchestrator.definitions", "-a", "defs")
    command = [bin_path("dagster"), "job", "backfill", *target, "-j", "okta_access",
               "--from", "2025-03-29T00:00", "--to", "2025-03-31T00:00", "--noprompt",
               # a run the queue starts before the previous one released its lease waits for it (§10.6)
               "--tags", '{"integration/serial_wait_seconds": "300"}']
    done = subprocess.run(command, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    daemon = dagster_daemon(*target, env=env)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        deadline = time.monotonic() + 300
        while True:
            runs = instance.get_runs()
            if len(runs) == 3 and all(r.is_finished for r in runs):
                break
            assert time.monotonic() < deadline, ([(r.run_id, r.status) for r in runs], daemon.log_tail())
            time.sleep(1)
        assert sorted(r.tags.get("dagster/partition", "") for r in runs) == [
            "2025-03-29T00:00", "2025-03-30T00:00", "2025-03-31T00:00"]
        assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    assert sorted(_windows()) == [("2025-03-29T00:00:00.000Z", "2025-03-30T00:00:00.000Z"),
                                  ("2025-03-30T00:00:00.000Z", "2025-03-31T00:00:00.000Z"),
                                  ("2025-03-31T00:00:00.000Z", "2025-04-01T00:00:00.000Z")]
    counts = db.execute("SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM access_changes").fetchone()
    assert counts == {"n": 9, "ids": 9}
