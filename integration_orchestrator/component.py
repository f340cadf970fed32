"""``IntegrationsComponent``: the integrations in a ``dg`` project, with a ``defs.yaml`` and no Python.

A Dagster ``StateBackedComponent``: its *defs state* is the snapshot of the integration
rows (``factory/snapshot.py``, the same JSON the code location records for run workers).
``write_state_to_path`` queries the integration tables once; ``build_defs_from_state``
builds the Definitions from the snapshot alone (``assembly.definitions_from_snapshot``),
so run and step workers, which load the same state, never query the integration tables.

Where the state lives is the component's ``defs_state`` attribute (Dagster's own choice):

- ``LEGACY_CODE_SERVER_SNAPSHOTS`` (the default): the code server refreshes the state
  every time it loads, so the UI's *Reload* and ``integration-orchestrator reload`` pick
  up changed rows, and run workers get the state from the code server (no query);
- ``LOCAL_FILESYSTEM`` / ``VERSIONED_STATE_STORAGE``: ``dg utils refresh-defs-state``
  refreshes it (``dg dev``/``dagster dev`` refresh on start unless ``refresh_if_dev: false``).

``defs.yaml``::

    type: integration_orchestrator.IntegrationsComponent
    attributes:
      database_url: "{{ env.INTEGRATION_ORCHESTRATOR_DATABASE_URL }}"
      organization_id: "{{ env.INTEGRATION_ORCHESTRATOR_ORGANIZATION_ID }}"   # optional
      translator: my_package.translation:MyTranslator                         # optional
"""


import importlib
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster.components import DefsStateConfig, DefsStateConfigArgs, ResolvedDefsStateConfig, StateBackedComponent
from dagster.components.component_scaffolding import scaffold_component
from dagster.components.resolved.base import Resolvable
from dagster.components.scaffold.scaffold import Scaffolder, ScaffoldRequest, scaffold_with

from integration_orchestrator.errors import ConfigurationError
from integration_orchestrator.factory.translator import IntegrationTranslator

__all__ = ["IntegrationsComponent", "IntegrationsScaffolder", "load_translator"]

#: what ``dg scaffold defs integration_orchestrator.IntegrationsComponent NAME`` writes
SCAFFOLD_ATTRIBUTES = {"database_url": "{{ env.INTEGRATION_ORCHESTRATOR_DATABASE_URL }}"}


def load_translator(reference: str | None) -> IntegrationTranslator | None:
    """``package.module:Class`` (or ``package.module.Class``) → an instance of that translator."""
    if not reference:
        return None
    module_name, _, attribute = reference.partition(":") if ":" in reference else reference.rpartition(".")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigurationError(
            f"IntegrationsComponent translator `{reference}` cannot be imported: {error}"
        ) from None
    translator = factory() if isinstance(factory, type) else factory
    if not isinstance(translator, IntegrationTranslator):
        raise ConfigurationError(
            f"IntegrationsComponent translator `{reference}` is a {type(translator).__name__}, "
            "not an integration_orchestrator.IntegrationTranslator"
        )
    return translator


class IntegrationsScaffolder(Scaffolder):
    """``dg scaffold defs``: a ``defs.yaml`` reading the database URL from the environment."""

    def scaffold(self, request: ScaffoldRequest) -> None:
        scaffold_component(request, SCAFFOLD_ATTRIBUTES)


@scaffold_with(IntegrationsScaffolder)
@dataclass
class IntegrationsComponent(StateBackedComponent, Resolvable):
    """The integrations of one database (optionally one organization) as Dagster definitions.

    Attributes:
        database_url: the platform database (default: ``INTEGRATION_ORCHESTRATOR_DATABASE_URL``,
            else the embedded server, as for the code location).
        organization_id: only this organization's integrations (default: every organization).
        translator: ``module:Class`` of an ``IntegrationTranslator`` subclass (default: the built-in one).
        defs_state: where the snapshot of the rows is kept (see the module docstring).
    """

    database_url: str | None = None
    organization_id: str | None = None
    translator: str | None = None
    defs_state: ResolvedDefsStateConfig = field(default_factory=DefsStateConfigArgs.legacy_code_server_snapshots)

    @property
    def defs_state_config(self) -> DefsStateConfig:
        return DefsStateConfig.from_args(
            self.defs_state, default_key=f"IntegrationsComponent[{self.organization_id or 'all'}]"
        )

    def write_state_to_path(self, state_path: Path) -> None:
        """Query the integration tables once: the snapshot, as JSON."""
        from integration_orchestrator.db import existing_database_url
        from integration_orchestrator.factory.load import load_snapshot_from_url
        from integration_orchestrator.factory.snapshot import snapshot_to_json

        url = existing_database_url(self.database_url or None)  # a Dagster process: creates no database
        snapshot = load_snapshot_from_url(url, self.organization_id or None)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(snapshot_to_json(snapshot))

    def build_defs_from_state(self, context: dg.ComponentLoadContext, state_path: Path | None) -> dg.Definitions:
        """The Definitions of the snapshot in ``state_path`` (no database access)."""
        from integration_orchestrator.assembly import definitions_from_snapshot
        from integration_orchestrator.factory.snapshot import snapshot_from_json

        if state_path is None or not state_path.exists():
            return dg.Definitions()  # no state yet: `dg utils refresh-defs-state` writes it
        snapshot = snapshot_from_json(state_path.read_text())
        translator = load_translator(self.translator)
        return definitions_from_snapshot(snapshot, translator, database_url=self.database_url or None)
