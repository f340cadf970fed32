"""The template library: certified, versioned integration templates.

Built-in templates are YAML files in ``catalog/`` (package data). ``model`` validates a
template file, ``library`` installs/lists/exports templates, ``instantiate`` creates an
integration from one (SQL ``create_integration_from_template``), ``testing`` runs a
template's test suite through the real mapping code, ``upgrade`` moves an instance to
another version and ``lifecycle`` drives its ``deployment_status``.
"""

from integration_orchestrator.templates.model import TemplateDocument, TemplateError, load_template_file, parse_template

__all__ = ["TemplateDocument", "TemplateError", "load_template_file", "parse_template"]
