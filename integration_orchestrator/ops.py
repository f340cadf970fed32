"""Data teams' own ops: the public API (implementation: ``integration_orchestrator.factory.custom_ops``).

::

    from integration_orchestrator.ops import RecordFailure, integration_op

    @integration_op(name="acme.geocode", config_schema={"country": str},
                    required_resource_keys={"geocoder"})
    def geocode(context, config, records):
        for record in records:
            ...  # context.resources.geocoder, config["country"]
            yield {**record, "lat": 1.0}

declared in the package's ``pyproject.toml``::

    [project.entry-points."integration_orchestrator.ops"]
    "acme.geocode" = "acme_ops:geocode"

and used by a pipeline step ``{"name": "geocode", "order": 2, "op": "acme.geocode",
"config": {"country": "NL"}}``. The README has the complete example package.
"""

from __future__ import annotations

from integration_orchestrator.factory.custom_ops import (
    ENTRY_POINT_GROUP,
    IntegrationOp,
    RecordFailure,
    integration_op,
    register_op,
    registered_ops,
)

__all__ = ["ENTRY_POINT_GROUP", "IntegrationOp", "RecordFailure", "integration_op", "register_op", "registered_ops"]
