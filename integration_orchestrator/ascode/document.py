"""Integration files: read YAML or JSON, check them against the JSON Schema, name errors.

A file is one organization's integrations (``integration.schema.json`` beside this module;
the format: docs/authoring.md). Every problem is reported naming the file, the object
(``integration `Orders` > mapping `id```) and the field (``source_path``, or a JSON path
inside a column), never by echoing a value that could be a secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from integration_orchestrator.errors import IntegrationOrchestratorError

__all__ = [
    "SCHEMA_RESOURCE",
    "Document",
    "DocumentError",
    "describe",
    "load_document",
    "parse_document",
    "schema",
    "schema_uri",
]

SCHEMA_RESOURCE = "integration.schema.json"

#: list key → the column that names its items
_NAME_KEYS = {
    "transformations": ("transformation", "transformation_name"),
    "integrations": ("integration", "integration_name"),
    "mappings": ("mapping", "mapping_name"),
    "tests": ("mapping test", "test_name"),
    "pipelines": ("pipeline", "pipeline_name"),
    "schedules": ("schedule", "schedule_name"),
}


class DocumentError(IntegrationOrchestratorError):
    """An integration file is invalid: ``file``, ``obj`` (the object, or None), ``field``, ``reason``."""

    def __init__(self, file: str, reason: str, *, obj: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.obj = obj
        self.field = field
        self.reason = reason
        where = f"In file `{file}`"
        if obj:
            where += f", {obj}"
        if field:
            where += f", field `{field}`"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Document:
    """One parsed, schema-valid file."""

    file: str
    data: dict[str, Any]

    @property
    def organization(self) -> str | None:
        value = self.data.get("organization")
        return None if value is None else str(value)

    def error(self, reason: str, path: Sequence[str | int] = (), *, field: str | None = None) -> DocumentError:
        obj, rest = describe(self.data, path)
        return DocumentError(self.file, reason, obj=obj, field=field or rest)


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of the format."""
    text = resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def schema_uri() -> str:
    """A ``file://`` URI of the installed schema (for the ``$schema`` line of exported files)."""
    return Path(str(resources.files(__package__).joinpath(SCHEMA_RESOURCE))).resolve().as_uri()


def describe(data: Any, path: Sequence[str | int]) -> tuple[str | None, str | None]:
    """(the innermost named object on ``path``, the rest of the path as a field)."""
    objects: list[str] = []
    node, rest_start = data, 0
    for i, part in enumerate(path):
        if isinstance(part, int) and i > 0 and isinstance(path[i - 1], str) and path[i - 1] in _NAME_KEYS:
            kind, name_key = _NAME_KEYS[str(path[i - 1])]
            item = node[part] if isinstance(node, list) and part < len(node) else None
            name = item.get(name_key) if isinstance(item, dict) else None
            objects.append(f"{kind} `{name}`" if isinstance(name, str) else f"{kind} #{part + 1}")
            rest_start = i + 1
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    field = _path_text(path[rest_start:])
    return (" > ".join(objects) or None), field


def _path_text(path: Sequence[str | int]) -> str | None:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or None


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader refusing a key given twice in one mapping (YAML keeps the last silently)."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key `{key}` is given twice in one mapping", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def parse_document(file: str, text: str) -> Document:
    """A document from YAML or JSON text (JSON is YAML), checked against the schema."""
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise DocumentError(file, f"{problem}{where}") from None
    if not isinstance(data, dict):
        raise DocumentError(file, "must be a mapping with an `integrations` list (YAML) or a JSON object")
    data = _plain(data)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        document = Document(file, data)
        first = errors[0]
        raise document.error(_reason(first), list(first.absolute_path))
    return Document(file, data)


def _reason(error: jsonschema.ValidationError) -> str:
    """The schema's complaint without the offending value (it could be a secret)."""
    validator, instance = error.validator, error.instance
    expected: Any = error.validator_value
    schema_part: Any = error.schema
    if validator == "required":
        missing = [name for name in expected if not isinstance(instance, dict) or name not in instance]
        return f"missing required field `{missing[0]}`" if missing else "missing a required field"
    if validator == "additionalProperties":
        allowed = sorted((schema_part.get("properties") or {}).keys())
        extra = sorted(set(instance) - set(allowed)) if isinstance(instance, dict) else []
        return f"unknown field `{extra[0] if extra else '?'}` (allowed: {', '.join(allowed)})"
    if validator == "type":
        return f"must be of type {_types(expected)}, not {_json_type(instance)}"
    if validator == "enum":
        return f"must be one of {', '.join(map(str, expected))}"
    if validator == "pattern":
        return f"does not match the pattern {expected}"
    if validator in ("minimum", "maximum", "minItems"):
        return f"violates {validator} {expected}"
    if validator == "oneOf":
        return "must be a rule object {\"type\": KIND, ...} or null"
    return error.message if not isinstance(instance, (str, int, float)) else f"fails the schema's {validator}"


def _types(value: Any) -> str:
    return " or ".join(value) if isinstance(value, list) else str(value)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _plain(value: Any) -> Any:
    """YAML's dates and datetimes as ISO strings (the format's, and JSON's, only form)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def load_document(path: str | Path) -> Document:
    """Read and check one file."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DocumentError(file, f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise DocumentError(file, "is not UTF-8 text") from None
    return parse_document(file, text)
