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
from integration_orchestrator_tests.rows import add_organization

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
    users: ClassVar[list[dict[str, Any]]] = []
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
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
    from integration_orchestrator.assembly import build_definitions

    monkeypatch.setenv(KEYS_ENV, f"k1:{generate_key()}")
    install_builtin_templates(db)
    org = UUID(add_organization(db, "acme"))
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


# ---------------------------------------------------------------------------------------
# Other vendor paging styles: Jira (startAt/maxResults offset, basic auth) and Google SCC
# (pageToken/nextPageToken cursor, bearer token), each a real server on loopback.
# ---------------------------------------------------------------------------------------


class _VendorHandler(BaseHTTPRequestHandler):
    respond: Any = None
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        parts = urlsplit(self.path)
        status, body = type(self).respond(parts.path, parse_qs(parts.query), self.headers.get("Authorization"))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def vendor_server() -> Iterator[type[_VendorHandler]]:
    handler = type("Handler", (_VendorHandler,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.base_url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


def _samples(template: str, key: str) -> list[dict[str, Any]]:
    document = load_template_file(next(p for p in builtin_template_paths() if p.stem == template))
    found: dict[str, dict[str, Any]] = {}
    for test in document.tests:
        value = test["input_data"]
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and "error" not in test["expected_output"]:
            found[value] = test["input_data"]
    return list(found.values())


def _run(db: Any, database_url: str, template: str, name: str, custom: dict[str, Any], secrets: dict[str, str]) -> Any:
    from integration_orchestrator.assembly import build_definitions

    install_builtin_templates(db)
    org = UUID(add_organization(db, "acme"))
    for secret, value in secrets.items():
        set_secret(db, secret, value, organization_id=org)
    with connect(database_url, autocommit=True) as app:
        instance = instantiate_template(
            app, template_name=template, version="1.0.0", instance_name=name, customizations=custom, organization_id=org
        )
    job = build_definitions(database_url).get_job_def(name.lower().replace(" ", "_"))
    with dg.instance_for_test() as dagster_instance:
        result = job.execute_in_process(instance=dagster_instance)
        assert result.success
        evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]
    return instance


RISK_TABLE = """
CREATE TABLE risk_register (
    risk_id text PRIMARY KEY, jira_id integer NOT NULL, title text NOT NULL, issue_type text, status text,
    status_category text, severity text, owner text, owner_account_id text, due_date date,
    created_at timestamptz, updated_at timestamptz, remediated_at timestamptz, labels jsonb
)
"""


def test_jira_template_pages_with_start_at(
    db: Any, database_url: str, vendor_server: type[_VendorHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv(KEYS_ENV, f"k1:{generate_key()}")
    issues = _samples("jira_risk_register", "key")
    extra = copy.deepcopy(issues[0])
    extra.update(id="10099", key="RISK-99")
    issues.append(extra)
    basic = "Basic " + base64.b64encode(b"bot@acme.test:jira-token").decode()

    def respond(path: str, query: dict[str, list[str]], auth: str | None) -> tuple[int, Any]:
        if path != "/rest/api/3/search" or auth != basic:
            return 401, {"errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}
        start, size = int(query["startAt"][0]), int(query["maxResults"][0])
        assert query["jql"] == ["project = RISK ORDER BY created ASC"]
        return 200, {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(issues),
                     "issues": issues[start : start + size]}

    vendor_server.respond = staticmethod(respond)
    db.execute(RISK_TABLE)
    db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON risk_register TO integration_app")
    custom = {"connection": {"source": {
        "url": f"{vendor_server.base_url}/rest/api/3/search",  # type: ignore[attr-defined]
        "auth": {"username": "bot@acme.test"}, "pagination": {"limit": 2}}}}
    _run(db, database_url, "jira_risk_register", "Risk Register", custom, {"jira_api_token": "jira-token"})

    starts = [parse_qs(urlsplit(path).query)["startAt"][0] for path, _ in vendor_server.seen]
    assert starts == ["0", "2"]
    rows = db.execute("SELECT * FROM risk_register ORDER BY jira_id").fetchall()
    assert [r["risk_id"] for r in rows] == ["RISK-7", "RISK-42", "RISK-99"]
    risk42 = rows[1]
    assert (risk42["severity"], risk42["status_category"], risk42["owner"]) == ("high", "in_progress", "Mia Krystof")
    assert risk42["labels"] == ["iso27001-a.8.24", "soc2-cc6.1"]
    assert rows[0]["remediated_at"] is not None and rows[0]["severity"] == "medium" and rows[0]["owner"] is None


FINDINGS_TABLE = """
CREATE TABLE security_findings (
    finding_id text PRIMARY KEY, category text NOT NULL, finding_class text, severity text NOT NULL,
    state text NOT NULL, resource_name text, resource_type text, project text, description text,
    external_uri text, first_seen_at timestamptz, last_seen_at timestamptz
)
"""


def test_gcp_scc_template_follows_next_page_tokens(
    db: Any, database_url: str, vendor_server: type[_VendorHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYS_ENV, f"k1:{generate_key()}")
    results = _samples("gcp_scc_findings", "finding.name")
    for n in range(3):
        extra = copy.deepcopy(results[0])
        extra["finding"]["name"] = results[0]["finding"]["name"][:-2] + f"{n:02d}"
        results.append(extra)
    path = "/v1/organizations/123456789012/sources/-/findings"

    def respond(request_path: str, query: dict[str, list[str]], auth: str | None) -> tuple[int, Any]:
        if request_path != path or auth != "Bearer ya29.test-token":
            return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
        size = int(query["pageSize"][0])
        start = int(query.get("pageToken", ["0"])[0])
        body: dict[str, Any] = {
            "listFindingsResults": results[start : start + size],
            "readTime": "2025-03-01T00:00:00Z",
            "totalSize": len(results),
        }
        if start + size < len(results):
            body["nextPageToken"] = str(start + size)
        return 200, body

    vendor_server.respond = staticmethod(respond)
    db.execute(FINDINGS_TABLE)
    db.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON security_findings TO integration_app")
    url = vendor_server.base_url + path  # type: ignore[attr-defined]  # set by the fixture
    custom = {"connection": {"source": {"url": url, "params": {"pageSize": 2}}}}
    _run(db, database_url, "gcp_scc_findings", "Cloud Findings", custom, {"gcp_scc_access_token": "ya29.test-token"})

    tokens = [parse_qs(urlsplit(p).query).get("pageToken", [None])[0] for p, _ in vendor_server.seen]
    assert tokens == [None, "2", "4"]
    assert {parse_qs(urlsplit(p).query)["filter"][0] for p, _ in vendor_server.seen} == {'state="ACTIVE"'}
    rows = db.execute(
        "SELECT severity, state, count(*) AS n FROM security_findings GROUP BY 1, 2 ORDER BY 1"
    ).fetchall()
    assert [(r["severity"], r["state"], r["n"]) for r in rows] == [("high", "open", 4), ("unspecified", "resolved", 1)]
