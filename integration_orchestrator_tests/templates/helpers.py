"""Shared helpers of the template tests: a minimal valid template, written to a file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

__all__ = ["minimal_template", "write_template"]


def minimal_template(name: str = "tiny_people", version: str = "1.0.0") -> dict[str, Any]:
    """A small but complete template (inline source), as a plain dict."""
    return copy.deepcopy(
        {
            "template_name": name,
            "version": version,
            "description": "People from an inline list.",
            "integration_type": "inline",
            "template_category": "custom",
            "documentation_url": "https://example.com/docs",
            "prerequisites": ["none"],
            "supported_operations": ["read"],
            "rate_limits": {"requests_per_second": 5},
            "connection_template": {
                "source": {"type": "inline", "records": [{"id": "7", "name": "Ada"}]},
                "target": {"type": "postgres_table", "table": "people", "mode": "upsert", "key": ["person_id"]},
            },
            "mapping_templates": {
                "target_schema": {"type": "object", "properties": {"person_id": {}, "name": {}, "team": {}}},
                "mappings": [
                    {
                        "name": "person_id",
                        "source_path": "$.id",
                        "target_path": "person_id",
                        "target_data_type": "integer",
                        "is_required": True,
                        "transformation_rules": {"type": "cast", "to": "integer"},
                    },
                    {
                        "name": "name",
                        "source_path": "$.name",
                        "target_path": "name",
                        "target_data_type": "string",
                        "transformation_rules": {"type": "direct"},
                    },
                ],
            },
            "transformation_library": {},
            "test_suite": {
                "tests": [
                    {
                        "mapping": "person_id",
                        "name": "id cast",
                        "test_type": "unit",
                        "input_data": {"id": "7", "name": "Ada"},
                        "expected_output": {"person_id": 7},
                    },
                    {
                        "mapping": "name",
                        "name": "name copied",
                        "test_type": "unit",
                        "input_data": {"id": "7", "name": "Ada"},
                        "expected_output": {"name": "Ada"},
                    },
                ]
            },
        }
    )


def write_template(directory: Path, data: dict[str, Any], filename: str | None = None) -> Path:
    path = directory / (filename or f"{data.get('template_name', 'template')}-{data.get('version', 'x')}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path

