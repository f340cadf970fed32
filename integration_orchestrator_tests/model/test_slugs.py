"""Slugs: the ``[a-z0-9_]`` form of a name, capped at MAX_SLUG_LENGTH with a hash suffix."""

from __future__ import annotations

import hashlib

import pytest

from integration_orchestrator.model.slugs import MAX_SLUG_LENGTH, slugify

LONG = "a" * 200


def _h(slug: str) -> str:
    return hashlib.sha256(slug.encode()).hexdigest()[:8]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Orders → ERP (v2)", "orders_erp_v2"),
        ("---", "integration"),
        ("x" * MAX_SLUG_LENGTH, "x" * MAX_SLUG_LENGTH),  # at the cap: unchanged
        ("x" * (MAX_SLUG_LENGTH + 1), "x" * 55 + "_" + _h("x" * 65)),
        (LONG, "a" * 55 + "_" + _h(LONG)),
        ("ab " * 40, ("ab_" * 19)[:55].rstrip("_") + "_" + _h("_".join(["ab"] * 40))),  # no "__" at the cut
    ],
)
def test_slugify(name: str, expected: str) -> None:
    assert slugify(name) == expected
    assert len(slugify(name)) <= MAX_SLUG_LENGTH


def test_long_names_differing_after_the_cut_get_different_slugs() -> None:
    first, second = slugify(LONG + "first"), slugify(LONG + "second")
    assert first != second and len(first) == len(second) == MAX_SLUG_LENGTH


def test_ten_megabyte_name_is_a_short_slug() -> None:
    assert len(slugify("Orders " * (10 * 1024 * 1024 // 7))) == MAX_SLUG_LENGTH
