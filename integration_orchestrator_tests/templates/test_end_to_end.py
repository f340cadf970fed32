"""An instantiated template runs end to end in a Dagster job against a local HTTP server.

The server speaks Okta's List Users API: ``limit`` + an opaque ``after`` cursor handed out
in ``Link: <...>; rel="next"`` headers, ``Authorization: SSWS <token>`` required. Its
users are the template's own sample payloads plus variations. The template's tests run
as the integration's asset checks in the same run.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import pytest

from integration_orchestrator.credentials import KEYS_ENV, generate_key, set_secret
from integration_orchestrator.db import connect
from integration_orchestrator.templates.instantiate import instantiate_template
from integration_orchestrator.templates.library import builtin_template_paths, install_builtin_templates
from integration_orchestrator.templates.model import load_template_file
from integration_orchestrator_tests.templates.helpers import make_organization

TOKEN = "SSWS 00e2e-test-token"


def _okta_users() -> list[dict[str, Any]]:
    document = load_template_file(next(p for p in builtin_template_paths() if p.stem == "okta_users"))
    samples: dict[str, dict[str, Any]] = {}
    for test in document.tests:
        user = test["input_data"]
        if "id" in user and "profile" in user and "login" in user["profile"]:
            samples[user["id"]] = user
    users = list(samples.values())
    for n in range(2):
        extra = copy.deepcopy(users[0])
        extra["id"] = f"00uextra{n}"
        extra["profile"] = {**extra["profile"], "login": f"extra{n}@example.com", "email": f"extra{n}@example.com"}
        users.append(extra)
    return users


class _OktaHandler(BaseHTTPRequestHandler):
    users: list[dict[str, Any]] = []
    seen: list[tuple[str, str | None]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        parts = urlsplit(self.path)
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if parts.path != "/api/v1/users":
            self.send_error(404)
            return
        if self.headers.get("Authorization") != TOKEN:
            self._json(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"})
            return
        query = parse_qs(parts.query)
        limit = int(query.get("limit", ["200"])[0])
        ids = [u["id"] for u in self.users]
        start = ids.index(query["after"][0]) + 1 if "after" in query else 0
        page = self.users[start : start + limit]
        headers = {"Link": f'<http://{self.headers["Host"]}/api/v1/users?limit={limit}>; rel="self"'}
        if start + limit < len(self.users):
            nxt = f'<http://{self.headers["Host"]}/api/v1/users?after={page[-1]["id"]}&limit={limit}>; rel="next"'
            headers["Link"] += ", " + nxt
        self._json(200, page, headers)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Rate-Limit-Limit", "600")
        self.send_header("X-Rate-Limit-Remaining", "599")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def okta_server() -> Iterator[str]:
    _OktaHandler.users = _okta_users()
    _OktaHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OktaHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


IDENTITY_TABLE = """
CREATE TABLE identity_accounts (
    account_id text PRIMARY KEY, login text NOT NULL, email text, first_name text, last_name text,
    display_name text, status text NOT NULL, is_active boolean NOT NULL, department text,
    created_at timestamptz, last_login_at timestamptz, password_changed_at timestamptz
)
"""


def test_okta_template_runs_in_a_dagster_job(
    db: Any, database_url: str, okta_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integration_orchestrator.factory import build_definitions

    monkeypatch.setenv(KEYS_ENV, f"k1:{generate_key()}")
    install_builtin_templates(db)
    org = make_organization(db, "acme")
    db.execute(IDENTITY_TABLE)
    db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON identity_accounts TO integration_app")
    set_secret(db, "okta_api_token", TOKEN, organization_id=org)
    with connect(database_url, autocommit=True) as app:
        instance = instantiate_template(
            app,
            template_name="okta_users",
            version="1.0.0",
            instance_name="Okta Users",
            customizations={"connection": {"source": {"url": f"{okta_server}/api/v1/users", "params": {"limit": 2}}}},
            organization_id=org,
        )

    defs = build_definitions(database_url)
    job = defs.get_job_def("okta_users")
    with dg.instance_for_test() as dagster_instance:
        result = job.execute_in_process(instance=dagster_instance)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
    document = load_template_file(next(p for p in builtin_template_paths() if p.stem == "okta_users"))
    assert sorted(e.check_name for e in evaluations) == sorted(f"mapping_{m['name']}" for m in document.mappings)
    assert all(e.passed for e in evaluations), [(e.check_name, e.metadata) for e in evaluations if not e.passed]

    users = _OktaHandler.users
    paths = [path for path, _ in _OktaHandler.seen]
    assert len(paths) == 3 and paths[0].endswith("limit=2") and "after=" in paths[1] and "after=" in paths[2]
    assert {auth for _, auth in _OktaHandler.seen} == {TOKEN}
    rows = db.execute("SELECT * FROM identity_accounts ORDER BY account_id").fetchall()
    assert [r["account_id"] for r in rows] == sorted(u["id"] for u in users)
    isaac = next(r for r in rows if r["account_id"] == "00ub0oNGTSWTBKOLGLNR")
    assert (isaac["login"], isaac["display_name"], isaac["status"], isaac["is_active"], isaac["department"]) == (
        "isaac.brock@example.com", "Isaac Brock", "active", True, "Engineering"
    )
    staged = next(r for r in rows if r["status"] == "staged")
    assert staged["is_active"] is False and staged["last_login_at"] is None
    execution = db.execute(
        "SELECT status::text AS status, records_in, records_out FROM integration_executions WHERE config_id = %s",
        (instance.config_id,),
    ).fetchone()
    assert execution["status"] == "succeeded"
    assert execution["records_in"] == len(users) == execution["records_out"]
