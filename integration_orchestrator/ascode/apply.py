"""``apply``: files → rows, planned first, in one transaction, per organization under RLS.

The documents are grouped by organization (the file's ``organization``, else the one the
caller gives, else the only organization). One transaction holds every organization's
:func:`~integration_orchestrator.db.tenant_transaction` in turn: the plan is read, shown
(``show``), carried out, and checked (``check``: the caller's validation of the rows as the
code location would load them); any error rolls everything back. A transaction-level
advisory lock per organization serializes concurrent applies (natural keys have no UNIQUE
constraint to stop two of them creating the same integration). ``plan_only`` rolls back
after the check, so a plan is validated the same way and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from integration_orchestrator.ascode.document import Document, DocumentError
from integration_orchestrator.ascode.execute import execute_plan
from integration_orchestrator.ascode.plan import Plan, build_plan
from integration_orchestrator.db import tenant_transaction
from integration_orchestrator.templates.instantiate import resolve_organization

__all__ = ["LOCK_PREFIX", "Applied", "Checker", "apply_documents", "group_by_organization"]

#: (connection inside the tenant transaction, organization id, plan) → problems as
#: (document, object path, message); empty when the rows are valid
Checker = Callable[[psycopg.Connection[Any], str, Plan], list[tuple[Document, tuple[str | int, ...], str]]]


@dataclass(frozen=True)
class Applied:
    plans: tuple[Plan, ...]
    committed: bool


#: one ``apply`` per organization at a time (two would both create a new integration of one name)
LOCK_PREFIX = "integration_orchestrator.apply:"


class _PlanOnly(Exception):
    """Raised to roll the transaction back after a plan."""


def group_by_organization(
    conn: psycopg.Connection[Any], documents: Sequence[Document], organization: str | None,
    scope: str | None = None,
) -> dict[str, list[Document]]:
    """Documents by the id of their organization (reads ``organizations`` as the owner).

    ``scope``: the organization the command keeps to (``--organization-id`` or the
    variable); a document of another organization is refused, one without defaults to it."""
    groups: dict[str, list[Document]] = {}
    for document in documents:
        reference = document.organization or organization or scope
        try:
            org = str(resolve_organization(conn, reference))
        except Exception as exc:
            reason = getattr(exc, "reason", str(exc))
            raise DocumentError(document.file, reason, field="organization") from exc
        if scope is not None and org != scope:
            raise DocumentError(document.file, f"organization `{reference}` is not the organization this command "
                                f"keeps to ({scope})", field="organization")
        groups.setdefault(org, []).append(document)
    return groups


def apply_documents(
    conn: psycopg.Connection[Any],
    documents: Sequence[Document],
    *,
    organization: str | None = None,
    scope: str | None = None,
    plan_only: bool = False,
    show: Callable[[Plan], None] = lambda plan: None,
    check: Checker | None = None,
) -> Applied:
    """Plan and apply ``documents`` (see the module docstring); ``conn`` is an owner connection."""
    plans: list[Plan] = []
    groups = group_by_organization(conn, documents, organization, scope)
    labels = {str(r["id"]): r["label"] for r in conn.execute(
        "SELECT id, coalesce(slug, name) AS label FROM organizations WHERE id = ANY(%s::uuid[])", (list(groups),))}
    try:
        with conn.transaction():
            for org, group in groups.items():
                with tenant_transaction(conn, org):
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + org,))
                    plan = build_plan(conn, org, group)
                    plan.organization = labels.get(org)
                    plans.append(plan)
                    show(plan)
                    if plan.changed:
                        execute_plan(conn, plan)
                    problems = check(conn, org, plan) if check is not None and plan.changed else []
                    if problems:
                        document, path, message = problems[0]
                        raise document.error(f"the rows would not load: {message}", path)
            if plan_only:
                raise _PlanOnly
    except _PlanOnly:
        return Applied(tuple(plans), committed=False)
    return Applied(tuple(plans), committed=any(p.changed for p in plans))
