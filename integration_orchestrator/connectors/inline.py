"""``inline`` source: records written in the config itself (demos, tests, fixed lookups)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from integration_orchestrator.connectors.base import ConnectorContext, ConnectorSpec, Record, chunked, register_source
from integration_orchestrator.connectors.chunks import SourceChunk, record_chunks

__all__ = ["INLINE_SOURCE", "InlineSource"]

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"const": "inline"},
        "records": {"type": "array", "items": {"type": "object"}},
        "batch_size": {"type": "integer", "minimum": 1},
    },
    "required": ["type", "records"],
    "additionalProperties": False,
}


class InlineSource:
    """Yields the config's ``records`` in batches of ``batch_size`` (default 1000)."""

    def __init__(self, config: Mapping[str, Any], context: ConnectorContext | None = None) -> None:
        self.records: list[Record] = [dict(r) for r in config["records"]]
        self.batch_size: int = int(config.get("batch_size", 1000))

    def read(self) -> Iterator[list[Record]]:
        yield from chunked(self.records, self.batch_size)

    def read_batches(self) -> Iterator[SourceChunk]:
        """The records as batches of ``batch_size``."""
        return record_chunks(self.read())


INLINE_SOURCE = register_source(
    ConnectorSpec(
        type="inline",
        role="source",
        schema=_SCHEMA,
        factory=InlineSource,
        description="records written in the config",
    )
)
