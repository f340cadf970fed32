"""What ``workspace.yaml`` loads: ``integration_orchestrator.definitions:defs``.

``defs`` is a lazy loader (``dagster.definitions``): importing this module reads neither
the environment nor the database. Dagster calls it at code-location load (the rows are
queried once and the snapshot recorded as reconstruction metadata) and in run/step
workers (rebuilt from that snapshot, no query of the integration tables).
"""

from __future__ import annotations

import dagster as dg

from integration_orchestrator.factory import IntegrationTranslator, build_definitions

__all__ = ["IntegrationTranslator", "build_definitions", "defs"]


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
