"""The shared vocabulary: typed rows, the validated integration, enums, run tags, names.

Everything above imports these; this floor imports nothing of the package but ``db``
(the schema constants) and ``errors``.
"""

from integration_orchestrator.model.failures import FailedRecord
from integration_orchestrator.model.integration import (
    Integration,
    InvalidRow,
    resolve_retry,
)
from integration_orchestrator.model.names import DefaultNames, NameRequest, assign_unique_names, default_names
from integration_orchestrator.model.pipeline import (
    DEFAULT_BATCH_SIZE,
    PipelineSettings,
    StepRecord,
    parse_pipeline,
)
from integration_orchestrator.model.retry import (
    DEFAULT_RETRY,
    RetrySettings,
    parse_retry,
)
from integration_orchestrator.model.rows import (
    ConfigRecord,
    MappingRow,
    MappingTestRecord,
    PipelineRecord,
    Record,
    RejectedRow,
    Row,
    Snapshot,
    TransformationRecord,
)
from integration_orchestrator.model.schedule import ScheduleRecord, ScheduleRowError
from integration_orchestrator.model.slugs import id_suffix, slugify

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_RETRY",
    "ConfigRecord",
    "DefaultNames",
    "FailedRecord",
    "Integration",
    "InvalidRow",
    "MappingRow",
    "MappingTestRecord",
    "NameRequest",
    "PipelineRecord",
    "PipelineSettings",
    "Record",
    "RejectedRow",
    "RetrySettings",
    "Row",
    "ScheduleRecord",
    "ScheduleRowError",
    "Snapshot",
    "StepRecord",
    "TransformationRecord",
    "assign_unique_names",
    "default_names",
    "id_suffix",
    "parse_pipeline",
    "parse_retry",
    "resolve_retry",
    "slugify",
]
