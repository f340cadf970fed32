"""The mapping engine: ``integration_mappings`` rows compiled into a fast plan.

Typical use::

    rows = load_mapping_rows(conn, config_id)
    plan = compile_plan(rows, direction="inbound", timezone="Europe/Paris")
    batch = plan.apply_batch(records)      # BatchResult: results + counters by mapping
    for result in batch.results:            # RecordResult: output, dropped, errors
        ...

See ``steps`` for the order of checks, ``rules`` for rule kinds, ``types`` for what each
target type produces (``number`` is ``decimal.Decimal``; ``json_ready`` converts), and
``testing`` for mapping tests.
"""

from integration_orchestrator.mapping.compiler import (
    compile_mapping,
    compile_plan,
    compile_plan_tolerant,
    validate_mappings,
)
from integration_orchestrator.mapping.errors import FieldError, FieldFailure, MappingDefinitionError
from integration_orchestrator.mapping.paths import MISSING, CompiledPath, PathSyntaxError, compile_path
from integration_orchestrator.mapping.plan import BatchResult, MappingCounters, MappingPlan, RecordResult
from integration_orchestrator.mapping.records import load_mapping_rows
from integration_orchestrator.mapping.types import json_dumps, json_ready
from integration_orchestrator.model.rows import MappingRow

__all__ = [
    "MISSING",
    "BatchResult",
    "CompiledPath",
    "FieldError",
    "FieldFailure",
    "MappingCounters",
    "MappingDefinitionError",
    "MappingPlan",
    "MappingRow",
    "PathSyntaxError",
    "RecordResult",
    "compile_mapping",
    "compile_path",
    "compile_plan",
    "compile_plan_tolerant",
    "json_dumps",
    "json_ready",
    "load_mapping_rows",
    "validate_mappings",
]
