"""Materialization metadata: per-step table and a masked preview of the first records."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from integration_orchestrator.factory.runtime import StepStat

__all__ = ["MASK", "mask_record", "preview_markdown", "steps_markdown"]

MASK = "***"
_SENSITIVE = re.compile(r"pass(word)?|secret|token|api[_-]?key|authorization|ssn|credit[_-]?card|iban", re.I)


def mask_record(record: Any, mask_fields: Iterable[str] = ()) -> Any:
    """``record`` with sensitive-looking keys and ``mask_fields`` (dotted paths) masked."""
    paths = [tuple(p.removeprefix("$.").split(".")) for p in mask_fields]

    def walk(value: Any, path: tuple[str, ...]) -> Any:
        if isinstance(value, Mapping):
            return {
                k: MASK if (_SENSITIVE.search(str(k)) or (*path, str(k)) in paths) else walk(v, (*path, str(k)))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v, path) for v in value]
        return value

    return walk(record, ())


def _cell(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def preview_markdown(records: Sequence[Any], mask_fields: Iterable[str] = (), limit: int = 5) -> str:
    """A Markdown table of the first ``limit`` records (masked)."""
    shown = [mask_record(r, mask_fields) for r in records[:limit]]
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
