"""integration-orchestrator.

``integration_orchestrator.IntegrationsComponent`` (the ``dg`` component, imported on
first use so that importing the package stays light).
"""

from __future__ import annotations

from typing import Any

__all__ = ["IntegrationsComponent"]


def __getattr__(name: str) -> Any:
    if name == "IntegrationsComponent":
        from integration_orchestrator.component import IntegrationsComponent

        return IntegrationsComponent
    raise AttributeError(f"module 'integration_orchestrator' has no attribute {name!r}")
