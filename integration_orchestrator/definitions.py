"""What ``workspace.yaml`` loads: ``integration_orchestrator.definitions:defs``.

``defs`` is a lazy loader (``dagster.definitions``): importing this module reads neither
the environment nor the database. Dagster calls it at code-location load (the rows are
queried once and the snapshot recorded as reconstruction metadata) and in run/step
workers (rebuilt from that snapshot, no query of the integration tables).

``INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID`` (read when Dagster loads the location)
restricts the location to one organization (a code location per organization); unset,
it holds every organization's integrations. A value that is not a UUID fails the load
with one line naming the variable; an id no organization has fails it too (never an
empty location without a word). Data teams who want their own
:class:`IntegrationTranslator` (or resources) serve a module of their own, e.g. with
``integration-orchestrator dev --module my_integrations`` (the complete example, imports
included, is ``my_integrations.py`` in docs/reference.md, "Definitions factory")::

    import dagster as dg
    from integration_orchestrator.definitions import IntegrationTranslator, build_definitions

    @dg.definitions
    def defs() -> dg.Definitions:
        return build_definitions(translator=MyTranslator())
"""

from __future__ import annotations

import dagster as dg

from integration_orchestrator.assembly import build_definitions
from integration_orchestrator.factory import IntegrationTranslator
from integration_orchestrator.tenancy import ORGANIZATION_ENV, given_organization

__all__ = ["ORGANIZATION_ENV", "IntegrationTranslator", "build_definitions", "defs"]


@dg.definitions
def defs() -> dg.Definitions:
    given = given_organization(None)
    return build_definitions(organization_id=None if given is None else given[0])
