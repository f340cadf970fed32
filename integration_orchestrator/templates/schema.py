"""JSON Schema of a template document (one YAML/JSON file of the template library).

The document mirrors the columns of ``integration_templates``: every key the seed
declares as JSONB with an ``object`` CHECK must be a JSON object here too, so a file
that passes this schema can always be inserted. Lists live under a key, as ARCHITECTURE.md
§4 resolves the seed's object-vs-array contradiction (``{"mappings": [...]}``,
``{"tests": [...]}``).
"""

from __future__ import annotations

from typing import Any

from integration_orchestrator.model.enums import (
    MAPPING_DIRECTIONS,
    MAPPING_ERROR_HANDLING,
    MAPPING_TEST_TYPES,
    MAPPING_TYPES,
    TEMPLATE_CATEGORIES,
)

__all__ = [
    "MAPPING_OVERRIDE_KEYS",
    "MAPPING_TYPES",
    "TEMPLATE_CATEGORIES",
    "TEMPLATE_DOCUMENT_SCHEMA",
    "TEST_TYPES",
]

TEST_TYPES = MAPPING_TEST_TYPES
_SLUG = "^[a-z][a-z0-9_]*$"

_OBJECT: dict[str, Any] = {"type": "object"}
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}

_MAPPING: dict[str, Any] = {
    "type": "object",
    "required": ["name", "source_path", "target_path"],
    "properties": {
        "name": {"type": "string", "pattern": _SLUG},
        "mapping_type": {"enum": list(MAPPING_TYPES)},
        "source_path": _TEXT,
        "target_path": _TEXT,
        "source_data_type": _TEXT,
        "target_data_type": _TEXT,
        "is_required": {"type": "boolean"},
        "default_value": {"type": ["string", "null"]},
        "transformation_rules": {"type": "object", "required": ["type"]},
        "validation_rules": _OBJECT,
        "mapping_direction": {"enum": list(MAPPING_DIRECTIONS)},
        "error_handling": {"enum": list(MAPPING_ERROR_HANDLING)},
        "is_active": {"type": "boolean"},
        "mapping_notes": {"type": "string"},
    },
}

_TEST: dict[str, Any] = {
    "type": "object",
    "required": ["mapping", "name", "test_type", "input_data", "expected_output"],
    "additionalProperties": False,
    "properties": {
        "mapping": {"type": "string", "pattern": _SLUG},
        "name": _TEXT,
        "test_type": {"enum": list(TEST_TYPES)},
        "input_data": _OBJECT,
        "expected_output": _OBJECT,
    },
}

TEMPLATE_DOCUMENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": [
        "template_name",
        "version",
        "description",
        "integration_type",
        "template_category",
        "connection_template",
        "mapping_templates",
        "transformation_library",
        "test_suite",
        "documentation_url",
        "prerequisites",
        "supported_operations",
        "rate_limits",
    ],
    "additionalProperties": False,
    "properties": {
        "template_name": {"type": "string", "pattern": _SLUG},
        "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+$"},
        "description": _TEXT,
        "integration_type": _TEXT,
        "template_category": {"enum": list(TEMPLATE_CATEGORIES)},
        "is_active": {"type": "boolean"},
        "documentation_url": {"type": "string", "pattern": "^https?://"},
        "prerequisites": {"type": "array", "items": _TEXT},
        "supported_operations": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": ["create", "read", "update", "delete"]},
        },
        "rate_limits": _OBJECT,
        "connection_template": {
            "type": "object",
            "required": ["source"],
            "properties": {
                "source": {"type": "object", "required": ["type"]},
                "target": {"type": "object", "required": ["type"]},
            },
        },
        "mapping_templates": {
            "type": "object",
            "required": ["mappings", "target_schema"],
            "properties": {
                "mappings": {"type": "array", "minItems": 1, "items": _MAPPING},
                "target_schema": {"type": "object", "required": ["properties"]},
            },
        },
        "transformation_library": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "description": {"type": "string"},
                "rules": {"type": "object", "additionalProperties": {"type": "object", "required": ["type"]}},
                "transformations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["transformation_name", "transformation_type", "language", "transformation_logic"],
                        "properties": {
                            "transformation_name": {"type": "string", "pattern": _SLUG},
                            "transformation_logic": _OBJECT,
                            "test_cases": {"type": "object", "required": ["cases"]},
                        },
                    },
                },
            },
        },
        "test_suite": {
            "type": "object",
            "required": ["tests"],
            "properties": {"tests": {"type": "array", "minItems": 1, "items": _TEST}},
        },
    },
}

MAPPING_OVERRIDE_KEYS = frozenset(_MAPPING["properties"]) - {"name"} | {"disabled", "transformation"}
