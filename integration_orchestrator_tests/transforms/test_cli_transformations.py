"""``integration-orchestrator transformations test [ID]`` and ``load_transformation_rows`` on a real database."""

from __future__ import annotations

import uuid
from typing import Any

from integration_orchestrator.cli import main
from integration_orchestrator.transforms import load_transformation_rows, shutdown_pool
from integration_orchestrator_tests.rows import add_organization, add_transformation

GOOD_CASES = {
    "cases": [
        {"name": "uppercases", "input": {"name": "ada"}, "expected": {"name": "ADA"}},
        {"name": "batch", "input": [{"name": "a"}, {"name": "b"}], "expected": [{"name": "A"}, {"name": "B"}]},
        {"name": "bad record fails", "input": {"nom": "x"}, "expected": {"error": "KeyError"}},
    ]
}


def _insert(
    db: Any, org: str, name: str, language: str, kind: str, logic: dict[str, Any], cases: dict[str, Any] | None
) -> uuid.UUID:
    return uuid.UUID(add_transformation(db, org, name, logic, language, transformation_type=kind, test_cases=cases,
                                        timeout_seconds=5))


def _seed(db: Any) -> dict[str, Any]:
    org = add_organization(db, "Acme")
    other = add_organization(db, "Globex")
    return {
        "org": org,
        "other": other,
        "upper": _insert(
            db,
            org,
            "upper_names",
            "python",
            "map",
            {"code": "def transform(r):\n    return {'name': r['name'].upper()}"},
            GOOD_CASES,
        ),
        "adults": _insert(
            db,
            org,
            "adults",
            "sql",
            "filter",
            {"query": "SELECT * FROM records WHERE age >= 18"},
            {
                "cases": [
                    {"name": "adult kept", "input": {"age": 30}, "expected": True},
                    {"name": "child dropped", "input": {"age": 3}, "expected": False},
                ]
            },
        ),
        "wrong": _insert(
            db,
            other,
            "wrong_total",
            "javascript",
            "aggregate",
            {"code": "function transformBatch(rs) { return [{n: rs.length + 1}]; }"},
            {"cases": [{"name": "counts", "input": [{}, {}], "expected": [{"n": 2}]}]},
        ),
        "untested": _insert(db, org, "no_cases", "jmespath", "map", {"expression": "@"}, None),
    }


def test_all_transformations_with_cases(db: Any, run_cli: Any) -> None:
    ids = _seed(db)
    result = run_cli("transformations", "test")
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert f"PASS  upper_names ({ids['upper']}) / uppercases: ok" in out
    assert "PASS  upper_names" in out and "bad record fails: failed as expected" in out
    assert "PASS  adults" in out and "child dropped: ok" in out
    assert f"FAIL  wrong_total ({ids['wrong']}) / counts: expected [{{'n': 2}}], got [{{'n': 3}}]" in out
    assert "no_cases" not in out
    assert "5 passed, 1 failed, 0 invalid transformation(s)" in out


def _cli(database_url: str, capsys: Any, *args: str) -> tuple[int, str]:
    """The same entry point in process (the subprocess path is covered above)."""
    try:
        code = main(["--database-url", database_url, "transformations", "test", *args])
    finally:
        shutdown_pool()
    return code, capsys.readouterr().out


def test_one_transformation_by_id_and_organization_filter(db: Any, database_url: str, capsys: Any) -> None:
    ids = _seed(db)
    code, out = _cli(database_url, capsys, str(ids["upper"]))
    assert code == 0, out
    assert "3 passed, 0 failed" in out
    code, out = _cli(database_url, capsys, "--organization-id", str(ids["org"]))
    assert code == 0, out
    assert "wrong_total" not in out
    assert "adult kept: ok" in out


def test_invalid_row_and_unknown_id_are_bad_input(db: Any, database_url: str, capsys: Any) -> None:
    org = add_organization(db, "Initech")
    bad = _insert(
        db,
        org,
        "broken",
        "jmespath",
        "map",
        {"expression": "foo[?"},
        {"cases": [{"name": "x", "input": {}, "expected": {}}]},
    )
    code, out = _cli(database_url, capsys, str(bad))
    assert code == 2
    assert (
        f"ERROR broken ({bad}): In transformation `broken` (id {bad}), field "
        "`transformation_logic.expression`: invalid JMESPath"
        in out
    )
    code, out = _cli(database_url, capsys, str(uuid.uuid4()))
    assert code == 2
    assert "no transformation with id" in out
    assert _cli(database_url, capsys, "not-a-uuid")[0] == 2


def test_load_transformation_rows(db: Any) -> None:
    ids = _seed(db)
    rows = load_transformation_rows(db)
    assert [r.transformation_name for r in rows] == ["adults", "no_cases", "upper_names", "wrong_total"]
    by_org = load_transformation_rows(db, organization_id=ids["other"])
    assert [r.transformation_name for r in by_org] == ["wrong_total"]
    (one,) = load_transformation_rows(db, ids=[ids["adults"]])
    assert (one.id, one.language, one.transformation_type, one.performance_tier) == (
        ids["adults"],
        "sql",
        "filter",
        "standard",
    )
    assert one.transformation_logic == {"query": "SELECT * FROM records WHERE age >= 18"}
