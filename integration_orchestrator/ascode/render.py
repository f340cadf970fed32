"""A plan as text: one line per object (``+`` create, ``~`` update, ``=`` unchanged,
``·`` a row of the database the files do not mention, left as is), field diffs under updates."""

from __future__ import annotations

import json
from typing import Any

from integration_orchestrator.ascode.plan import CREATE, EXTRA, UNCHANGED, UPDATE, Plan
from integration_orchestrator.masking import Masker

__all__ = ["render_plan"]

_MARKS = {CREATE: "+", UPDATE: "~", UNCHANGED: "=", EXTRA: "·"}
_WIDTH = 120


def _short(value: Any) -> str:
    text = json.dumps(Masker().record(value), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def render_plan(plan: Plan) -> str:
    name = f"{plan.organization} " if plan.organization else ""
    lines = [f"organization {name}({plan.organization_id}):"]
    for change in plan.changes:
        suffix = " (not in the files; left as is)" if change.action == EXTRA else ""
        lines.append(f"  {_MARKS[change.action]} {change.label}{suffix}")
        for column, old, new in change.diffs:
            lines.append(f"      {column}: {_short(old)} → {_short(new)}")
    lines.append(
        f"Plan: {plan.count(CREATE)} to create, {plan.count(UPDATE)} to update, {plan.count(UNCHANGED)} unchanged."
    )
    return "\n".join(lines)
