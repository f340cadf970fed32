"""``integration-orchestrator mappings test`` through the real entry point, results read back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from integration_orchestrator.mapping import load_mapping_rows
from integration_orchestrator_tests.rows import add_config, add_mapping, add_mapping_test, add_organization


def _seed(db: Any) -> dict[str, Any]:
    org = add_organization(db, "org crm")
    config = add_config(db, org, "crm", integration_type="rest", timezone="Europe/Paris")
    person_id = add_mapping(
        db, org, config, "person_id", "$.customer.id", "person.id", target_data_type="integer", is_required=True,
        error_handling="fail",
    )
    status = add_mapping(
        db, org, config, "status", "status", "person.status",
        transformation_rules={"type": "lookup", "values": {"A": "active", "I": "inactive"}}, error_handling="skip",
    )
    ids = {
        "ok": add_mapping_test(db, org, person_id, "id as string", {"customer": {"id": "42"}}, {"person": {"id": 42}}),
        "error": add_mapping_test(db, org, person_id, "missing id fails", {"customer": {}},
                                  {"error": "required value is missing"}, test_type="edge_case"),
        "dropped": add_mapping_test(db, org, status, "unknown status dropped", {"status": "X"}, {"dropped": True},
                                    test_type="edge_case"),
        "hit": add_mapping_test(db, org, status, "active", {"status": "A"}, {"person": {"status": "active"}}),
    }
    return {"org": org, "config": config, "person_id": person_id, "status": status, "tests": ids}


def _test_row(db: Any, test_id: Any) -> dict[str, Any]:
    return db.execute("SELECT * FROM integration_mapping_tests WHERE id = %s", (test_id,)).fetchone()


def test_all_pass_writes_results_and_coverage(db: Any, run_cli: Any) -> None:
    seeded = _seed(db)
    done = run_cli("mappings", "test", "--config-id", str(seeded["config"]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 test(s): 4 passed, 0 failed" in done.stdout
    header = done.stdout.splitlines()[0].split()
    assert header == ["mapping", "test", "status", "ms", "error"]
    ok = _test_row(db, seeded["tests"]["ok"])
    assert ok["test_status"] == "passed"
    assert ok["actual_output"] == {"person": {"id": 42}}
    assert ok["execution_time_ms"] >= 0 and ok["last_run"] is not None and ok["error_message"] is None
    dropped = _test_row(db, seeded["tests"]["dropped"])
    assert dropped["test_status"] == "passed" and dropped["actual_output"]["dropped"] is True
    error = _test_row(db, seeded["tests"]["error"])
    assert "required value is missing" in error["actual_output"]["error"]
    rows = {r.mapping_name: r for r in load_mapping_rows(db, seeded["config"])}
    # status: present, missing/null, lookup hit, lookup miss, rule applied, rule failed, policy
    # skip = 7 behaviours; all but "missing or null" exercised -> 6/7
    assert rows["status"].test_coverage == Decimal("85.71")
    # person_id: present, missing, coercion failure (not exercised), error policy fail -> 3/4
    assert rows["person_id"].test_coverage == Decimal("75.00")


def test_failing_test_exits_1_and_records_the_reason(db: Any, run_cli: Any) -> None:
    seeded = _seed(db)
    wrong = add_mapping_test(db, seeded["org"], seeded["person_id"], "wrong expectation", {"customer": {"id": 7}},
                             {"person": {"id": 8}})
    done = run_cli("mappings", "test")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "wrong expectation" in done.stdout and "failed" in done.stdout
    row = _test_row(db, wrong)
    assert row["test_status"] == "failed"
    assert row["actual_output"] == {"person": {"id": 7}}
    assert "output differs" in row["error_message"]
    assert _test_row(db, seeded["tests"]["ok"])["test_status"] == "passed"


def test_invalid_mapping_fails_its_tests_only(db: Any, run_cli: Any) -> None:
    seeded = _seed(db)
    bad = add_mapping(db, seeded["org"], seeded["config"], "bad_path", "$.a[", "x")
    bad_test = add_mapping_test(db, seeded["org"], bad, "never runs", {"a": 1}, {"x": 1})
    done = run_cli("mappings", "test", "--config-id", str(seeded["config"]))
    assert done.returncode == 1
    row = _test_row(db, bad_test)
    assert row["test_status"] == "failed"
    assert "In mapping `bad_path`" in row["error_message"] and "source_path" in row["error_message"]
    assert _test_row(db, seeded["tests"]["hit"])["test_status"] == "passed"


def test_bad_input_exits_2(db: Any, run_cli: Any) -> None:
    _seed(db)
    not_uuid = run_cli("mappings", "test", "--config-id", "nope")
    assert not_uuid.returncode == 2 and "not a UUID" in not_uuid.stderr
    unknown = run_cli("mappings", "test", "--config-id", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 2 and "no integration config" in unknown.stderr


def test_only_one_mapping(db: Any, run_cli: Any) -> None:
    seeded = _seed(db)
    done = run_cli("mappings", "test", "--mapping-id", str(seeded["status"]))
    assert done.returncode == 0, done.stderr
    assert "2 test(s): 2 passed" in done.stdout
    assert _test_row(db, seeded["tests"]["ok"])["test_status"] == "pending"


def test_direction_outbound_runs_only_the_outbound_tests(db: Any, run_cli: Any) -> None:
    org = add_organization(db, "org round trip")
    config = add_config(db, org, "erp")
    status = add_mapping(
        db, org, config, "status", "status", "person.status", mapping_direction="bidirectional",
        source_data_type="string", transformation_rules={"type": "lookup", "values": {"A": "active"}},
    )
    inbound = add_mapping_test(db, org, status, "in", {"status": "A"}, {"person": {"status": "active"}})
    outbound = add_mapping_test(db, org, status, "out", {"person": {"status": "active"}}, {"status": "A"},
                                test_direction="outbound")
    done = run_cli("mappings", "test", "--config-id", str(config), "--direction", "outbound")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 test(s): 1 passed, 0 failed" in done.stdout
    assert (_test_row(db, outbound)["test_status"], _test_row(db, inbound)["test_status"]) == ("passed", "pending")
    both = run_cli("mappings", "test", "--config-id", str(config))
    assert both.returncode == 0 and "2 test(s): 2 passed" in both.stdout, both.stdout + both.stderr
