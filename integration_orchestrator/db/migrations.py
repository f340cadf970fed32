"""Plain SQL migrations, applied in order.

Files live in the top-level ``sql/`` folder (shipped inside the package as
``integration_orchestrator/sql``) and are named ``NNNN_description.sql``. ``upgrade``
takes a session advisory lock (so concurrent upgrades serialise), applies each pending
file in its own transaction and records it in ``schema_migrations`` with a SHA-256
checksum. Re-running is a no-op; a file edited after it was applied is an error.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from integration_orchestrator.db.connection import connect
from integration_orchestrator.errors import MigrationError

__all__ = ["Migration", "applied_migrations", "load_migrations", "migrations_dir", "upgrade"]

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x10_2A_70_15  # one advisory lock key for every upgrade of this schema

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    duration_ms INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "sql"


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Every ``NNNN_name.sql`` file of ``directory``, in version order."""
    directory = directory or migrations_dir()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.match(path.name)
        if not match:
            raise MigrationError(path.name, "file name must look like 0001_description.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(path.name, f"version {version:04d} is used twice")
        found[version] = Migration(version, match.group(2), path, path.read_text())
    return [found[v] for v in sorted(found)]


def applied_migrations(conn: psycopg.Connection[Any]) -> dict[int, dict[str, Any]]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL AS e").fetchone()
    if not exists or not _value(exists, "e"):
        return {}
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations").fetchall()
    return {_value(r, "version"): r for r in rows}


def _value(row: Any, key: str) -> Any:
    return row[key] if isinstance(row, dict) else row[0]


def upgrade(url: str, directory: Path | None = None) -> list[Migration]:
    """Apply the pending migrations to the database at ``url``; return those applied."""
    migrations = load_migrations(directory)
    applied: list[Migration] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(_BOOTSTRAP)
            done = applied_migrations(conn)
            for migration in migrations:
                record = done.get(migration.version)
                if record is not None:
                    if record["checksum"] != migration.checksum:
                        raise MigrationError(
                            migration.filename,
                            "was edited after it was applied (checksum differs); "
                            "add a new migration instead of changing an applied one",
                        )
                    continue
                _apply(conn, migration)
                applied.append(migration)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied


def _apply(conn: psycopg.Connection[Any], migration: Migration) -> None:
    try:
        with conn.transaction():
            (clock,) = conn.execute("SELECT clock_timestamp() AS t").fetchall()
            started = clock["t"]
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum, duration_ms) "
                "VALUES (%s, %s, %s, (extract(epoch FROM clock_timestamp() - %s) * 1000)::int)",
                (migration.version, migration.name, migration.checksum, started),
            )
    except psycopg.Error as exc:
        diag = getattr(exc, "diag", None)
        detail = str(exc).strip()
        if diag is not None and diag.statement_position:
            detail += f" (at character {diag.statement_position})"
        raise MigrationError(migration.filename, detail) from exc
