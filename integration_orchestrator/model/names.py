"""Stable Dagster names for integration rows (ARCHITECTURE.md §5).

Names are ``[a-z0-9_]`` slugs of the human name. When two rows of the same kind slug to
the same name, the oldest row (by ``created_at``, then id) keeps the plain slug and every
other one gets ``_`` + the first 8 hex digits of its row id, so adding a row never renames
an existing job.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from integration_orchestrator.model.slugs import id_suffix, slugify

if TYPE_CHECKING:
    from integration_orchestrator.model.integration import Integration

__all__ = ["DefaultNames", "NameRequest", "assign_unique_names", "default_names"]

@dataclass(frozen=True)
class NameRequest:
    """One row asking for a name: ``key`` identifies the row, ``order`` ranks its age."""

    key: Hashable
    human_name: str
    row_id: object
    order: tuple[str, str]


def assign_unique_names(
    requests: Iterable[NameRequest],
    *,
    prefix: str = "",
    suffix: str = "",
    reserved: Sequence[str] = (),
) -> dict[Hashable, str]:
    """Slug each request's name; on collision the oldest keeps it, the others get the id suffix."""
    ordered = sorted(requests, key=lambda r: r.order)
    taken: set[str] = set(reserved)
    names: dict[Hashable, str] = {}
    for request in ordered:
        base = f"{prefix}{slugify(request.human_name)}{suffix}"
        name = base if base not in taken else f"{base}_{id_suffix(request.row_id)}"
        taken.add(name)
        names[request.key] = name
    return names


@dataclass(frozen=True)
class DefaultNames:
    """The ARCHITECTURE.md §5 names of one integration job."""

    job_name: str
    asset_path: tuple[str, str]
    check_names: Mapping[str, str]  # mapping id → check name


def default_names(records: Sequence[Integration], reserved_jobs: Sequence[str] = ()) -> dict[Hashable, DefaultNames]:
    """Job, asset and check names of every integration, collisions resolved by row age."""
    jobs = assign_unique_names(
        (
            NameRequest(r.key, r.pipeline.pipeline_name, r.pipeline.id, r.pipeline.order)
            if r.pipeline is not None
            else NameRequest(r.key, r.config.integration_name, r.config.id, r.config.order)
            for r in records
        ),
        reserved=reserved_jobs,
    )
    configs = {r.config.id: r for r in records}
    assets = assign_unique_names(
        NameRequest(c.config.id, c.config.integration_name, c.config.id, c.config.order) for c in configs.values()
    )
    checks: dict[str, dict[str, str]] = {}
    for config_id, r in configs.items():
        tested = [m for m in r.mappings if m.id in r.tests]
        named = assign_unique_names(NameRequest(m.id, m.mapping_name, m.id, m.order) for m in tested)
        checks[config_id] = {str(k): f"mapping_{v}" for k, v in named.items()}
    return {
        r.key: DefaultNames(jobs[r.key], ("integrations", assets[r.config.id]), checks[r.config.id]) for r in records
    }
