"""Slugs: the ``[a-z0-9_]`` form of a human name, and the id suffix that tells two apart."""

from __future__ import annotations

import re

__all__ = ["id_suffix", "slugify"]

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str, fallback: str = "integration") -> str:
    """``"Orders → ERP (v2)"`` → ``"orders_erp_v2"``; empty results become ``fallback``."""
    slug = _NON_SLUG.sub("_", name.lower()).strip("_")
    return slug or fallback


def id_suffix(row_id: object) -> str:
    """The first 8 hex digits of a row id (a UUID or its string form)."""
    return str(row_id).replace("-", "")[:8]
