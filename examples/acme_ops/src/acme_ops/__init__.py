"""acme-ops: one op, ``acme.geocode``, adding coordinates to each record from a geocoder resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from integration_orchestrator.ops import RecordFailure, integration_op

__all__ = ["Geocoder", "geocode"]


class Geocoder(dg.ConfigurableResource):
    """Coordinates by city (a stand-in for a real geocoding client)."""

    cities: dict[str, list[float]]

    def locate(self, city: str) -> list[float] | None:
        return self.cities.get(city.lower())


@integration_op(
    name="acme.geocode",
    config_schema={"field": dg.Field(str, default_value="city"), "precision": dg.Field(int, default_value=2)},
    required_resource_keys={"geocoder"},
)
def geocode(context: Any, config: dict[str, Any], records: list[dict[str, Any]]) -> Iterator[Any]:
    """Adds ``lat``/``lon`` from the ``geocoder`` resource; an unknown place is a failed record."""
    geocoder: Geocoder = context.resources.geocoder
    for record in records:
        point = geocoder.locate(str(record.get(config["field"], "")))
        if point is None:
            yield RecordFailure(record, f"no coordinates for {config['field']}={record.get(config['field'])!r}")
            continue
        yield {**record, "lat": round(point[0], config["precision"]), "lon": round(point[1], config["precision"])}
