"""Hostile input beyond transformations (those are in transforms/): huge and deeply nested
JSON in records and in row JSON columns, SQL injection in names and paths. Each is refused
or handled with a clear error; the worker survives and nothing else is affected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.types.json import Jsonb

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    add_schedule,
    jmespath_step,
)

Conn = psycopg.Connection[dict[str, Any]]
INJECTION = "x'); DROP TABLE integration_configs; --"
PLATFORM = ("integration_configs", "integration_mappings", "integration_pipeline_definitions", "integration_schedules",
            "organizations")


def _file_integration(db: Conn, org: str, name: str, tmp_path: Path, lines: list[str]) -> Path:
    source, target = tmp_path / f"{name}.ndjson", tmp_path / f"{name}_out.ndjson"
    source.write_text("\n".join(lines) + "\n")
    config = add_config(db, org, name, target={"type": "file", "path": str(target)})
    db.execute(
        "UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{source}', %s) WHERE id = %s",
        (Jsonb({"type": "file", "path": str(source)}), config),
    )
    add_mapping(db, org, config, f"{name} id", "id", "id", target_data_type="integer")
    return target


def _run(database_url: str, job: str) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return (
            build_definitions(database_url).get_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
        )


def _error(result: dg.ExecuteInProcessResult) -> str:
    """The step failure's message and the messages of its causes (the user error Dagster wrapped)."""
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


@pytest.fixture
def org(db: Conn) -> str:
    return add_organization(db)


def _control(db: Conn, org: str, tmp_path: Path) -> Path:
    """A well-behaved integration that must keep working next to the hostile one."""
    return _file_integration(db, org, "control", tmp_path, [json.dumps({"id": 7})])


def _control_still_works(database_url: str, target: Path) -> None:
    assert _run(database_url, "control").success
    assert [json.loads(line) for line in target.read_text().splitlines()] == [{"id": 7}]


@pytest.mark.parametrize(
    ("case", "record"),
    [
        ("huge_50mb_string", {"id": 1, "blob": "x" * (50 * 1024 * 1024)}),
        ("million_keys", {"id": 1, **{f"k{i}": i for i in range(1_000_000)}}),
    ],
)
def test_huge_records_are_processed(db: Conn, database_url: str, org: str, tmp_path: Path, case: str,
                                    record: dict[str, Any]) -> None:
    target = _file_integration(db, org, case, tmp_path, [json.dumps(record), json.dumps({"id": 2})])
    control = _control(db, org, tmp_path)
    result = _run(database_url, case)
    assert result.success
    assert [json.loads(line) for line in target.read_text().splitlines()] == [{"id": 1}, {"id": 2}]
    _control_still_works(database_url, control)


def test_deeply_nested_record_is_a_clear_error(db: Conn, database_url: str, org: str, tmp_path: Path) -> None:
    deep = '{"id": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    _file_integration(db, org, "deep", tmp_path, [deep])
    control = _control(db, org, tmp_path)
    result = _run(database_url, "deep")
    assert not result.success
    message = _error(result)
    assert "deep.ndjson" in message and "line 1" in message, message
    _control_still_works(database_url, control)


def _nested(levels: int) -> str:
    return '{"source": {"type": "inline", "records": []}, "target": {"type": "file", "path": "/tmp/x.ndjson"}, "x": ' \
        + "[" * levels + "]" * levels + "}"


@pytest.mark.parametrize(
    ("levels", "error", "message"),
    [
        (5_000, psycopg.errors.CheckViolation, "json_depth_connection_config"),
        (100_000, psycopg.errors.StatementTooComplex, "stack depth limit exceeded"),
    ],
)
def test_deeply_nested_row_json_is_refused(db: Conn, database_url: str, org: str, tmp_path: Path, levels: int,
                                           error: type[Exception], message: str) -> None:
    control = _control(db, org, tmp_path)
    with pytest.raises(error, match=message):
        db.execute(
            "INSERT INTO integration_configs (integration_name, integration_type, connection_config, organization_id)"
            " VALUES ('deep', 'test', %s::jsonb, %s)",
            (_nested(levels), org),
        )
    config = db.execute("SELECT id FROM integration_configs WHERE integration_name = 'control'").fetchone()
    assert config is not None
    with pytest.raises(psycopg.errors.CheckViolation, match="json_depth_pipeline_steps"):
        db.execute(
            "INSERT INTO integration_pipeline_definitions (config_id, organization_id, pipeline_name, pipeline_steps)"
            " VALUES (%s, %s, 'deep', %s::jsonb)",
            (config["id"], org, '{"steps": [], "x": ' + "[" * 500 + "]" * 500 + "}"),
        )
    assert db.execute("SELECT count(*) AS n FROM integration_configs").fetchone() == {"n": 1}
    db.execute(
        "INSERT INTO integration_configs (integration_name, integration_type, connection_config, organization_id)"
        " VALUES ('ok depth', 'test', %s::jsonb, %s)",
        (_nested(95), org),
    )  # within the limit
    _control_still_works(database_url, control)


