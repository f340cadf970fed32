"""The invalid rows, visible in the Dagster UI: metadata of a ``load_health`` asset."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from integration_orchestrator.model import InvalidRow

__all__ = ["HEALTH_ASSET_KEY", "health_asset_spec", "invalid_rows_markdown"]

HEALTH_ASSET_KEY = dg.AssetKey(["integration_orchestrator", "load_health"])


def invalid_rows_markdown(invalid: Sequence[InvalidRow]) -> str:
    if not invalid:
        return "_every integration row is valid_"
    lines = ["| table | row id | name | field | reason |", "|---|---|---|---|---|"]
    for row in invalid:
        cells = [row.table, row.row_id or "", row.name or "", row.field or "", row.reason]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    return "\n".join(lines)


def health_asset_spec(invalid: Sequence[InvalidRow], *, integrations: int, loaded_at: str) -> dg.AssetSpec:
    summary = (
        f"WARNING: {len(invalid)} invalid integration row(s) were skipped; see `invalid_rows`."
        if invalid
        else "All integration rows loaded."
    )
    return dg.AssetSpec(
        key=HEALTH_ASSET_KEY,
        description=f"{summary} {integrations} integration job(s) loaded from the snapshot of {loaded_at}.",
        group_name="integration_orchestrator",
        metadata={
            "invalid_row_count": len(invalid),
            "invalid_rows": dg.MetadataValue.md(invalid_rows_markdown(invalid)),
            "integration_jobs": integrations,
            "snapshot_loaded_at": loaded_at,
        },
    )
