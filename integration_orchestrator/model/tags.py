"""Run tags: every tag the integration jobs, schedules and sensors put on a Dagster run.

The ``integration/*`` tags are this project's; the ``dagster/*`` ones are Dagster's own
tags that the project sets. See ARCHITECTURE.md for what each carries.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "OWN_TAG_PREFIX",
    "TAG_AFTER_CONFIG_ID",
    "TAG_CONFIG_ID",
    "TAG_CONFIG_VERSION",
    "TAG_EVENT_ID",
    "TAG_EVENT_PAYLOAD",
    "TAG_EVENT_TYPE",
    "TAG_EXECUTION_PARAMETERS",
    "TAG_JOB",
    "TAG_MAX_RETRIES",
    "TAG_MAX_RUNTIME",
    "TAG_ORGANIZATION_ID",
    "TAG_PIPELINE_ID",
    "TAG_RETRY_ON_OP_FAILURE",
    "TAG_RETRY_POLICY",
    "TAG_SCHEDULED_TIME",
    "TAG_SCHEDULE_EXECUTION_ID",
    "TAG_SCHEDULE_ID",
    "TAG_SERIAL",
    "TAG_SERIAL_WAIT",
    "TAG_SOURCE",
    "TAG_TARGET",
    "TAG_TYPE",
    "TAG_UPSTREAM_RUN_ID",
    "TAG_WINDOW_END",
    "TAG_WINDOW_START",
]

OWN_TAG_PREFIX: Final = "integration/"

TAG_CONFIG_ID: Final = "integration/config_id"
TAG_ORGANIZATION_ID: Final = "integration/organization_id"
TAG_PIPELINE_ID: Final = "integration/pipeline_id"
TAG_SCHEDULE_ID: Final = "integration/schedule_id"
TAG_SCHEDULE_EXECUTION_ID: Final = "integration/schedule_execution_id"
TAG_SCHEDULED_TIME: Final = "integration/scheduled_time"
TAG_EVENT_ID: Final = "integration/event_id"
#: one run at a time per integration (a tag concurrency limit in dagster.yaml)
TAG_SERIAL: Final = "integration/serial"
#: seconds a run that bypasses the queue waits for the integration's running run (default 0)
TAG_SERIAL_WAIT: Final = "integration/serial_wait_seconds"
TAG_EXECUTION_PARAMETERS: Final = "integration/execution_parameters"
TAG_RETRY_POLICY: Final = "integration/retry_policy"
TAG_EVENT_PAYLOAD: Final = "integration/event_payload"
TAG_EVENT_TYPE: Final = "integration/event_type"
TAG_UPSTREAM_RUN_ID: Final = "integration/upstream_run_id"
#: a schedule tick's window, UTC ISO-8601: the previous tick → this tick (incremental window sources)
TAG_WINDOW_START: Final = "integration/window_start"
TAG_WINDOW_END: Final = "integration/window_end"

#: on sensors (metadata), assets (tags) and ops (op tags), not runs
TAG_AFTER_CONFIG_ID: Final = "integration/after_config_id"
TAG_TYPE: Final = "integration/type"
TAG_SOURCE: Final = "integration/source"
TAG_TARGET: Final = "integration/target"
TAG_CONFIG_VERSION: Final = "integration/config_version"
TAG_JOB: Final = "integration/job"

TAG_MAX_RUNTIME: Final = "dagster/max_runtime"
TAG_MAX_RETRIES: Final = "dagster/max_retries"
TAG_RETRY_ON_OP_FAILURE: Final = "dagster/retry_on_asset_or_op_failure"
