"""Slugs: the ``[a-z0-9_]`` form of a human name, and the id suffix that tells two apart.

A slug is at most :data:`MAX_SLUG_LENGTH` characters (ARCHITECTURE.md §5.1): a longer one
keeps its first characters and ends in ``_`` + 8 hex digits of the SHA-256 of the whole
slug, so a 10 MB ``integration_name`` makes a 64-character job name, and two long names that
differ only after the cut still get different slugs.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = ["MAX_SLUG_LENGTH", "id_suffix", "slugify"]

MAX_SLUG_LENGTH: Final = 64
_HASH_DIGITS: Final = 8
_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(name: str, fallback: str = "integration") -> str:
    """``"Orders → ERP (v2)"`` → ``"orders_erp_v2"``; empty results become ``fallback``;
    longer than :data:`MAX_SLUG_LENGTH`: cut, with a hash suffix of the whole slug."""
    slug = _NON_SLUG.sub("_", name.lower()).strip("_")
    if len(slug) > MAX_SLUG_LENGTH:
        digest = hashlib.sha256(slug.encode()).hexdigest()[:_HASH_DIGITS]
        slug = slug[: MAX_SLUG_LENGTH - _HASH_DIGITS - 1].rstrip("_") + "_" + digest
    return slug or fallback


def id_suffix(row_id: object) -> str:
    """The first 8 hex digits of a row id (a UUID or its string form)."""
    return str(row_id).replace("-", "")[:8]
