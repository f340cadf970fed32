"""The pipeline benchmark's workload: the NDJSON records, the integration rows and the row checksum.

Every contender of ``pipeline_bench.py`` reads the same file and must write the same rows;
``checksum`` is how the harness proves it (same count, same md5 over the rows in key order).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from integration_orchestrator.db.rows import insert_row

__all__ = [
    "BASELINE",
    "COLUMNS",
    "COUNTRIES",
    "DDL",
    "JOB",
    "MAPPINGS",
    "POLARS_TABLE",
    "STEPS",
    "TABLE",
    "checksum",
    "seed",
    "write_records",
]

TABLE = "bench_orders"
BASELINE = "bench_orders_copy"
POLARS_TABLE = "bench_orders_polars"
JOB = "bench_pipeline"
COLUMNS = ("customer_id", "full_name", "email", "country", "placed_on", "total", "items", "status", "tier", "label")
DDL = """CREATE TABLE {table} (
    customer_id integer PRIMARY KEY, full_name text NOT NULL, email text, country text, placed_on date,
    total numeric, items integer, status text, tier text, label text)"""
COUNTRIES = {"DE": "Germany", "FR": "France", "NL": "Netherlands", "ES": "Spain", "IT": "Italy", "PL": "Poland"}
FIRST = ("Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Margaret", "Claude", "Frances")
LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Shannon", "Allen")


def write_records(path: Path, n: int, seed: int = 5) -> None:
    """N nested NDJSON records; ~10% cancelled (the filter step drops them)."""
    rng = random.Random(seed)
    codes = list(COUNTRIES)
    with path.open("wb") as out:
        for i in range(1, n + 1):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            record = {
                "customer": {
                    "id": str(i),
                    "name": {"first": first, "last": last},
                    "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                },
                "order": {
                    "total": f"{rng.uniform(1, 500):.2f}",
                    "placed": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    "country": rng.choice(codes),
                    "items": str(rng.randint(1, 20)),
                },
                "status": "cancelled" if rng.random() < 0.1 else "active",
                "channel": "web",
                "notes": None,
            }
            out.write(orjson.dumps(record) + b"\n")


MAPPINGS: list[dict[str, Any]] = [
    {"mapping_name": "customer_id", "source_path": "customer.id", "target_path": "customer_id", "is_required": True,
     "transformation_rules": {"type": "cast", "to": "integer"}},
    {"mapping_name": "full_name", "source_path": "customer.name", "target_path": "full_name",
     "transformation_rules": {"type": "template", "template": "{first} {last}"}},
    {"mapping_name": "email", "source_path": "customer.email", "target_path": "email",
     "transformation_rules": {"type": "direct"}},
    {"mapping_name": "country", "source_path": "order.country", "target_path": "country",
     "transformation_rules": {"type": "lookup", "values": COUNTRIES}},
    {"mapping_name": "placed_on", "source_path": "order.placed", "target_path": "placed_on",
     "transformation_rules": {"type": "cast", "to": "date"}},
    {"mapping_name": "total", "source_path": "order.total", "target_path": "total",
     "transformation_rules": {"type": "cast", "to": "number"}},
    {"mapping_name": "items", "source_path": "order.items", "target_path": "items",
     "transformation_rules": {"type": "cast", "to": "integer"}},
    {"mapping_name": "status", "source_path": "status", "target_path": "status",
     "transformation_rules": {"type": "direct"}},
]


def _step(name: str, order: int, kind: str, expression: str) -> dict[str, Any]:
    return {"name": name, "order": order, "transformation": {
        "transformation_type": kind, "language": "jmespath", "transformation_logic": {"expression": expression}}}


STEPS = [
    _step("active only", 1, "filter", "status == 'active'"),
    _step("tier", 2, "enrich", "{tier: total > `250` && 'gold' || 'standard'}"),
    _step("label", 3, "map", "merge(@, {label: join(' / ', [country, tier])})"),
]


def seed(url: str, path: Path, batch_size: int) -> None:
    """The job's rows (one organization, config, 8 mappings, a 3-step pipeline) and the twin tables."""
    from integration_orchestrator.db import connect

    with connect(url) as conn, conn.transaction():
        for table in (TABLE, BASELINE, POLARS_TABLE):
            conn.execute(DDL.format(table=table))
        org = insert_row(conn, "organizations", {"name": "Bench", "slug": "bench"})
        config = insert_row(conn, "integration_configs", {
            "integration_name": "Bench orders", "integration_type": "bench", "organization_id": org,
            "connection_config": {"source": {"type": "file", "path": str(path), "batch_size": batch_size},
                                  "target": {"type": "postgres_table", "table": TABLE, "mode": "upsert",
                                             "key": ["customer_id"]}},
        })
        for mapping in MAPPINGS:
            insert_row(conn, "integration_mappings", {**mapping, "config_id": config, "organization_id": org})
        insert_row(conn, "integration_pipeline_definitions", {
            "pipeline_name": JOB, "config_id": config, "organization_id": org, "pipeline_type": "linear",
            "pipeline_steps": {"steps": STEPS}, "error_handling_strategy": "fail_fast",
            "performance_config": {"batch_size": batch_size},
        })


# One canonical text per row: integers as bigint (dlt's integer columns are bigint), the
# total by value (trim_scale: 486.2 and 486.20 are the same number; a float that drifted,
# 486.19999999, is not), the rest as PostgreSQL prints them; ROW(...)::text keeps NULLs apart.
_ROW_TEXT = ("ROW(customer_id::bigint, full_name, email, country, placed_on, trim_scale(total), items::bigint, "
             "status, tier, label)::text")


def checksum(conn: Any, table: str) -> tuple[int, str]:
    """Rows and the md5 of every row's canonical text in ``customer_id`` order."""
    row = conn.execute(
        f"SELECT count(*) AS n, md5(coalesce(string_agg({_ROW_TEXT}, E'\\n' ORDER BY customer_id), '')) AS md5 "
        f"FROM {table}"
    ).fetchone()
    return int(row["n"]), str(row["md5"])
