"""Integrations as code: YAML/JSON files ⇄ integration rows (``apply``, ``export``).

The format and its JSON Schema: ``integration.schema.json`` beside this module and
docs/authoring.md. Objects are found by natural keys (ARCHITECTURE.md §11), so a file
moves between databases.
"""

from integration_orchestrator.ascode.apply import Applied, Checker, apply_documents
from integration_orchestrator.ascode.document import Document, DocumentError, load_document, parse_document, schema
from integration_orchestrator.ascode.export import dump_document, export_integration
from integration_orchestrator.ascode.plan import Change, Plan, build_plan
from integration_orchestrator.ascode.render import render_plan

__all__ = [
    "Applied",
    "Change",
    "Checker",
    "Document",
    "DocumentError",
    "Plan",
    "apply_documents",
    "build_plan",
    "dump_document",
    "export_integration",
    "load_document",
    "parse_document",
    "render_plan",
    "schema",
]
