"""The migration runner: ordered, transactional, locked, recorded, idempotent."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from integration_orchestrator.db import connect, load_migrations, upgrade
from integration_orchestrator.db.migrations import applied_migrations
from integration_orchestrator.errors import MigrationError


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def _tables(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r["tablename"] for r in rows}


def test_project_migrations_apply_once(empty_database_url: str) -> None:
    first = upgrade(empty_database_url)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert first, "the project ships migrations"
    assert upgrade(empty_database_url) == []
    with connect(empty_database_url) as conn:
        recorded = applied_migrations(conn)
    assert sorted(recorded) == [m.version for m in first]
    assert all(len(r["checksum"]) == 64 for r in recorded.values())


def test_files_apply_in_version_order(empty_database_url: str, tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0002_child.sql": "CREATE TABLE child (id int REFERENCES parent(id));",
            "0001_parent.sql": "CREATE TABLE parent (id int PRIMARY KEY);",
            "0010_more.sql": "ALTER TABLE child ADD COLUMN note text;",
        },
    )
    applied = upgrade(empty_database_url, directory)
    assert [m.version for m in applied] == [1, 2, 10]
    assert {"parent", "child", "schema_migrations"} <= _tables(empty_database_url)


def test_failed_migration_is_rolled_back_whole(empty_database_url: str, tmp_path: Path) -> None:
    directory = _write(
        tmp_path / "m",
        {
            "0001_ok.sql": "CREATE TABLE ok (id int);",
            "0002_bad.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();",
        },
    )
    with pytest.raises(MigrationError) as info:
        upgrade(empty_database_url, directory)
    assert info.value.filename == "0002_bad.sql"
    assert "no_such_function" in str(info.value)
    tables = _tables(empty_database_url)
    assert "ok" in tables and "half" not in tables
    with connect(empty_database_url) as conn:
        assert sorted(applied_migrations(conn)) == [1]


def test_edited_applied_migration_is_an_error(empty_database_url: str, tmp_path: Path) -> None:
    directory = _write(tmp_path / "m", {"0001_a.sql": "CREATE TABLE a (id int);"})
    upgrade(empty_database_url, directory)
    (directory / "0001_a.sql").write_text("CREATE TABLE a (id bigint);")
    with pytest.raises(MigrationError, match=r"0001_a.sql.*edited after it was applied"):
        upgrade(empty_database_url, directory)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_short.sql": "SELECT 1;"}, "file name must look like"),
        ({"0001_Upper.sql": "SELECT 1;"}, "file name must look like"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "used twice"),
    ],
)
def test_bad_file_names_are_rejected(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(MigrationError, match=message):
        load_migrations(_write(tmp_path / "m", files))


def test_concurrent_upgrades_apply_each_file_once(empty_database_url: str, tmp_path: Path) -> None:
    # Each file would fail if applied twice (CREATE TABLE without IF NOT EXISTS).
    directory = _write(
        tmp_path / "m",
        {f"{i:04d}_t{i}.sql": f"CREATE TABLE t{i} (id int); SELECT pg_sleep(0.05);" for i in range(1, 6)},
    )
    results: list[object] = []

    def run() -> None:
        try:
            results.append(len(upgrade(empty_database_url, directory)))
        except Exception as exc:  # noqa: BLE001  # pragma: no cover - the assertion shows it
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 0, 5]  # type: ignore[type-var]  # an exception in results fails here too


def _cli(url: str | None, *args: str, cwd: Path, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "INTEGRATION_ORCHESTRATOR_DATABASE_URL"}
    if url:
        env["INTEGRATION_ORCHESTRATOR_DATABASE_URL"] = url
    if home:
        env["INTEGRATION_ORCHESTRATOR_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "integration_orchestrator", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


def test_cli_db_upgrade_twice(empty_database_url: str, tmp_path: Path) -> None:
    first = _cli(empty_database_url, "db", "upgrade", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    count = len(load_migrations())
    assert f"{count} migration(s) applied" in first.stdout
    second = _cli(empty_database_url, "db", "upgrade", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "0 migration(s) applied" in second.stdout


def test_cli_db_url_masks_password(tmp_path: Path) -> None:
    result = _cli("postgresql://app:s3cret@db.example:5432/prod", "db", "url", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == "postgresql://app:***@db.example:5432/prod"
    assert "s3cret" not in result.stdout + result.stderr


def test_cli_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    result = _cli("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: Cannot reach the integration database at postgresql://nobody@127.0.0.1:1/none"
    )
    assert "Traceback" not in result.stderr


def test_sql_readme_lists_every_migration() -> None:
    sql_dir = Path(__file__).resolve().parent.parent / "sql"
    readme = (sql_dir / "README.md").read_text()
    missing = [p.name for p in sorted(sql_dir.glob("*.sql")) if f"`{p.name}`" not in readme]
    assert missing == [], f"sql/README.md does not list {missing}"
