"""A Batch crosses a process boundary as one compact payload, every value type intact."""

from __future__ import annotations

import datetime as dt
import pickle
import uuid
from decimal import Decimal
from typing import Any

import pytest

from integration_orchestrator.factory.handover import pack_records, unpack_records
from integration_orchestrator.factory.runtime import Batch, StepStat

SHARED = {"nested": [1, 2.5, None, True, "ü"]}


@pytest.mark.parametrize(
    ("records", "kind"),
    [
        ([{"id": 1, "name": "ada", "tags": ["x"], "ok": True, "n": None, "f": 1.5, "big": 10**30}], "marshal"),
        ([{"a": SHARED, "b": SHARED}], "marshal"),
        (
            [
                {"total": Decimal("12.50")},
                {"on": dt.date(2026, 3, 4), "at": dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)},
            ],
            "pickle",
        ),
        ([{"id": uuid.UUID(int=7)}], "pickle"),
        ([], "marshal"),
    ],
)
def test_records_round_trip_with_their_types(records: list[Any], kind: str) -> None:
    payload = pack_records(records)
    assert payload[0] == kind
    restored = unpack_records(payload)
    assert restored == records
    assert [{k: type(v) for k, v in r.items()} for r in restored] == [
        {k: type(v) for k, v in r.items()} for r in records
    ]


def test_a_batch_pickles_its_records_as_one_payload() -> None:
    batch = Batch(records=[{"id": i} for i in range(1_000)], stats=(StepStat("source", 1_000, 1_000, 0, 0.5),), index=4)
    assert pickle.loads(pickle.dumps(batch)) == batch  # noqa: S301 - our own bytes
    _restore, (payload, stats, index) = batch.__reduce__()
    assert payload[0] == "marshal" and isinstance(payload[1], bytes)  # one payload, not 1,000 pickled dicts
    assert (stats, index) == (batch.stats, 4)


def test_an_unknown_payload_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown record payload format 'json'"):
        unpack_records(("json", b"[]"))
