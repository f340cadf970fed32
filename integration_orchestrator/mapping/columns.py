"""Checking and compiling the plain columns of a mapping row.

Data types, ``default_value``, ``validation_rules`` (JSON Schema), and the target writer.
Each function raises :class:`MappingDefinitionError` naming the row and the column.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
from jsonschema.protocols import Validator

from integration_orchestrator.mapping.errors import FieldFailure, MappingDefinitionError
from integration_orchestrator.mapping.paths import write_value
from integration_orchestrator.mapping.types import DATA_TYPES, CoercionError, coercer
from integration_orchestrator.model.rows import MappingRow

__all__ = [
    "data_type",
    "definition_error",
    "schema_check",
    "typed_default",
    "validation_schemas",
    "writer",
]


# Common spellings people write by hand, accepted and normalised.
_TYPE_ALIASES = {
    "bool": "boolean",
    "decimal": "number",
    "dict": "object",
    "double": "number",
    "float": "number",
    "int": "integer",
    "json": "object",
    "list": "array",
    "numeric": "number",
    "str": "string",
    "text": "string",
    "timestamp": "datetime",
    "timestamptz": "datetime",
}


def definition_error(row: MappingRow, field: str, reason: str) -> MappingDefinitionError:
    return MappingDefinitionError(row.mapping_name, reason, row_id=row.id, field=field)


def data_type(row: MappingRow, column: str) -> str | None:
    """The normalised data type in ``column`` (``None`` when unset)."""
    raw = getattr(row, column)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise definition_error(row, column, f"must be a type name, got {raw!r}")
    name = raw.strip().lower()
    name = _TYPE_ALIASES.get(name, name)
    if name not in DATA_TYPES:
        raise definition_error(row, column, f"unknown data type {raw!r} (expected one of {', '.join(DATA_TYPES)})")
    return name


def typed_default(row: MappingRow, target_type: str | None, tz: dt.tzinfo) -> Any:
    """``default_value`` (TEXT) as a value of the target type.

    object/array defaults are JSON text; without a target type, JSON text is parsed and
    anything else is taken as a string.
    """
    text = row.default_value
    if text is None:
        return None
    if not isinstance(text, str):
        text = json.dumps(text)
    if target_type in ("object", "array") or target_type is None:
        try:
            value = json.loads(text, parse_float=Decimal)
        except ValueError:
            if target_type is None:
                return text
            raise definition_error(row, "default_value", f"{text!r} is not valid JSON for a {target_type}") from None
    elif target_type == "string":
        return text
    else:
        value = text
    convert = coercer(target_type, tz)
    if convert is None:
        return value
    try:
        return convert(value)
    except CoercionError as exc:
        raise definition_error(row, "default_value", f"{exc} (the default must be a valid {target_type})") from None


def _is_integer(checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return bool(jsonschema.Draft202012Validator.TYPE_CHECKER.is_type(instance, "integer"))


def _validator(row: MappingRow, key: str, schema: Any) -> Validator:
    if not isinstance(schema, (Mapping, bool)):
        raise definition_error(row, f"validation_rules.{key}", "must be a JSON Schema (an object)")
    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        base.check_schema(schema)  # type: ignore[arg-type]  # stubs say dict; jsonschema takes any Mapping or bool
    except jsonschema.exceptions.SchemaError as exc:
        raise definition_error(row, f"validation_rules.{key}", f"invalid JSON Schema: {exc.message}") from None
    cls: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]  # extend() has no stub types
        base, type_checker=base.TYPE_CHECKER.redefine("integer", _is_integer)
    )
    # Numbers in the schema and in values are compared as exact decimals (so that
    # multipleOf 0.01 accepts 19.99, and Decimal values never meet floats).
    return cls(_decimals(schema))


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals(item) for item in value]
    return value


def validation_schemas(row: MappingRow) -> tuple[Validator | None, Validator | None]:
    """Compiled (pre, post) validators from ``validation_rules`` (either may be None)."""
    rules = row.validation_rules
    if rules is None:
        return None, None
    if not isinstance(rules, Mapping):
        raise definition_error(row, "validation_rules", "must be an object {\"pre\": schema, \"post\": schema}")
    unknown = sorted(set(rules) - {"pre", "post", "mask"})  # mask: sensitive field (integration_orchestrator.masking)
    if unknown:
        raise definition_error(row, f"validation_rules.{unknown[0]}", "unknown key (expected `pre` and/or `post`)")
    if not isinstance(rules.get("mask", False), bool):
        raise definition_error(row, "validation_rules.mask", "must be true or false")
    pre = _validator(row, "pre", rules["pre"]) if "pre" in rules else None
    post = _validator(row, "post", rules["post"]) if "post" in rules else None
    return pre, post


def schema_check(validator: Validator, stage: str) -> Callable[[Any], Any]:
    """A value function raising FieldFailure when ``validator`` rejects the value."""

    def check(value: Any) -> Any:
        try:
            error = next(validator.iter_errors(_decimals(value)), None)
        except Exception as exc:  # noqa: BLE001 - a schema keyword that cannot handle this value
            raise FieldFailure(f"{stage}-validation could not check the value: {exc}", value) from None
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            detail = f" at {where}" if where else ""
            raise FieldFailure(f"{stage}-validation failed{detail}: {error.message}", value)
        return value

    return check


def writer(keys: tuple[str | int, ...], target_path: str) -> Callable[[dict[str, Any], Any], None]:
    """A function writing a value at ``keys`` (fast paths for short name-only targets)."""

    def generic(out: dict[str, Any], value: Any) -> None:
        try:
            write_value(out, keys, value)
        except TypeError as exc:
            raise FieldFailure(f"cannot write target path `{target_path}`: {exc}", value) from None

    if len(keys) == 1 and isinstance(keys[0], str):
        k1 = keys[0]

        def write1(out: dict[str, Any], value: Any) -> None:
            out[k1] = value

        return write1
    if len(keys) == 2 and isinstance(keys[0], str) and isinstance(keys[1], str):
        k1, k2 = keys[0], keys[1]

        def write2(out: dict[str, Any], value: Any) -> None:
            node = out.get(k1)
            if node is None:
                out[k1] = {k2: value}
            elif type(node) is dict:
                node[k2] = value
            else:
                generic(out, value)

        return write2
    return generic
