"""Materialization metadata: per-step table and a masked preview of the first records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from integration_orchestrator.factory.runtime import StepStat
from integration_orchestrator.masking import Masker

__all__ = ["preview_markdown", "steps_markdown"]


def _cell(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def preview_markdown(records: Sequence[Any], masker: Masker, limit: int = 5) -> str:
    """A Markdown table of the first ``limit`` records, masked by ``masker``."""
    shown = [masker.record(r) for r in records[:limit]]
    if not shown:
        return "_no records_"
    columns: list[str] = []
    for record in shown:
        for key in record if isinstance(record, Mapping) else ["value"]:
            if key not in columns:
                columns.append(str(key))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for record in shown:
        row = record if isinstance(record, Mapping) else {"value": record}
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def steps_markdown(stats: Sequence[StepStat]) -> str:
    lines = ["| step | in | out | dropped | failed | seconds |", "|---|---|---|---|---|---|"]
    for s in stats:
        lines.append(f"| {s.step} | {s.records_in} | {s.records_out} | {s.dropped} | {s.failed} | {s.seconds:.3f} |")
    return "\n".join(lines)
