"""Batching of records and the connector registry."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from integration_orchestrator.connectors import (
    ConnectorSpec,
    base,
    iter_batches,
    open_source,
    register_source,
    registered_types,
    validate_connection_config,
)

R = [{"i": i} for i in range(7)]


@pytest.mark.parametrize(
    ("records", "size", "expected"),
    [
        (R, 3, [R[0:3], R[3:6], R[6:7]]),
        (iter(R), 7, [R]),
        ([R[0:5], R[5:7]], 2, [R[0:2], R[2:4], R[4:5], R[5:7]]),
        ([R[0], R[1], R[2:5], R[5], R[6]], 10, [R[0:2], R[2:5], R[5:7]]),
        ([R[0:2], R[2], R[3:7]], 3, [R[0:2], [R[2]], R[3:6], R[6:7]]),
        ([MappingProxyType({"a": 1})], 5, [[{"a": 1}]]),
        ([], 5, []),
    ],
    ids=["flat list", "generator", "batches split", "records around a batch", "batch first", "mapping", "empty"],
)
def test_iter_batches_normalises(records: Any, size: int, expected: list[list[dict[str, Any]]]) -> None:
    batches = list(iter_batches(records, size))
    assert batches == expected
    assert all(type(r) is dict for b in batches for r in b)


@pytest.mark.parametrize("records", [[1, 2], [[{"a": 1}, "x"]]])
def test_iter_batches_rejects_non_records(records: Any) -> None:
    with pytest.raises(TypeError, match="expected a record"):
        list(iter_batches(records, 10))


def test_a_plugin_source_is_validated_and_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    class Countdown:
        def __init__(self, config: Any, context: Any = None) -> None:
            self.start = config["start"]

        def read(self) -> Any:
            yield [{"n": n} for n in range(self.start, 0, -1)]

    schema = {
        "type": "object",
        "properties": {"type": {"const": "countdown"}, "start": {"type": "integer"}},
        "required": ["type", "start"],
        "additionalProperties": False,
    }
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))  # the registration ends with the test
    register_source(ConnectorSpec(type="countdown", role="source", schema=schema, factory=Countdown))
    assert "countdown" in registered_types("source")
    config = {"source": {"type": "countdown", "start": "3"}, "target": {"type": "file", "path": "x.csv"}}
    with pytest.raises(Exception, match=r"field `connection_config.source.start`: must be of type integer"):
        validate_connection_config(config, row_name="c", row_id=1)
    assert list(open_source({"type": "countdown", "start": 2}, str).read()) == [[{"n": 2}, {"n": 1}]]
