"""Masking: a known secret and sensitive fields never appear in clear anywhere a run leaves
traces (Dagster event log incl. metadata, compute logs and storage files, the platform's
tables, CLI output, errors), while dead letters keep them sealed so replay restores them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from dagster._serdes import serialize_value

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.credentials import (
    KEYS_ENV,
    Keyring,
    generate_key,
    load_keyring,
    set_secret,
)
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.errors import MaskedError
from integration_orchestrator.factory.failures import IntegrationRunFailure, masked_failures
from integration_orchestrator.factory.streaming import BATCH_DIRECTORY
from integration_orchestrator.masking import (
    MASK,
    SEALED_KEY,
    Masker,
    clear_registered_secrets,
    mask_paths,
    masked_errors,
    parse_path,
    redact_text,
    register_secret,
    unseal_record,
)
from integration_orchestrator_tests.rows import add_config, add_mapping, add_organization, add_pipeline, jmespath_step

Conn = psycopg.Connection[dict[str, Any]]

SECRET = "tok-S3cr3t-9f8e7d6c"
TAXES = {1: "TAXID-55501234", 2: "TAXID-55509876"}
ADDRESSES = {1: "742 Evergreen Terrace", 2: "1600 Pennsylvania Ave"}
CLEAR = [SECRET, *TAXES.values(), *ADDRESSES.values()]
PLATFORM_TABLES = ("integration_executions", "integration_dead_letters", "integration_schedule_executions",
                   "integration_notifications", "integration_events")


@pytest.fixture
def api() -> Iterator[str]:
    """A loopback API: people (echoing the bearer token) only with the right token."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            auth = self.headers.get("Authorization", "")
            body: object
            if auth != f"Bearer {SECRET}":
                status, body = 401, {"error": f"bad token {auth}"}
            else:
                status, body = 200, [
                    {"id": i, "name": f"person {i}", "tax_number": TAXES[i], "home_address": ADDRESSES[i],
                     "echo": f"called with {auth}"}
                    for i in (1, 2)
                ]
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/people"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"k1:{generate_key()}"
    monkeypatch.setenv(KEYS_ENV, value)
    clear_registered_secrets()
    return value


