"""A template document: one file of the template library, parsed and validated.

A template file (YAML or JSON) carries the columns of ``integration_templates``. It is
checked in three layers, each error naming the file and the field:

1. shape — the JSON Schema in :mod:`.schema` (missing fields, wrong types, non-object
   JSON where the seed's CHECKs require objects);
2. consistency — mapping names unique, every test names a mapping of the template,
   every mapping writes a field the documented ``target_schema`` declares;
3. mappings compile — :func:`integration_orchestrator.templates.testing.compile_template`
   runs them through the real mapping engine (done by the library on install).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from integration_orchestrator.errors import RowError
from integration_orchestrator.jsontypes import json_type_phrase
from integration_orchestrator.templates.schema import TEMPLATE_DOCUMENT_SCHEMA

__all__ = [
    "DOCUMENT_FIELDS",
    "TemplateDocument",
    "TemplateError",
    "dump_document",
    "format_path",
    "load_template_file",
    "parse_template",
]

DOCUMENT_FIELDS = (
    "template_name",
    "version",
    "description",
    "integration_type",
    "template_category",
    "is_active",
    "documentation_url",
    "prerequisites",
    "supported_operations",
    "rate_limits",
    "connection_template",
    "mapping_templates",
    "transformation_library",
    "test_suite",
)


_RATE_KEYS = ("requests_per_second", "requests_per_minute")


class TemplateError(RowError):
    """A template file (or template row) is invalid: names the file and the field."""

    def __init__(self, source: str, reason: str, *, field: str | None = None, row_id: Any = None) -> None:
        super().__init__("template file", source, reason, field=field, row_id=row_id)
        self.source = source


@dataclass(frozen=True)
class TemplateDocument:
    """One validated template. ``source`` is the file (or row) it came from."""

    template_name: str
    version: str
    description: str
    integration_type: str
    template_category: str
    documentation_url: str
    prerequisites: list[str]
    supported_operations: list[str]
    rate_limits: dict[str, Any]
    connection_template: dict[str, Any]
    mapping_templates: dict[str, Any]
    transformation_library: dict[str, Any]
    test_suite: dict[str, Any]
    is_active: bool = True
    source: str = field(default="<template>", compare=False)

    @property
    def mappings(self) -> list[dict[str, Any]]:
        return list(self.mapping_templates["mappings"])

    @property
    def tests(self) -> list[dict[str, Any]]:
        return list(self.test_suite["tests"])

    @property
    def key(self) -> tuple[str, str]:
        return (self.template_name, self.version)

    def mapping(self, name: str) -> dict[str, Any]:
        for mapping in self.mapping_templates["mappings"]:
            if mapping["name"] == name:
                return dict(mapping)
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The document as a plain JSON-compatible dict (the file format)."""
        return {name: _plain(getattr(self, name)) for name in DOCUMENT_FIELDS}

    def error(self, reason: str, field: str | None = None) -> TemplateError:
        return TemplateError(self.source, reason, field=field)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


