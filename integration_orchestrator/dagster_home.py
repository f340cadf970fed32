"""The ``DAGSTER_HOME`` this project writes: the shipped ``dagster.yaml`` and a ``workspace.yaml``.

``integration-orchestrator demo`` and ``dev`` write it to ``.integration_orchestrator/dagster_home``
(the README's quickstart exports that path as ``DAGSTER_HOME`` for the ``dagster`` CLI). Its
``workspace.yaml`` serves the integrations location, or a module of the user's
(``dev --module``); a user's own workspace file (``dev -w``) is served as is, never written.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["DEFAULT_ATTRIBUTE", "DEFAULT_MODULE", "WORKSPACE_YAML", "prepare_dagster_home", "workspace_yaml"]

DEFAULT_MODULE = "integration_orchestrator.definitions"
DEFAULT_ATTRIBUTE = "defs"


def workspace_yaml(module: str = DEFAULT_MODULE, attribute: str = DEFAULT_ATTRIBUTE,
                   working_directory: Path | None = None) -> str:
    """A ``workspace.yaml`` loading ``module:attribute`` as one code location."""
    location = "integration_orchestrator" if module == DEFAULT_MODULE else module.replace(".", "_")
    lines = ["load_from:", "  - python_module:", f"      module_name: {json.dumps(module)}",
             f"      attribute: {json.dumps(attribute)}", f"      location_name: {json.dumps(location)}"]
    if working_directory is not None:  # where the user's module is importable from
        lines.append(f"      working_directory: {json.dumps(str(working_directory))}")
    return "\n".join(lines) + "\n"


WORKSPACE_YAML = workspace_yaml()


def prepare_dagster_home(home: Path, workspace: str = WORKSPACE_YAML) -> Path:
    """Write ``dagster.yaml`` and ``workspace`` (a ``workspace.yaml`` text) into ``home``;
    return the workspace file."""
    home.mkdir(parents=True, exist_ok=True)
    # The repository's dagster.yaml, shipped inside the package as instance.yaml.
    shipped = Path(__file__).resolve().parent / "instance.yaml"
    (home / "dagster.yaml").write_text(shipped.read_text())
    path = home / "workspace.yaml"
    path.write_text(workspace)
    return path
