"""What ``workspace.yaml`` loads: ``integration_orchestrator.definitions:defs``.

``defs`` is a lazy loader (``dagster.definitions``): importing this module reads neither
the environment nor the database. Dagster calls it at code-location load (the rows are
queried once and the snapshot recorded as reconstruction metadata) and in run/step
workers (rebuilt from that snapshot, no query of the integration tables).

``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID`` (read when Dagster loads the location)
restricts the location to one organization (a code location per organization); unset,
it holds every organization's integrations. Data teams who want their own
:class:`IntegrationTranslator` point their workspace at a module of their own::

    @dg.definitions
    def defs() -> dg.Definitions:
        return build_definitions(translator=MyTranslator())
"""

from __future__ import annotations

import os

import dagster as dg

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory import IntegrationTranslator

__all__ = ["ORGANIZATION_ENV", "IntegrationTranslator", "build_definitions", "defs"]

ORGANIZATION_ENV = "INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID"


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(organization_id=os.environ.get(ORGANIZATION_ENV) or None)
