"""Dry run of a pipeline on given records: every step's output, nothing written.

The job's own per-node functions, walked by :mod:`.interpret` (``pipeline preview ID
--input FILE``; the real replacement of the seed's stubbed ``test_integration_pipeline``).
Parallel pipelines run their steps over all records at once (the batches' results,
concatenated in order, are the same). ``--direction outbound`` runs the records (in the
target's shape) through the integration's outbound mappings -- outbound rows and the derived
inverse of bidirectional ones, with their round-trip checks -- back to the source's shape;
pipeline steps only run inbound.
"""

from __future__ import annotations

from typing import Any

from integration_orchestrator.errors import IntegrationOrchestratorError, NotFoundError
from integration_orchestrator.factory.engines import Engines
from integration_orchestrator.factory.interpret import Interpreter
from integration_orchestrator.factory.validate import ValidationResult, validate_snapshot
from integration_orchestrator.masking import mask_preview_report, masker_for
from integration_orchestrator.model import FailedRecord, Integration, InvalidRow, Snapshot
from integration_orchestrator.model.rows import Record

__all__ = [
    "PipelineNotRunnableError",
    "find_pipeline",
    "preview_outbound",
    "preview_pipeline",
    "preview_pipeline_by_id",
]


class PipelineNotRunnableError(IntegrationOrchestratorError):
    """The pipeline, or its integration config, is an invalid row; ``invalid`` says why."""

    def __init__(self, invalid: InvalidRow) -> None:
        self.invalid = invalid
        super().__init__(invalid.message)


def _failure_json(failure: FailedRecord) -> dict[str, Any]:
    return {"index": failure.index, "record": failure.record, "error": failure.message}


def _step_json(name: str, records_in: int, output: list[Record], failures: list[FailedRecord]) -> dict[str, Any]:
    return {
        "step": name, "status": "failed" if failures else "success", "records_in": records_in,
        "records_out": len(output), "failed": [_failure_json(f) for f in failures], "output": output,
    }


def preview_pipeline(record: Integration, records: list[Record], engines: Engines) -> dict[str, Any]:
    """``{"pipeline", "success", "steps": [...], "final_output"}`` for ``records``."""
    final, runs = Interpreter(record, engines).run(records)
    steps_out = [_step_json(run.name, run.records_in, run.records, run.failures) for run in runs]
    name = record.pipeline.pipeline_name if record.pipeline else record.config.integration_name
    return {
        "pipeline": name,
        "pipeline_type": record.pipeline.pipeline_type if record.pipeline else None,
        "error_handling_strategy": record.strategy,
        "success": all(s["status"] == "success" for s in steps_out),
        "steps": steps_out,
        "final_output": final,
    }


def preview_outbound(record: Integration, records: list[Record]) -> dict[str, Any]:
    """The preview report of ``records`` through the outbound mapping plan (one ``mappings`` step)."""
    from integration_orchestrator.mapping import compile_plan

    plan = compile_plan(list(record.mappings), direction="outbound", timezone=record.config.timezone,
                        transformations=record.transformation_rows())
    result = plan.apply_batch(records)
    failures = [
        FailedRecord(index=i, record=records[i], step="mappings",
                     message="; ".join(str(e) for e in r.errors), details={"errors": [e.as_dict() for e in r.errors]})
        for i, r in result.failed
    ]
    output = [r.output for r in result.results if r.ok]
    name = record.pipeline.pipeline_name if record.pipeline else record.config.integration_name
    step = _step_json("mappings", len(records), output, failures)
    return {
        "pipeline": name, "direction": "outbound",
        "pipeline_type": record.pipeline.pipeline_type if record.pipeline else None,
        "error_handling_strategy": record.strategy, "success": not failures, "steps": [step],
        "final_output": output,
    }


def find_pipeline(snapshot: Snapshot, result: ValidationResult, pipeline_id: str) -> Integration:
    """The runnable integration of pipeline ``pipeline_id``.

    Raises :class:`PipelineNotRunnableError` when the pipeline or its config is invalid,
    :class:`~integration_orchestrator.errors.NotFoundError` when no active pipeline has that id.
    """
    for invalid in result.invalid:
        if invalid.row_id == pipeline_id or (invalid.table == "integration_configs" and any(
                p.id == pipeline_id and p.config_id == invalid.config_id for p in snapshot.pipelines)):
            raise PipelineNotRunnableError(invalid)
    found = next((r for r in result.integrations if r.pipeline is not None and r.pipeline.id == pipeline_id), None)
    if found is None:
        raise NotFoundError("active pipeline", pipeline_id, by="id")
    return found


def preview_pipeline_by_id(
    snapshot: Snapshot, pipeline_id: str, records: list[Record], engines: Engines, *, direction: str = "inbound"
) -> dict[str, Any]:
    """:func:`preview_pipeline` (or, ``direction`` outbound, :func:`preview_outbound`) of pipeline
    ``pipeline_id``, sensitive fields masked (safe to print)."""
    found = find_pipeline(snapshot, validate_snapshot(snapshot, engines), pipeline_id)
    if direction == "outbound":
        return mask_preview_report(preview_outbound(found, records), masker_for(found))
    return mask_preview_report(preview_pipeline(found, records, engines), masker_for(found))