def _integration(db: Conn, url: str, tmp_path: Path) -> dict[str, str]:
    org = add_organization(db)
    config = add_config(
        db, org, "People API", target={"type": "file", "path": str(tmp_path / "out.ndjson"), "mode": "append"}
    )
    db.execute(
        "UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{source}', %s) WHERE id = %s",
        (
            json.dumps({"type": "http", "url": url, "auth": {"type": "bearer", "token": {"$secret": "api_token"}}}),
            config,
        ),
    )
    with tenant_transaction(db, org):
        set_secret(db, "api_token", SECRET, organization_id=org, config_id=config)
    add_mapping(db, org, config, "id", "id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "name", "name")
    add_mapping(db, org, config, "tax", "tax_number", "tax_number", validation_rules={"mask": True})
    add_mapping(db, org, config, "address", "home_address", "home_address")
    add_mapping(db, org, config, "echo", "echo", "echo")
    check = jmespath_step(
        "check", 1, "validate", "id == `2` && join(' ', ['bad tax', tax_number, home_address, echo]) || null"
    )
    monitoring = json.dumps({"mask_fields": ["$.home_address"]})
    ids = {"org": org, "config": config}
    for name, strategy in (("people_dead_letter", "dead_letter"), ("people_fail_fast", "fail_fast")):
        ids[name] = add_pipeline(db, org, config, name, [check], strategy=strategy)
        db.execute("UPDATE integration_pipeline_definitions SET monitoring_config = %s WHERE id = %s",
                   (monitoring, ids[name]))
    return ids


def _leaks(text: str) -> list[str]:
    return [value for value in CLEAR if value in text]


def _files_leaking(root: Path) -> list[str]:
    """Files under ``root`` showing a clear value, except the record batches between ops
    (``integration_batches``: records as the target gets them, documented in docs/security.md)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and BATCH_DIRECTORY not in path.parts:
            data = path.read_bytes()
            found += [f"{path}: {v}" for v in CLEAR if v.encode() in data]
    return found


def test_secret_and_sensitive_fields_never_in_clear(
    db: Conn, database_url: str, api: str, keys: str, tmp_path: Path, run_cli: Any
) -> None:
    _integration(db, api, tmp_path)
    defs = build_definitions(database_url)
    with dg.instance_for_test() as instance:
        ok = defs.get_job_def("people_dead_letter").execute_in_process(instance=instance)
        failed = defs.get_job_def("people_fail_fast").execute_in_process(instance=instance, raise_on_error=False)
        assert ok.success and not failed.success
        for run in (ok, failed):
            logs = instance.all_logs(run.run_id)
            assert logs and not _leaks(serialize_value(logs)), "event log shows a clear value"
            assert not _leaks(serialize_value(instance.get_run_by_id(run.run_id)))
        compute_logs = [p for p in Path(instance.root_directory).rglob("compute_logs/*") if p.is_file()]
        assert any(p.read_bytes() for p in compute_logs), "the runs' compute logs were captured"
        assert not _files_leaking(Path(instance.root_directory)), "compute logs / storage show a clear value"
        batches = Path(instance.storage_directory()) / BATCH_DIRECTORY
        assert not (batches / ok.run_id).exists(), "a succeeded run's batches are removed"
        assert (batches / failed.run_id).is_dir(), "a failed run keeps its batches for re-execution"
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        message = failure.step_failure_data.error.message
        assert "bad tax *** *** called with Bearer ***" in message
        preview = next(e for e in ok.all_events if e.event_type_value == "ASSET_MATERIALIZATION")
        text = serialize_value(preview.event_specific_data)
        assert "person 1" in text and MASK in text  # the preview is there, masked
    for table in PLATFORM_TABLES:
        rows = db.execute(f"SELECT t::text AS row FROM {table} t").fetchall()
        assert not _leaks(" ".join(r["row"] for r in rows)), f"{table} shows a clear value"
    letter = db.execute("SELECT record, error_message FROM integration_dead_letters").fetchone()
    assert letter is not None and letter["record"]["tax_number"].keys() == {SEALED_KEY, "key_id"}
    assert "bad tax *** ***" in letter["error_message"]
    assert unseal_record(letter["record"], load_keyring())["tax_number"] == TAXES[2]

    listed = run_cli("dead-letters", "list", env={KEYS_ENV: keys})
    assert listed.returncode == 0 and not _leaks(listed.stdout + listed.stderr)
    db.execute(
        "UPDATE integration_pipeline_definitions SET pipeline_steps = %s WHERE pipeline_name = 'people_dead_letter'",
        (json.dumps({"steps": [jmespath_step("check", 1, "validate", "null")]}),),
    )
    replayed = run_cli("dead-letters", "replay", env={KEYS_ENV: keys})
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert not _leaks(replayed.stdout + replayed.stderr)
    written = [json.loads(line) for line in (tmp_path / "out.ndjson").read_text().splitlines()]
    assert [(r["id"], r["tax_number"], r["home_address"]) for r in written] == [
        (1, TAXES[1], ADDRESSES[1]), (2, TAXES[2], ADDRESSES[2])]  # replay restored the sealed fields


def test_replay_without_the_keys_is_a_clear_error(db: Conn, database_url: str, api: str, keys: str, tmp_path: Path,
                                                  run_cli: Any) -> None:
    _integration(db, api, tmp_path)
    with dg.instance_for_test() as instance:
        assert (
            build_definitions(database_url)
            .get_job_def("people_dead_letter")
            .execute_in_process(instance=instance)
            .success
        )
    result = run_cli("dead-letters", "replay", env={KEYS_ENV: ""})
    assert result.returncode == 2
    assert "encrypted (masked) fields" in result.stderr and not _leaks(result.stdout + result.stderr)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.a.b", ("a", "b")),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("$.items[*].card", ("items", "*", "card")),
        ("$['odd key'].x", ("odd key", "x")),
        ('$["q"]', ("q",)),
        ("$.*", ("*",)),
        ("home address.city", ("home address", "city")),
        (" $.a ", ("a",)),
        ("$.1st.$oid", ("1st", "$oid")),
    ],
)
def test_parse_path(path: str, expected: tuple[Any, ...]) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize("bad", ["$.a[", "a..b", "$..x", "$.items[?@.x]"])
def test_unparsable_paths_are_refused_and_skipped(bad: str) -> None:
    with pytest.raises(ValueError, match="not a JSONPath"):
        parse_path(bad)
    assert mask_paths([bad, "$.ok"]) == (("ok",),)


@pytest.mark.parametrize(
    ("record", "fields", "expected"),
    [
        ({"a": {"b": 1, "c": 2}}, ["$.a.b"], {"a": {"b": MASK, "c": 2}}),
        ({"l": [{"card": 1}, {"card": 2, "x": 3}]}, ["l[*].card"], {"l": [{"card": MASK}, {"card": MASK, "x": 3}]}),
        ({"l": [{"card": 1}, {"card": 2}]}, ["$.l[1].card"], {"l": [{"card": 1}, {"card": MASK}]}),
        ({"password": "p", "nested": {"api_key": "k"}}, [], {"password": MASK, "nested": {"api_key": MASK}}),
        ({"a": "x tok-abcd y"}, [], {"a": f"x {MASK} y"}),
        ([1, {"a": 2}], ["$[1].a"], [1, {"a": MASK}]),
    ],
)
def test_mask_record_matrix(record: Any, fields: list[str], expected: Any) -> None:
    masker = Masker(paths=mask_paths(fields), secrets=frozenset({"tok-abcd"}))
    assert masker.record(record) == expected


def test_masking_is_iterative_for_deep_records() -> None:
    deep: Any = {"password": "p"}
    for _ in range(100_000):
        deep = {"x": [deep]}
    masked = Masker(secrets=frozenset()).record(deep)
    for _ in range(100_000):
        masked = masked["x"][0]
    assert masked == {"password": MASK}


def test_seal_and_unseal_round_trip() -> None:
    from cryptography.fernet import Fernet

    keyring = Keyring((("k1", Fernet(generate_key())),))
    record = {"tax": "TAXID-1", "note": "has tok-abcd inside", "id": 7}
    sealed = Masker(paths=mask_paths(["$.tax"]), secrets=frozenset({"tok-abcd"})).seal(record, keyring)
    assert sealed["id"] == 7 and sealed["tax"].keys() == sealed["note"].keys() == {SEALED_KEY, "key_id"}
    assert "TAXID-1" not in json.dumps(sealed) and "tok-abcd" not in json.dumps(sealed)
    assert unseal_record(sealed, keyring) == record


def test_redaction_covers_url_quoted_forms() -> None:
    register_secret("p@ss w/rd")
    assert redact_text("postgresql://u:p%40ss%20w%2Frd@h/db and p@ss w/rd") == "postgresql://u:***@h/db and ***"
    register_secret("abc")  # too short to redact inside text
    assert redact_text("abc") == "abc"


def test_masked_errors_rewrites_only_leaking_errors() -> None:
    masker = Masker(paths=mask_paths(["$.ssn_x"]), secrets=frozenset({"tok-abcd"}))
    with (
        pytest.raises(MaskedError, match=r"ValueError: bad \*\*\* and \*\*\*") as caught,
        masked_errors(masker, {"ssn_x": "123-45-678"}),
    ):
        try:
            raise KeyError("tok-abcd")
        except KeyError:
            raise ValueError("bad tok-abcd and 123-45-678") from None
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(KeyError), masked_errors(masker):
        raise KeyError("harmless")


def test_masked_failures_are_dagster_failures_inside_ops() -> None:
    masker = Masker(paths=mask_paths([]), secrets=frozenset({"tok-abcd"}))
    with pytest.raises(IntegrationRunFailure, match=r"ValueError: bad \*\*\*") as caught, masked_failures(masker):
        raise ValueError("bad tok-abcd")
    assert caught.value.metadata["masked"].value is True and caught.value.__cause__ is None
    with pytest.raises(KeyError), masked_failures(masker):
        raise KeyError("harmless")


def test_pipeline_preview_cli_masks_sensitive_fields(
    db: Conn, api: str, keys: str, tmp_path: Path, run_cli: Any
) -> None:
    ids = _integration(db, api, tmp_path)
    source = tmp_path / "input.json"
    source.write_text(json.dumps([{"id": i, "name": f"person {i}", "tax_number": TAXES[i], "home_address": ADDRESSES[i],
                                   "echo": "plain"} for i in (1, 2)]))
    done = run_cli("pipeline", "preview", ids["people_fail_fast"], "--input", str(source), env={KEYS_ENV: keys})
    assert done.returncode == 1, done.stderr  # record 2 fails the check step
    assert not _leaks(done.stdout + done.stderr)
    report = json.loads(done.stdout)
    assert report["steps"][0]["output"][0] == {"id": 1, "name": "person 1", "tax_number": MASK, "home_address": MASK,
                                               "echo": "plain"}
    assert report["steps"][1]["failed"][0]["error"].startswith("bad tax *** ***")


def test_a_path_of_plain_names_masks_through_lists() -> None:
    masker = Masker(paths=mask_paths(["items.card", "$.owner.iban_no"]), secrets=frozenset())
    record = {"items": [{"card": "4111-1111", "sku": "a"}, {"card": "5500-0000", "sku": "b"}],
              "owner": {"iban_no": "DE89"}, "lists": [[{"card": "deep"}]]}
    masked = masker.record(record)
    assert [item["card"] for item in masked["items"]] == ["***", "***"]
    assert [item["sku"] for item in masked["items"]] == ["a", "b"]
    assert masked["owner"]["iban_no"] == "***" and masked["lists"] == [[{"card": "deep"}]]
