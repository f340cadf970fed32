"""docs/authoring.md's examples run: its SQL against a fresh database, its file through
``apply`` (the plan lines it shows are the real ones), then the code location loads and
both jobs write what the page says."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg

from integration_orchestrator_tests.processes import REPO_ROOT

DOC = REPO_ROOT / "docs" / "authoring.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def _blocks(kind: str) -> list[str]:
    return [body for language, body in _BLOCK.findall(DOC.read_text()) if language == kind]


def test_the_authoring_examples_run(
    db: Any, database_url: str, run_cli: Any, tmp_path: Path, fresh_load_context: None
) -> None:
    from integration_orchestrator.assembly import build_definitions

    for block in _blocks("sql"):
        db.execute(block)
    (yaml_file,) = _blocks("yaml")
    (tmp_path / "shop.yaml").write_text(yaml_file)
    (console,) = _blocks("console")
    summaries = [line for line in console.splitlines() if line.startswith("Plan:")]

    planned = run_cli("apply", "-f", "shop.yaml", "--plan")
    assert planned.returncode == 0, planned.stderr
    shown = [line for line in console.splitlines() if line.startswith("  + ")]
    assert all(line in planned.stdout.splitlines() for line in shown), planned.stdout
    assert summaries[0] in planned.stdout and "Nothing changed (--plan)." in planned.stdout
    assert run_cli("apply", "-f", "shop.yaml").returncode == 0
    again = run_cli("apply", "-f", "shop.yaml")
    assert summaries[1] in again.stdout and "No changes." in again.stdout, again.stdout

    validated = run_cli("validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "2 integration job(s) valid, 0 invalid row(s)" in validated.stdout
    tested = run_cli("mappings", "test")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    (warnings,) = _blocks("text")
    printed = sorted(line for line in tested.stdout.splitlines() if line.startswith("warning:"))
    assert printed == sorted(warnings.splitlines())
    assert "10 test(s): 10 passed, 0 failed" in tested.stdout

    defs = build_definitions(database_url)
    assert defs.get_schedule_def("crm_nightly_schedule").cron_schedule == "0 2 * * *"
    with dg.instance_for_test() as instance:
        for job in ("crm_contacts_sync", "shop_orders_sync"):
            result = defs.get_job_def(job).execute_in_process(instance=instance, raise_on_error=False)
            assert result.success, job
            assert all(e.passed for e in result.get_asset_check_evaluations()), job
    contacts = db.execute("SELECT id, name, email, tier, joined::text FROM crm_contacts ORDER BY id").fetchall()
    assert [tuple(r.values()) for r in contacts] == [
        (1, "Ada Lovelace", "ada@example.com", "gold", "2015-12-10"),
        (2, "Alan Turing", "alan@example.com", "silver", "2012-06-23"),
    ]
    orders = db.execute("SELECT * FROM shop_orders ORDER BY order_id").fetchall()
    assert [tuple(r.values()) for r in orders] == [
        (1001, "Ada Lovelace", Decimal("19.99"), "paid", "web"),
        (1003, "Grace Hopper", Decimal("120.50"), "shipped", "web"),
    ]


def test_the_readme_insert_example_runs(db: Any, database_url: str, tmp_path: Path, fresh_load_context: None) -> None:
    from integration_orchestrator.assembly import build_definitions

    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Writing an integration by hand", 1)[1].split("\n## ", 1)[0]
    (block,) = [body for language, body in _BLOCK.findall(section) if language == "sql"]
    out = tmp_path / "hello.ndjson"
    db.execute(block.replace("/tmp/hello.ndjson", str(out)))
    with dg.instance_for_test() as instance:
        result = build_definitions(database_url).get_job_def("hello").execute_in_process(instance=instance)
    assert result.success
    assert out.read_text().splitlines() == ['{"id":1}', '{"id":2}']
