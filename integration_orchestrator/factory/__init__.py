"""Rows in PostgreSQL → ``dagster.Definitions``: load → validate → translate → build."""

from integration_orchestrator.factory.build import build_definitions, definitions_from_snapshot
from integration_orchestrator.factory.records import Snapshot
from integration_orchestrator.factory.translator import (
    IntegrationDefinitionSpec,
    IntegrationTranslator,
    IntegrationTranslatorData,
)
from integration_orchestrator.factory.validate import IntegrationRecord, InvalidRow

__all__ = [
    "IntegrationDefinitionSpec",
    "IntegrationRecord",
    "IntegrationTranslator",
    "IntegrationTranslatorData",
    "InvalidRow",
    "Snapshot",
    "build_definitions",
    "definitions_from_snapshot",
]
