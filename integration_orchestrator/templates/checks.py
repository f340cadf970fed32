"""Deep checks of a template's content through the real engines.

* mappings compile with the mapping engine (``compile_plan``) — an invalid path, unknown
  rule type or impossible cast is reported as the template field
  ``mapping_templates.mappings[i].<column>``;
* the connection template is a valid ``connection_config`` for the registered connectors;
* ``transformation_library`` rules compile as mapping rules and its transformations
  compile with their engines.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from integration_orchestrator.errors import RowError
from integration_orchestrator.templates.model import TemplateDocument, TemplateError

__all__ = ["check_connection", "check_document", "check_library", "compile_mappings", "mapping_rows"]


def mapping_rows(mappings: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Template mapping entries as ``integration_mappings`` rows (column names)."""
    rows = []
    for mapping in mappings:
        row = {k: v for k, v in mapping.items() if k not in ("name", "transformation", "disabled")}
        row["mapping_name"] = mapping["name"]
        if "transformation_rules" not in row and "transformation" in mapping:
            row["transformation_rules"] = mapping["transformation"]
        rows.append(row)
    return rows


def compile_mappings(
    mappings: Sequence[Mapping[str, Any]],
    *,
    source: str,
    field_prefix: str = "mapping_templates.mappings",
    by_name: bool = False,
) -> Any:
    """Compile mappings with the mapping engine; errors name ``<prefix>[i].<column>``
    (or ``<prefix>.<name>.<column>`` with ``by_name``)."""
    from integration_orchestrator.mapping import MappingRow, compile_plan
    from integration_orchestrator.mapping.errors import MappingDefinitionError

    rows = [MappingRow.from_dict(row) for row in mapping_rows(mappings)]
    try:
        return compile_plan(rows)
    except MappingDefinitionError as exc:
        names = [m["name"] for m in mappings]
        where = field_prefix
        if exc.name in names:
            where += f".{exc.name}" if by_name else f"[{names.index(exc.name)}]"
        raise TemplateError(source, exc.reason, field=f"{where}.{exc.field}" if exc.field else where) from exc


def check_connection(connection: Mapping[str, Any], *, source: str, field: str = "connection_template") -> None:
    """The connection is valid for the registered connector types."""
    import integration_orchestrator.connectors  # noqa: F401 - registers the connector types
    from integration_orchestrator.connectors.config import ConnectionConfigError, validate_connection_config

    try:
        validate_connection_config(dict(connection), row_name=source)
    except ConnectionConfigError as exc:
        path = exc.path.removeprefix("connection_config")
        raise TemplateError(source, exc.reason, field=field + path) from exc


def check_library(document: TemplateDocument) -> list[Any]:
    """``transformation_library``: each rule compiles as a mapping rule, each
    transformation compiles with its engine; returns the compiled transformations."""
    from integration_orchestrator.transforms import TransformationRow, compile_transformation
    from integration_orchestrator.transforms.errors import TransformationDefinitionError

    library = document.transformation_library
    for name, rule in (library.get("rules") or {}).items():
        probe = [
            {"name": "library_rule", "source_path": "$.value", "target_path": "value", "transformation_rules": rule}
        ]
        try:
            compile_mappings(probe, source=document.source, field_prefix="probe")
        except TemplateError as exc:
            where = (exc.field or "").split(".transformation_rules", 1)
            suffix = where[1] if len(where) == 2 else ""
            raise document.error(exc.reason, f"transformation_library.rules.{name}{suffix}") from exc
    compiled = []
    for index, row in enumerate(library.get("transformations") or []):
        try:
            compiled.append(compile_transformation(TransformationRow.from_mapping(row)))
        except TransformationDefinitionError as exc:
            at = f"transformation_library.transformations[{index}]"
            raise document.error(exc.reason, f"{at}.{exc.field}" if exc.field else at) from exc
    return compiled


def check_document(document: TemplateDocument) -> Any:
    """Every deep check; returns the compiled plan of the template's mappings."""
    try:
        check_connection(document.connection_template, source=document.source)
        plan = compile_mappings(document.mappings, source=document.source)
        check_library(document)
        return plan
    except TemplateError:
        raise
    except RowError as exc:
        raise document.error(exc.reason, exc.field) from exc
