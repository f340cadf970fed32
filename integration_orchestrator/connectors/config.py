"""Validation of ``integration_configs.connection_config``: ``{"source": {...}, "target": {...}}``.

Each endpoint is checked against the JSON Schema of its registered type; the first
problem becomes a :class:`ConnectionConfigError` naming the config row, the JSON path
inside ``connection_config`` and what is wrong. Messages never echo values (an inline
secret must not end up in a log because it was rejected).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema import Draft202012Validator

from integration_orchestrator.connectors.base import Role, connector_spec, registered_types
from integration_orchestrator.errors import RowError
from integration_orchestrator.jsontypes import json_type

__all__ = [
    "ConnectionConfig",
    "ConnectionConfigError",
    "EndpointConfig",
    "validate_connection_config",
    "validate_endpoint",
]

ROW_KIND = "integration config"
COLUMN = "connection_config"

_TOP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "source": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        "target": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}},
        "description": {"type": "string"},
    },
    "required": ["source", "target"],
    "additionalProperties": False,
}


class ConnectionConfigError(RowError):
    """``connection_config`` of an integration config row is invalid."""

    def __init__(self, row_name: str | None, reason: str, *, row_id: Any = None, path: str = COLUMN) -> None:
        self.path = path
        super().__init__(ROW_KIND, row_name, reason, row_id=row_id, field=path)


@dataclass(frozen=True)
class EndpointConfig:
    """One validated endpoint: its ``type`` and its whole config (``type`` included)."""

    type: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class ConnectionConfig:
    """A validated ``connection_config``."""

    source: EndpointConfig
    target: EndpointConfig


def validate_connection_config(config: Any, *, row_name: str | None, row_id: Any = None) -> ConnectionConfig:
    """Check ``config`` and return it typed, or raise :class:`ConnectionConfigError`."""
    _raise_first(Draft202012Validator(_TOP_SCHEMA), config, COLUMN, row_name, row_id)
    source = validate_endpoint("source", config["source"], row_name=row_name, row_id=row_id)
    target = validate_endpoint("target", config["target"], row_name=row_name, row_id=row_id)
    if "incremental" in source.config and not _keeps_state(target.type):
        raise ConnectionConfigError(
            row_name,
            f"needs a target that keeps a load ledger (the `{target.type}` target has no `latest_state`): "
            "the incremental state is committed with the rows",
            row_id=row_id, path=f"{COLUMN}.source.incremental",
        )
    return ConnectionConfig(source=source, target=target)


def _keeps_state(target_type: str) -> bool:
    """Whether targets of ``target_type`` read back an integration's state (``latest_state(config_id)``)."""
    spec = connector_spec("target", target_type)
    return spec is not None and callable(getattr(spec.factory, "latest_state", None))


def validate_endpoint(role: Role, endpoint: Any, *, row_name: str | None, row_id: Any = None) -> EndpointConfig:
    """Check one endpoint (``connection_config.<role>``) against its type's schema."""
    base = f"{COLUMN}.{role}"
    if not isinstance(endpoint, Mapping) or not isinstance(endpoint.get("type"), str):
        raise ConnectionConfigError(row_name, "must be an object with a string `type`", row_id=row_id, path=base)
    spec = connector_spec(role, endpoint["type"])
    if spec is None:
        known = ", ".join(registered_types(role))
        raise ConnectionConfigError(
            row_name,
            f"unknown {role} type `{endpoint['type']}` (known: {known})",
            row_id=row_id,
            path=f"{base}.type",
        )
    _raise_first(Draft202012Validator(spec.schema), endpoint, base, row_name, row_id)
    if spec.check is not None:
        for suffix, reason in spec.check(endpoint):
            raise ConnectionConfigError(row_name, reason, row_id=row_id, path=base + suffix)
    return EndpointConfig(type=endpoint["type"], config=dict(endpoint))


def _raise_first(validator: Draft202012Validator, instance: Any, base: str, row_name: str | None, row_id: Any) -> None:
    errors = sorted(validator.iter_errors(instance), key=_error_order)
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors) or errors[0]
    raise ConnectionConfigError(row_name, _describe(error), row_id=row_id, path=base + _json_path(error.absolute_path))


def _error_order(error: jsonschema.ValidationError) -> tuple[int, str]:
    return (len(error.absolute_path), "/".join(str(p) for p in error.absolute_path))


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _describe(error: jsonschema.ValidationError) -> str:
    """A message for ``error`` that names the rule, never the offending value."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator
    if schema.get("x-secret"):
        if isinstance(error.instance, Mapping):
            return 'a secret reference must be exactly {"$secret": "<name>"} with a non-empty name'
        return 'must be a secret reference {"$secret": "<name>"}; secrets are never written inline'
    if kind == "required":
        return error.message.replace("is a required property", "is required")
    if kind == "additionalProperties":
        extra = (
            sorted(set(error.instance) - set(schema.get("properties", {})))
            if isinstance(error.instance, Mapping)
            else []
        )
        allowed = ", ".join(sorted(schema.get("properties", {})))
        return f"unknown option(s) {', '.join(map(repr, extra))} (allowed: {allowed})"
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be of type {expected}, got {json_type(error.instance)}"
    if kind == "enum" and isinstance(error.validator_value, list):
        return f"must be one of {', '.join(map(repr, error.validator_value))}"
    if kind == "const":
        return f"must be {error.validator_value!r}"
    if kind in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        return f"must be {_COMPARISONS[kind]} {error.validator_value}"
    if kind in {"minLength", "minItems", "minProperties"}:
        return "must not be empty" if error.validator_value == 1 else f"needs at least {error.validator_value} ({kind})"
    if kind in {"anyOf", "oneOf"} and isinstance(error.validator_value, list):
        return "does not match any allowed form: " + "; ".join(_alternative(s) for s in error.validator_value)
    if kind == "not":
        return str(schema.get("x-message", "is not allowed here"))
    if kind == "uniqueItems":
        return "must not contain duplicates"
    if kind == "pattern":
        return f"must match the pattern {error.validator_value!r}"
    return f"fails the `{kind}` rule"


_COMPARISONS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def _alternative(schema: Any) -> str:
    if not isinstance(schema, Mapping):
        return "?"
    if schema.get("x-secret"):
        return '{"$secret": "<name>"}'
    if "type" in schema and "properties" not in schema:
        return str(schema["type"])
    if "properties" in schema:
        required = schema.get("required", [])
        const = {k: v.get("const") for k, v in schema["properties"].items() if isinstance(v, Mapping) and "const" in v}
        if const:
            return "object with " + ", ".join(f"{k}={v!r}" for k, v in const.items())
        return "object with " + ", ".join(required or list(schema["properties"]))
    return "?"
