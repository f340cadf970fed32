"""Operator commands keep to their organization (issue 17, part 2), through the real entry point.

Two organizations, A and B, each with a config, a mapping and its test, a pipeline, a
schedule, a transformation and a dead letter. With ``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID``
= A, every command refuses B's ids with the message ``history`` uses and works on A's;
``--organization-id`` overrides the variable; a malformed id is one line naming the
variable, an unknown one an error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from integration_orchestrator.errors import UsageError
from integration_orchestrator.factory.load import load_snapshot
from integration_orchestrator.tenancy import ORGANIZATION_ENV
from integration_orchestrator_tests.rows import (
    add_config,
    add_mapping,
    add_mapping_test,
    add_organization,
    add_pipeline,
    add_schedule,
    add_transformation,
    create_target_table,
    insert,
    jmespath_step,
)

REFUSED = "not found in this organization"


def _organization(db: Any, name: str) -> dict[str, str]:
    org = add_organization(db, f"org {name}")
    config = add_config(db, org, f"orders {name}", [{"id": 1}])
    mapping = add_mapping(db, org, config, "id", "$.id", "id")
    test = add_mapping_test(db, org, mapping, "copies id", {"id": 1}, {"id": 1})
    pipeline = add_pipeline(db, org, config, f"pipe {name}", [jmespath_step("keep", 1, "map", "@")])
    schedule = str(add_schedule(db, org, config, schedule_name=f"nightly {name}")["id"])
    transformation = add_transformation(db, org, f"upper {name}", test_cases={"cases": [
        {"name": "same", "input": {"a": 1}, "expected": {"a": 1}}]}, transformation_logic={"expression": "@"})
    letter = str(insert(db, "integration_dead_letters", {
        "organization_id": org, "config_id": config, "pipeline_id": pipeline, "step_name": "keep",
        "record": {"id": 2}, "error_message": "boom"})["id"])
    return {"org": org, "config": config, "mapping": mapping, "test": test, "pipeline": pipeline,
            "schedule": schedule, "transformation": transformation, "letter": letter}


@pytest.fixture
def two(db: Any) -> dict[str, dict[str, str]]:
    create_target_table(db)
    return {"A": _organization(db, "a"), "B": _organization(db, "b")}


@pytest.fixture
def records_file(tmp_path: Path) -> str:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"id": 7}]))
    return str(path)


KEYS = {"INTEGRATION_ORCHESTRATOR_SECRET_KEYS": "k1:" + Fernet.generate_key().decode()}

# (command, its arguments for one organization's rows, its marker of success on stdout)
COMMANDS: list[tuple[str, Callable[[dict[str, str], str], list[str]], str]] = [
    ("mappings test --config-id", lambda o, f: ["mappings", "test", "--config-id", o["config"]], "1 passed"),
    ("mappings test --mapping-id", lambda o, f: ["mappings", "test", "--mapping-id", o["mapping"]], "1 passed"),
    ("pipeline preview", lambda o, f: ["pipeline", "preview", o["pipeline"], "--input", f], '"success": true'),
    ("pipeline preview outbound",
     lambda o, f: ["pipeline", "preview", o["pipeline"], "--input", f, "--direction", "outbound"], '"outbound"'),
    ("dead-letters list --config-id", lambda o, f: ["dead-letters", "list", "--config-id", o["config"]],
     "1 dead letter(s)"),
    ("dead-letters replay", lambda o, f: ["dead-letters", "replay", o["letter"]], "replayed 1"),
    ("transformations test", lambda o, f: ["transformations", "test", o["transformation"]], "1 passed"),
    ("schedules preview", lambda o, f: ["schedules", "preview", o["schedule"], "-n", "1"], "Schedule `nightly"),
    ("secrets set", lambda o, f: ["secrets", "set", o["config"], "api_token"], "stored secret"),
    ("secrets list --config", lambda o, f: ["secrets", "list", "--config", o["config"]], "no secrets stored"),
    ("export", lambda o, f: ["export", o["config"]], "integration_name: orders"),
]


@pytest.mark.parametrize(("args", "success"), [c[1:] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_command_keeps_to_its_organization(
    db: Any, run_cli: Any, two: dict[str, dict[str, str]], records_file: str,
    args: Callable[[dict[str, str], str], list[str]], success: str,
) -> None:
    env = {ORGANIZATION_ENV: two["A"]["org"], **KEYS}
    refused = run_cli(*args(two["B"], records_file), env=env, input="s3cret\n")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert REFUSED in refused.stderr and two["B"]["org"] not in refused.stderr, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    allowed = run_cli(*args(two["A"], records_file), env=env, input="s3cret\n")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert success in allowed.stdout, allowed.stdout
    # the option overrides the variable
    chosen = run_cli(*args(two["B"], records_file), "--organization-id", two["B"]["org"], env=env, input="s3cret\n")
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr


def test_apply_keeps_to_its_organization(
    run_cli: Any, two: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    exported = run_cli("export", two["A"]["config"], "-o", str(tmp_path / "a.yaml"),
                       env={ORGANIZATION_ENV: two["A"]["org"]})
    assert exported.returncode == 0, exported.stderr
    refused = run_cli("apply", "-f", str(tmp_path / "a.yaml"), env={ORGANIZATION_ENV: two["B"]["org"]})
    assert refused.returncode == 2 and "is not the organization this command keeps to" in refused.stderr, refused
    allowed = run_cli("apply", "-f", str(tmp_path / "a.yaml"), "--plan", env={ORGANIZATION_ENV: two["A"]["org"]})
    assert allowed.returncode == 0 and "0 to create, 0 to update" in allowed.stdout, allowed.stdout + allowed.stderr


def test_refused_replay_writes_nothing_in_the_other_organization(
    db: Any, run_cli: Any, two: dict[str, dict[str, str]]
) -> None:
    done = run_cli("dead-letters", "replay", two["B"]["letter"], env={ORGANIZATION_ENV: two["A"]["org"]})
    assert done.returncode == 2 and REFUSED in done.stderr
    letter = db.execute("SELECT status, replay_count FROM integration_dead_letters WHERE id = %s",
                        (two["B"]["letter"],)).fetchone()
    assert (letter["status"], letter["replay_count"]) == ("pending", 0)
    assert db.execute("SELECT count(*) AS n FROM integration_executions WHERE organization_id = %s",
                      (two["B"]["org"],)).fetchone()["n"] == 0


def test_listing_and_every_test_run_show_only_the_organization(
    db: Any, run_cli: Any, two: dict[str, dict[str, str]]
) -> None:
    env = {ORGANIZATION_ENV: two["A"]["org"]}
    listed = run_cli("dead-letters", "list", env=env)
    assert listed.returncode == 0 and two["A"]["letter"] in listed.stdout and two["B"]["letter"] not in listed.stdout
    tested = run_cli("mappings", "test", env=env)
    assert tested.returncode == 0 and "1 test(s): 1 passed" in tested.stdout, tested.stdout + tested.stderr
    rows = db.execute("SELECT id, test_status FROM integration_mapping_tests").fetchall()
    statuses = {str(r["id"]): r["test_status"] for r in rows}
    assert (statuses[two["A"]["test"]], statuses[two["B"]["test"]]) == ("passed", "pending")
    validated = run_cli("validate", env=env)
    assert "pipe_a" in validated.stdout and "pipe_b" not in validated.stdout, validated.stdout
    history = run_cli("history", two["B"]["config"], env=env)
    assert history.returncode == 2 and "in this organization" in history.stderr


@pytest.mark.parametrize("command", [["mappings", "test"], ["dead-letters", "list"], ["validate"],
                                     ["pipeline", "preview", str(uuid.uuid4()), "--input", "-"]])
def test_malformed_and_unknown_organization_ids(run_cli: Any, two: dict[str, dict[str, str]],
                                                command: list[str]) -> None:
    malformed = run_cli(*command, env={ORGANIZATION_ENV: "not-a-uuid"}, input="[]")
    assert malformed.returncode == 2
    assert malformed.stderr.strip() == (
        f"error: {ORGANIZATION_ENV}: 'not-a-uuid' is not an organization id (a UUID)"
    ), malformed.stderr
    unknown_id = str(uuid.uuid4())
    unknown = run_cli(*command, env={ORGANIZATION_ENV: unknown_id}, input="[]")
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == f"error: {ORGANIZATION_ENV}: no organization has the id {unknown_id}"
    option = run_cli(*command, "--organization-id", "nope", input="[]")
    assert option.returncode == 2 and "--organization-id: 'nope' is not an organization id" in option.stderr


def test_code_location_load_refuses_an_unknown_organization(db: Any, two: dict[str, dict[str, str]]) -> None:
    with pytest.raises(UsageError, match=f"{ORGANIZATION_ENV}: no organization has the id"):
        load_snapshot(db, str(uuid.uuid4()))
    with pytest.raises(UsageError, match=f"{ORGANIZATION_ENV}: 'acme' is not an organization id"):
        load_snapshot(db, "acme")
    assert {c.id for c in load_snapshot(db, two["A"]["org"]).configs} == {two["A"]["config"]}
