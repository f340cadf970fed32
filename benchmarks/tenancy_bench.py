"""Cost of row-level security and the audit triggers on the integration tables.

    .venv/bin/python benchmarks/tenancy_bench.py [--organizations 20] [--mappings 2000] [--rounds 3]
    .venv/bin/python benchmarks/tenancy_bench.py --database-url postgresql://postgres@127.0.0.1:5432/postgres

Starts an embedded PostgreSQL in a temporary directory (or uses ``--database-url``'s
server, in a scratch database dropped afterwards), applies the migrations, creates
``--organizations`` organizations with one config and ``--mappings`` mappings each, then
times the same work two ways:

  read    all mappings of one organization: the owner with ``WHERE organization_id = X``
          (baseline) vs the application role under RLS (no WHERE)
  insert  ``--mappings`` new mappings of one organization: the owner with the table's
          triggers disabled (baseline: plain inserts) vs the application role (RLS,
          validate_field_mapping, composite FKs, history rows)
  update  change ``target_path`` of those mappings: owner, triggers disabled (baseline)
          vs the application role (RLS, updated_at, version bump, history rows)

and prints seconds (best of ``--rounds``) and the ratio to the baseline. Goal: read
<= 1.5x (RLS must not cost a scan). Writes pay for the audit trail by design: every
insert / versioned update also writes an ``integration_config_history`` row holding the
old and new row as JSONB (about half of the update time), which is acceptable for
configuration tables that people edit, not for hot data.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from integration_orchestrator.db import connect, tenant_transaction, upgrade
from integration_orchestrator.db.embedded import start_embedded_server
from integration_orchestrator.db.urls import with_database

Conn = Any

MAPPING_INSERT = (
    "INSERT INTO integration_mappings (config_id, mapping_name, source_path, target_path, source_data_type,"
    " target_data_type, transformation_rules, organization_id) VALUES (%s, %s, %s, %s, 'string', 'integer', %s, %s)"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--organizations", type=int, default=20)
    parser.add_argument("--mappings", type=int, default=2000, help="mappings per organization")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="an existing server (maintenance database URL)")
    args = parser.parse_args()
    if args.database_url:
        with_scratch_database(args.database_url, args)
        return
    with tempfile.TemporaryDirectory(prefix="io-tenancy-bench-") as home:
        server = start_embedded_server(Path(home))
        try:
            with_scratch_database(server.url("postgres"), args)
        finally:
            server.stop()


def with_scratch_database(admin_url: str, args: argparse.Namespace) -> None:
    name = f"io_bench_{uuid.uuid4().hex[:8]}"
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = with_database(admin_url, name)
        upgrade(url)
        run(url, args)
    finally:
        with connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _populate(conn: Conn, organizations: int, mappings: int) -> list[tuple[Any, Any]]:
    created = []
    for n in range(organizations):
        org = conn.execute(
            "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"Org {n}",)
        ).fetchone()["id"]
        config = conn.execute(
            "INSERT INTO integration_configs (integration_name, integration_type, organization_id)"
            " VALUES ('bench', 'rest', %s) RETURNING id",
            (org,),
        ).fetchone()["id"]
        with conn.cursor() as cur:
            cur.executemany(MAPPING_INSERT, _mapping_rows(config, org, mappings, "m"))
        created.append((org, config))
    conn.execute("ANALYZE")
    return created


def _mapping_rows(config: Any, org: Any, count: int, prefix: str) -> list[tuple[Any, ...]]:
    rules = Jsonb({"type": "cast", "to": "integer"})
    return [(config, f"{prefix}{i}", f"$.f{i}", f"out.f{i}", rules, org) for i in range(count)]


def _best(rounds: int, work: Callable[[], None], reset: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for _ in range(rounds):
        if reset:
            reset()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def run(url: str, args: argparse.Namespace) -> None:
    with connect(url, autocommit=True) as conn:
        orgs = _populate(conn, args.organizations, args.mappings)
        org, config = orgs[len(orgs) // 2]
        results: list[tuple[str, float, float]] = []

        def read_owner() -> None:
            rows = conn.execute("SELECT * FROM integration_mappings WHERE organization_id = %s", (org,)).fetchall()
            assert len(rows) >= args.mappings

        def read_app() -> None:
            with tenant_transaction(conn, org):
                rows = conn.execute("SELECT * FROM integration_mappings").fetchall()
            assert len(rows) >= args.mappings

        results.append(("read", _best(args.rounds, read_owner), _best(args.rounds, read_app)))

        def reset() -> None:
            conn.execute("DELETE FROM integration_mappings WHERE mapping_name LIKE 'new%%'")
            conn.execute("DELETE FROM integration_config_history WHERE new_row ->> 'mapping_name' LIKE 'new%%'"
                         " OR old_row ->> 'mapping_name' LIKE 'new%%'")

        new_rows = _mapping_rows(config, org, args.mappings, "new")

        def insert_owner() -> None:
            with conn.transaction():
                conn.execute("ALTER TABLE integration_mappings DISABLE TRIGGER USER")
                with conn.cursor() as cur:
                    cur.executemany(MAPPING_INSERT, new_rows)
                conn.execute("ALTER TABLE integration_mappings ENABLE TRIGGER USER")

        def insert_app() -> None:
            with tenant_transaction(conn, org), conn.cursor() as cur:
                cur.executemany(MAPPING_INSERT, new_rows)

        results.append(("insert", _best(args.rounds, insert_owner, reset), _best(args.rounds, insert_app, reset)))

        update = "UPDATE integration_mappings SET target_path = target_path || '.x' WHERE mapping_name LIKE 'new%%'"

        def update_owner() -> None:
            with conn.transaction():
                conn.execute("ALTER TABLE integration_mappings DISABLE TRIGGER USER")
                conn.execute(update)
                conn.execute("ALTER TABLE integration_mappings ENABLE TRIGGER USER")

        def update_app() -> None:
            with tenant_transaction(conn, org):
                conn.execute(update)

        results.append(("update", _best(args.rounds, update_owner), _best(args.rounds, update_app)))
        version = conn.execute(
            "SELECT max(version) AS v FROM integration_mappings WHERE mapping_name LIKE 'new%%'"
        ).fetchone()["v"]
        assert version > 1, "the application updates must have bumped the version"
        server = conn.execute("SHOW server_version").fetchone()["server_version"]

    total = args.organizations * args.mappings
    print(f"\nPostgreSQL {server}: {args.organizations} organizations x {args.mappings:,} mappings "
          f"({total:,} rows), best of {args.rounds} round(s)")
    print(f"{'operation':<10}{'baseline s':>12}{'app role s':>12}{'ratio':>8}")
    for name, baseline, app in results:
        print(f"{name:<10}{baseline:>12.4f}{app:>12.4f}{app / baseline:>7.2f}x")


if __name__ == "__main__":
    main()
