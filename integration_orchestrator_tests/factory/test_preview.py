"""`pipeline preview ID --input FILE`: the real per-step outputs, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg

from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_organization,
    add_pipeline,
    jmespath_step,
)


def _pipeline(db: psycopg.Connection[Any], strategy: str = "fail_fast") -> str:
    org = add_organization(db)
    config = add_config(db, org, "People")
    add_mapping(db, org, config, "id", "person.id", "id", target_data_type="integer")
    add_mapping(db, org, config, "name", "person.name", "name")
    return add_pipeline(db, org, config, "people", [
        jmespath_step("shout", 1, "map", "merge(@, {name: join('', [name, '!'])})"),
        jmespath_step("no 3", 2, "filter", "id != `3`"),
        jmespath_step("check", 3, "validate", "id == `2` && 'bad id' || null"),
    ], strategy=strategy)


def test_preview_prints_each_step(db: psycopg.Connection[Any], run_cli: Any, tmp_path: Path) -> None:
    pipeline = _pipeline(db)
    source = tmp_path / "in.json"
    source.write_text(json.dumps([{"person": {"id": i, "name": n}} for i, n in [(1, "a"), (2, "b"), (3, "c")]]))
    done = run_cli("pipeline", "preview", pipeline, "--input", str(source))
    assert done.returncode == 1, done.stderr  # the validate step rejects record 2
    report = json.loads(done.stdout)
    assert [s["step"] for s in report["steps"]] == ["mappings", "shout", "no 3", "check"]
    assert report["steps"][0]["output"][0] == {"id": 1, "name": "a"}
    assert report["steps"][1]["output"][2] == {"id": 3, "name": "c!"}
    assert report["steps"][2]["records_out"] == 2
    assert "bad id" in report["steps"][3]["failed"][0]["error"]
    assert report["final_output"] == [{"id": 1, "name": "a!"}]
    assert db.execute("SELECT count(*) AS n FROM integration_executions").fetchone() == {"n": 0}


def test_preview_reads_ndjson_and_succeeds(db: psycopg.Connection[Any], run_cli: Any, tmp_path: Path) -> None:
    pipeline = _pipeline(db)
    source = tmp_path / "in.ndjson"
    source.write_text('{"person": {"id": 1, "name": "a"}}\n{"person": {"id": 4, "name": "d"}}\n')
    done = run_cli("pipeline", "preview", pipeline, "--input", str(source))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["final_output"] == [{"id": 1, "name": "a!"}, {"id": 4, "name": "d!"}]


def test_preview_unknown_pipeline_exits_2(db: psycopg.Connection[Any], run_cli: Any, tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text("[]")
    done = run_cli("pipeline", "preview", "00000000-0000-0000-0000-000000000000", "--input", str(source))
    assert done.returncode == 2
    assert "no active pipeline" in done.stderr
