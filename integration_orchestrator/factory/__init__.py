"""Rows in PostgreSQL → integration jobs: load → validate → translate → build."""

from integration_orchestrator.factory.build import (
    FactoryResult,
    load_or_reconstruct,
    translate,
)
from integration_orchestrator.factory.translator import (
    IntegrationDefinitionSpec,
    IntegrationTranslator,
    IntegrationTranslatorData,
)

__all__ = [
    "FactoryResult",
    "IntegrationDefinitionSpec",
    "IntegrationTranslator",
    "IntegrationTranslatorData",
    "load_or_reconstruct",
    "translate",
]
