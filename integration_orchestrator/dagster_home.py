"""The ``DAGSTER_HOME`` this project writes: the shipped ``dagster.yaml`` and a ``workspace.yaml``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["WORKSPACE_YAML", "prepare_dagster_home"]

WORKSPACE_YAML = """load_from:
  - python_module:
      module_name: integration_orchestrator.definitions
      attribute: defs
      location_name: integration_orchestrator
"""


def prepare_dagster_home(home: Path) -> Path:
    """Write ``dagster.yaml`` and ``workspace.yaml`` into ``home``; return the workspace file."""
    home.mkdir(parents=True, exist_ok=True)
    # The repository's dagster.yaml, shipped inside the package as instance.yaml.
    shipped = Path(__file__).resolve().parent / "instance.yaml"
    (home / "dagster.yaml").write_text(shipped.read_text())
    workspace = home / "workspace.yaml"
    workspace.write_text(WORKSPACE_YAML)
    return workspace