def test_sql_injection_in_names_and_paths(db: Conn, database_url: str, org: str, tmp_path: Path, run_cli: Any) -> None:
    control = _control(db, org, tmp_path)
    named = add_config(db, org, INJECTION, [{"id": 1}], target={"type": "file", "path": str(tmp_path / "named.ndjson")})
    add_mapping(db, org, named, INJECTION, "id", "id")
    add_pipeline(db, org, named, INJECTION, [jmespath_step(INJECTION, 1, "map", "@")])
    add_schedule(db, org, named, schedule_name=INJECTION, cron_expression="0 * * * *")
    bad_path = add_config(db, org, "bad path", [{"id": 1}], target={"type": "file", "path": str(tmp_path / "p.ndjson")})
    add_mapping(db, org, bad_path, "bad source", "$['id'); DROP TABLE integration_configs; --", "id")
    bad_table = add_config(db, org, "bad table", [{"id": 1}],
                           target={"type": "postgres_table", "table": "people; DROP TABLE integration_configs; --"})
    add_mapping(db, org, bad_table, "id", "id", "id")

    defs = build_definitions(database_url)
    names = {j.name for j in defs.get_repository_def().get_all_jobs()}
    slug = "x_drop_table_integration_configs"
    assert {slug, "bad_table", "control"} <= names and "bad_path" not in names
    assert f"{slug}_schedule" in {s.name for s in defs.get_repository_def().schedule_defs}
    validate = run_cli("validate")
    assert validate.returncode == 2
    assert "In mapping `bad source`" in validate.stdout and "source_path" in validate.stdout

    assert _run(database_url, slug).success
    assert json.loads((tmp_path / "named.ndjson").read_text()) == {"id": 1}
    failed = _run(database_url, "bad_table")
    assert not failed.success and "people; DROP TABLE integration_configs; --" in _error(failed)
    for table in PLATFORM:
        assert db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"] > 0
    _control_still_works(database_url, control)


def test_deeply_nested_http_response_fails_the_run_only(db: Conn, database_url: str, org: str, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = ("[" * 100_000 + "]" * 100_000).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        control = _control(db, org, tmp_path)
        config = add_config(db, org, "deep api", target={"type": "file", "path": str(tmp_path / "api.ndjson")})
        db.execute(
            "UPDATE integration_configs SET connection_config = jsonb_set(connection_config, '{source}', %s) "
            "WHERE id = %s",
            (Jsonb({"type": "http", "url": f"http://127.0.0.1:{server.server_address[1]}/"}), config),
        )
        result = _run(database_url, "deep_api")
        assert not result.success
        assert "recursion" in _error(result).lower() or "depth" in _error(result).lower()
        _control_still_works(database_url, control)
    finally:
        server.shutdown()
        server.server_close()


def test_ten_megabyte_integration_name_makes_a_capped_job_name(db: Conn, database_url: str, org: str,
                                                                 tmp_path: Path) -> None:
    huge = "Orders " * (10 * 1024 * 1024 // 7)
    config = add_config(db, org, huge, [{"id": 1}], target={"type": "file", "path": str(tmp_path / "out.ndjson")})
    add_pipeline(db, org, config, huge, [jmespath_step("a", 1, "map", "@")])
    add_schedule(db, org, config, schedule_name=huge, schedule_type="cron", cron_expression="0 2 * * *")
    defs = build_definitions(database_url)
    repo = defs.get_repository_def()
    names = [job.name for job in repo.get_all_jobs()] + [s.name for s in repo.schedule_defs]
    names += ["/".join(key.path) for key in repo.asset_graph.get_all_asset_keys()]
    assert max(len(name) for name in names) <= 100, sorted(len(n) for n in names)
    job = next(name for name in names if name.startswith("orders_orders_"))
    assert len(job) == 64
    with dg.instance_for_test() as instance:
        assert repo.get_job(job).execute_in_process(instance=instance).success
