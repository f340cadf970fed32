"""Lineage: what each integration's asset reads from, where that is knowable (ARCHITECTURE.md §5.1).

An endpoint has an *identity* when it names a place: a ``file`` endpoint's ``path``, a
``postgres_table`` target's database, schema and table, a ``postgres`` source whose
``query`` reads one table (``SELECT … FROM [schema.]table …``, no join, no subquery).
When an integration's source is another integration's target, its asset depends on that
integration's asset; otherwise on an external asset ``integration_sources/<kind>/…``
(group ``integration_sources``). Links that would close a cycle (A reads what B writes
and B reads what A writes) fall back to the external asset. One pass, linear in the
number of integrations.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from integration_orchestrator.factory.integration_job import IntegrationJob
from integration_orchestrator.model.slugs import slugify

__all__ = ["SOURCES_GROUP", "Lineage", "endpoint_key", "link"]

SOURCES_GROUP = "integration_sources"
_PREFIX = "integration_sources"
_TABLE = r'"?([A-Za-z_][\w$]*)"?'
_FROM = re.compile(rf"\bfrom\s+{_TABLE}(?:\s*\.\s*{_TABLE})?(\s*,)?", re.IGNORECASE)
_COMPLEX = re.compile(r"\bjoin\b|\(\s*select\b|\bunion\b|\bwith\b", re.IGNORECASE)


def _part(text: str) -> str:
    return slugify(text, "x")


def _database(url: Any, platform: str | None) -> str:
    """A name for the database an endpoint's ``url`` points at (None: the platform's), without credentials."""
    if url is None:
        return _database(platform, None) if platform else "platform"
    if isinstance(url, Mapping) and isinstance(url.get("$secret"), str):
        return _part(f"secret {url['$secret']}")
    if isinstance(url, str):
        parts = urlsplit(url)
        return _part(f"{parts.hostname or 'local'} {parts.port or ''} {parts.path.lstrip('/')}")
    return "unknown"


def _query_table(query: Any) -> tuple[str, str] | None:
    if not isinstance(query, str) or _COMPLEX.search(query):
        return None
    found = _FROM.findall(query)
    if len(found) != 1 or found[0][2]:  # several FROMs, or a list of tables
        return None
    first, second, _comma = found[0]
    return (first, second) if second else ("public", first)


def endpoint_key(endpoint: Any, platform: str | None = None) -> dg.AssetKey | None:
    """The identity of an endpoint as an asset key, or None when it names no knowable place;
    ``platform``: the platform database's URL, where a ``postgres_table`` without ``url`` writes."""
    if not isinstance(endpoint, Mapping):
        return None
    kind = endpoint.get("type")
    if kind == "file" and isinstance(endpoint.get("path"), str):
        return dg.AssetKey([_PREFIX, "file", _part(endpoint["path"])])
    if kind == "postgres_table" and isinstance(endpoint.get("table"), str):
        schema = str(endpoint["schema"]) if isinstance(endpoint.get("schema"), str) else "public"
        return dg.AssetKey([_PREFIX, "postgres", _database(endpoint.get("url"), platform), _part(schema),
                            _part(endpoint["table"])])
    if kind == "postgres":
        table = _query_table(endpoint.get("query"))
        if table is not None:
            database = _database(endpoint.get("url"), platform)
            return dg.AssetKey([_PREFIX, "postgres", database, _part(table[0]), _part(table[1])])
    return None


@dataclass(frozen=True)
class Lineage:
    """``deps``: integration asset key → what it reads; ``sources``: the external assets read."""

    deps: Mapping[dg.AssetKey, tuple[dg.AssetKey, ...]]
    sources: tuple[dg.AssetSpec, ...]


def _cyclic(edges: Mapping[dg.AssetKey, list[dg.AssetKey]]) -> set[tuple[dg.AssetKey, dg.AssetKey]]:
    """Edges inside a strongly connected component (Tarjan, iterative): the ones that close cycles."""
    index: dict[dg.AssetKey, int] = {}
    low: dict[dg.AssetKey, int] = {}
    component: dict[dg.AssetKey, int] = {}
    stack: list[dg.AssetKey] = []
    on_stack: set[dg.AssetKey] = set()
    counter = 0
    for root in list(edges):
        if root in index:
            continue
        work: list[tuple[dg.AssetKey, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            children = edges.get(node, [])
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = index[node]
                    if member == node:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return {(a, b) for a, targets in edges.items() for b in targets if component.get(a) == component.get(b)}


def link(jobs: Sequence[IntegrationJob], platform: str | None = None) -> Lineage:
    """The lineage of ``jobs``' assets (the first job of an asset key speaks for it);
    ``platform``: the platform database's URL, if known without starting anything."""
    source_of: dict[dg.AssetKey, tuple[dg.AssetKey, str]] = {}
    producers: dict[dg.AssetKey, list[dg.AssetKey]] = defaultdict(list)
    for job in jobs:
        key = job.spec.asset_spec.key
        if key in source_of:
            continue
        connection = job.record.config.connection_config
        source, target = connection.get("source"), connection.get("target")
        source_key, target_key = endpoint_key(source, platform), endpoint_key(target, platform)
        if source_key is not None and isinstance(source, Mapping):
            source_of[key] = (source_key, str(source.get("type")))
        if target_key is not None:
            producers[target_key].append(key)
    edges = {key: [p for p in producers.get(src, []) if p != key] for key, (src, _kind) in source_of.items()}
    cyclic = _cyclic(edges)
    deps: dict[dg.AssetKey, tuple[dg.AssetKey, ...]] = {}
    sources: dict[dg.AssetKey, dg.AssetSpec] = {}
    for key, (src, kind) in source_of.items():
        upstream = [p for p in edges[key] if (key, p) not in cyclic]
        if not upstream:
            upstream = [src]
            sources.setdefault(src, dg.AssetSpec(
                key=src, group_name=SOURCES_GROUP, kinds={_part(kind)},
                description=f"Read by integrations ({kind}); written by none of them",
            ))
        deps[key] = tuple(upstream)
    return Lineage(deps, tuple(sources.values()))