class _Loader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps: dates stay strings, as in JSON."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_template_file(path: str | Path) -> TemplateDocument:
    """Read and validate one template file (``.yaml``, ``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(path.name, f"cannot read the file: {exc.strerror or exc}") from exc
    return parse_template(text, source=path.name, json_only=path.suffix.lower() == ".json")


def parse_template(text: str | Mapping[str, Any], *, source: str, json_only: bool = False) -> TemplateDocument:
    """Validate a template given as text (YAML/JSON) or as an already parsed mapping."""
    if isinstance(text, Mapping):
        data: Any = _plain(dict(text))
    else:
        data = _parse_text(text, source, json_only)
    _check_schema(data, source)
    _check_consistency(data, source)
    return TemplateDocument(
        **{name: data[name] for name in DOCUMENT_FIELDS if name in data}, source=source
    )


def _parse_text(text: str, source: str, json_only: bool) -> Any:
    try:
        if json_only:
            return json.loads(text)
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" at line {exc.lineno}, column {exc.colno}"
        problem = getattr(exc, "problem", None) or getattr(exc, "msg", None) or str(exc)
        raise TemplateError(source, f"not valid {'JSON' if json_only else 'YAML'}{where}: {problem}") from exc


def format_path(parts: Iterable[Any]) -> str:
    """``["a", 2, "b"]`` → ``a[2].b`` (how fields are named in errors)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _check_schema(data: Any, source: str) -> None:
    validator = jsonschema.Draft202012Validator(TEMPLATE_DOCUMENT_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.validator))
    if not errors:
        return
    first = errors[0]
    parts = list(first.absolute_path)
    reason = first.message
    if first.validator == "required":
        missing = [p for p in first.validator_value if isinstance(first.instance, dict) and p not in first.instance]
        parts.append(missing[0])
        reason = "is missing (required)"
    elif first.validator == "additionalProperties" and isinstance(first.instance, dict):
        allowed = set(first.schema.get("properties", {}))
        extra = sorted(k for k in first.instance if k not in allowed)
        parts.append(extra[0])
        reason = "is not a known template field"
    elif first.validator == "type":
        reason = f"must be {_article(first.validator_value)}, got {json_type_phrase(first.instance)}"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    raise TemplateError(source, reason + more, field=format_path(parts) or None)


def _article(kind: Any) -> str:
    if isinstance(kind, list):
        return " or ".join(_article(k) for k in kind)
    return {"object": "a JSON object", "array": "a JSON array", "integer": "an integer"}.get(kind, f"a {kind}")


def _check_consistency(data: dict[str, Any], source: str) -> None:
    if data["connection_template"]["source"].get("type") == "http":
        limits = data["rate_limits"]
        if not any(isinstance(limits.get(k), int | float) and limits[k] > 0 for k in _RATE_KEYS):
            raise TemplateError(
                source,
                "an http template must state the vendor's rate limit as `requests_per_second` or "
                "`requests_per_minute` (the http source falls back to it)",
                field="rate_limits",
            )
    mappings = data["mapping_templates"]["mappings"]
    seen: set[str] = set()
    for index, mapping in enumerate(mappings):
        if mapping["name"] in seen:
            raise TemplateError(
                source,
                f"mapping name `{mapping['name']}` is used twice",
                field=f"mapping_templates.mappings[{index}].name",
            )
        seen.add(mapping["name"])
    declared = set(data["mapping_templates"]["target_schema"].get("properties", {}))
    for index, mapping in enumerate(mappings):
        root = _target_root(mapping["target_path"])
        if root not in declared:
            raise TemplateError(
                source,
                f"writes `{root}`, which `mapping_templates.target_schema` does not declare",
                field=f"mapping_templates.mappings[{index}].target_path",
            )
    tested: set[str] = set()
    for index, test in enumerate(data["test_suite"]["tests"]):
        if test["mapping"] not in seen:
            raise TemplateError(
                source,
                f"names mapping `{test['mapping']}`, which the template does not define",
                field=f"test_suite.tests[{index}].mapping",
            )
        tested.add(test["mapping"])
    untested = [m["name"] for m in mappings if m["name"] not in tested]
    if untested:
        raise TemplateError(
            source,
            f"mapping(s) without any test: {', '.join(untested)} (a template must test every mapping)",
            field="test_suite.tests",
        )


def _target_root(path: str) -> str:
    """First key of a target path (``$.a.b`` / ``$['a']`` / ``a.b[0]`` → ``a``)."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    if text.startswith(("['", '["')):
        quote = text[1]
        return text[2 : text.index(quote, 2)]
    for stop in (".", "["):
        if stop in text:
            text = text[: text.index(stop)]
    return text


def dump_document(document: TemplateDocument) -> str:
    """The document as readable YAML (what ``templates export`` writes)."""
    return yaml.safe_dump(document.to_dict(), sort_keys=False, allow_unicode=True, width=100)
