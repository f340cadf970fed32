"""The ``http`` target's idempotency keys and acknowledged batches against a real crash.

A loopback HTTP server stores the records of each batch it accepts, deduplicating on the
idempotency key. A child process sends run ``r1`` in batches and is killed with
``os._exit(9)`` after the endpoint accepted batch 3: before its acknowledgement was
recorded, or after. The rerun resumes after the last recorded batch; the endpoint holds
every record once and accepted every key once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from integration_orchestrator.connectors import ConnectorContext
from integration_orchestrator.connectors.http import HttpTarget
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator.db.connection import tenant_transaction
from integration_orchestrator_tests.processes import REPO_ROOT
from integration_orchestrator_tests.rows import add_file_config, add_organization

RECORDS = [{"id": i} for i in range(10)]
BATCH = 2  # five batches

_CHILD = '''
import json, os, sys
from integration_orchestrator.connectors import ConnectorContext
from integration_orchestrator.connectors.http import HttpTarget
from integration_orchestrator.connectors.http_ledger import HttpLedgerSession
from integration_orchestrator.connectors.postgres_ledger import LoadContext
url, database_url, org, config, point = sys.argv[1:6]
acknowledge = HttpLedgerSession.acknowledge
def crashing(self, number, records):
    if number == 3 and point == "before_ack":
        os._exit(9)  # the endpoint accepted batch 3; its acknowledgement is not recorded
    acknowledge(self, number, records)
    if number == 3:
        os._exit(9)
HttpLedgerSession.acknowledge = crashing
target = HttpTarget({"type": "http", "url": url, "batch_size": 2, "idempotency_header": "X-Batch-Key"},
                    ConnectorContext(database_url=database_url))
target.write([{"id": i} for i in range(10)], LoadContext("r1", config_id=config, organization_id=org))
'''


@dataclass
class Receiver:
    """An endpoint that deduplicates on ``X-Batch-Key``."""

    url: str = ""
    records: dict[str, list[Any]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    """A :class:`Receiver` on a loopback port, for the duration of the block."""
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = str(self.headers.get("X-Batch-Key"))
            with lock:
                state.requests[key] += 1
                state.records.setdefault(key, body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/in"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


def _target(url: str, database_url: str) -> HttpTarget:
    config = {"type": "http", "url": url, "batch_size": BATCH, "idempotency_header": "X-Batch-Key"}
    return HttpTarget(config, ConnectorContext(database_url=database_url))


@pytest.mark.parametrize("point", ["before_ack", "after_ack"])
def test_a_kill_mid_run_then_a_rerun_resumes_and_every_record_arrives_once(
    db: psycopg.Connection[Any], database_url: str, receiver: Receiver, tmp_path: Any, point: str
) -> None:
    org = add_organization(db)
    config = add_file_config(db, org, "Out", tmp_path / "in.ndjson")
    child = tmp_path / "child.py"
    child.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(child), receiver.url, database_url, str(org), str(config), point],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 9, done.stderr
    assert sorted(receiver.requests) == ["r1-1", "r1-2", "r1-3"]

    target = _target(receiver.url, database_url)
    assert target.recorded_loads(["r1"]) == {}  # not complete: the reconciler does not settle it
    load = LoadContext("r1", config_id=str(config), organization_id=str(org), state={"cursor": 10})
    assert target.write(RECORDS, load).rows_written == len(RECORDS)

    keys = [f"r1-{n}" for n in range(1, 6)]
    assert sorted(receiver.records) == keys
    received = [r["id"] for k in keys for r in receiver.records[k]]
    assert received == [r["id"] for r in RECORDS]  # every record once, in order
    resent = 2 if point == "before_ack" else 1  # only the batch accepted but not recorded goes again
    assert receiver.requests == Counter({"r1-1": 1, "r1-2": 1, "r1-3": resent, "r1-4": 1, "r1-5": 1})
    assert target.recorded_loads(["r1", "r2"]) == {"r1": target.write(RECORDS, load)}  # a rerun sends nothing
    assert sum(receiver.requests.values()) == 5 + resent - 1
    assert target.latest_state(str(config)) == {"cursor": 10}
    with tenant_transaction(db, add_organization(db)):  # another tenant sees none of it
        assert db.execute("SELECT count(*) AS n FROM integration_http_batches").fetchone() == {"n": 0}
    assert db.execute("SELECT count(*) AS n FROM integration_http_batches").fetchone() == {"n": 5}


def test_a_reexecution_of_the_same_data_sends_nothing_and_the_letters_are_recorded(
    db: psycopg.Connection[Any], database_url: str, receiver: Receiver, tmp_path: Any
) -> None:
    org = add_organization(db)
    target = _target(receiver.url, database_url)
    first = target.write(RECORDS[:3], LoadContext("parent", organization_id=str(org), kind="replay",
                                                  letter_ids=("a", "b")))
    again = target.write(RECORDS[:3], LoadContext("child", organization_id=str(org), origin_run_id="parent"))
    assert first == again and sorted(receiver.requests) == ["parent-1", "parent-2"]
    assert target.loaded_letters(["a", "z"]) == {"a"}


def test_without_load_context_no_key_is_sent(receiver: Receiver) -> None:
    HttpTarget({"type": "http", "url": receiver.url, "idempotency_header": "X-Batch-Key"}).write(RECORDS)
    assert receiver.requests == Counter({"None": 1})
