"""Human documentation of templates: ``templates show`` and the table in docs/reference.md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from integration_orchestrator.templates.model import TemplateDocument

__all__ = ["catalog_table", "describe", "source_summary", "target_shape"]


def source_summary(document: TemplateDocument) -> str:
    """``http GET https://.../api/v1/users, link_header pages, api_key auth, 600/min``."""
    source = document.connection_template["source"]
    parts = [str(source["type"])]
    if source["type"] == "http":
        parts = [f"http {source.get('method', 'GET')} {source['url']}"]
        style = (source.get("pagination") or {}).get("style")
        parts.append(f"{style} pagination" if style else "single response")
        if source.get("auth"):
            parts.append(f"{source['auth']['type']} auth")
    elif source["type"] == "file":
        parts = [f"file ({source.get('format', 'by extension')}) {source.get('path', '')}".rstrip()]
    limits = document.rate_limits
    if limits.get("requests_per_minute"):
        parts.append(f"{limits['requests_per_minute']:g} req/min")
    elif limits.get("requests_per_second") and source["type"] == "http":
        parts.append(f"{limits['requests_per_second']:g} req/s")
    return ", ".join(parts)


def _type_text(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if spec.get("format"):
        text += f" ({spec['format']})"
    if spec.get("enum"):
        text += " in " + ", ".join(str(v) for v in spec["enum"] if v is not None)
    return text


def target_shape(document: TemplateDocument) -> list[tuple[str, str, str]]:
    """``(column, type, description)`` of the documented target shape."""
    schema = document.mapping_templates["target_schema"]
    return [(name, _type_text(spec), str(spec.get("description", ""))) for name, spec in schema["properties"].items()]


def describe(document: TemplateDocument, certified: dt.date | None = None) -> str:
    """Everything a user needs before instantiating the template."""
    schema = document.mapping_templates["target_schema"]
    lines = [
        f"{document.template_name} {document.version} ({document.template_category}, {document.integration_type})",
        f"certified: {certified}" if certified else "certified: no",
        "",
        " ".join(document.description.split()),
        "",
        f"source: {source_summary(document)}",
        f"target: {document.connection_template.get('target', {}).get('type', '-')} {schema.get('title', '')}".rstrip(),
        f"docs:   {document.documentation_url}",
        "",
        "prerequisites:",
        *[f"  - {p}" for p in document.prerequisites],
        "",
        "target shape (required: " + ", ".join(schema.get("required", [])) + "):",
        *[f"  {name:<22} {kind}{'  -- ' + text if text else ''}" for name, kind, text in target_shape(document)],
        "",
        "mappings:",
        *[f"  {m['name']:<22} {m['source_path']} -> {m['target_path']}" for m in document.mappings],
        "",
        f"tests: {len(document.tests)} mapping tests, {_transformation_cases(document)} transformation cases",
    ]
    return "\n".join(lines)


def _transformation_cases(document: TemplateDocument) -> int:
    transformations = document.transformation_library.get("transformations", [])
    return sum(len((t.get("test_cases") or {}).get("cases", [])) for t in transformations)


def catalog_table(documents: Iterable[TemplateDocument]) -> str:
    """The Markdown table of templates for docs/reference.md."""
    rows = [
        "| Template | Version | Category | Source | Target shape |",
        "|---|---|---|---|---|",
    ]
    for d in sorted(documents, key=lambda d: d.template_name):
        schema = d.mapping_templates["target_schema"]
        columns = ", ".join(schema["properties"])
        rows.append(
            f"| `{d.template_name}` | {d.version} | {d.template_category} | {source_summary(d)} | "
            f"`{schema.get('title', '')}`: {columns} |"
        )
    return "\n".join(rows)
