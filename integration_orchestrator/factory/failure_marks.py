"""An op's failure marks its run's execution row ``failed`` at once, from inside the op.

This was a Dagster ``@failure_hook`` on every job; a hook is triggered after every step,
and on each step that succeeded it logged a ``HOOK_SKIPPED`` event, noise on every
successful run. :func:`marks_failure` wraps each op's compute function instead: an
exception that ends the step for good (not one Dagster retries: a ``RetryRequested``
within its ``max_retries``, or any error while the op's retry policy has retries left)
writes the row ``failed`` with ``<node>: <masked error>`` and is re-raised unchanged.
Failures outside an op's body (loading an input, an interrupted run) are finished by
the reconciler sensor (§3.4), as before.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import dagster as dg

from integration_orchestrator.factory.integration_job import db_of, job_of
from integration_orchestrator.factory.writeback import ensure_execution, finish_execution

__all__ = ["marks_failure", "will_retry"]

F = TypeVar("F", bound=Callable[..., Any])


def will_retry(context: Any, error: BaseException) -> bool:
    """Whether Dagster runs the step again after ``error``."""
    if isinstance(error, dg.RetryRequested):
        return bool(context.retry_number < error.max_retries)
    if isinstance(error, dg.Failure) and not error.allow_retries:
        return False
    policy = context.get_step_execution_context().op_retry_policy
    return policy is not None and context.retry_number < policy.max_retries


def _mark_failed(context: Any, error: BaseException) -> None:
    if not isinstance(error, Exception) or will_retry(context, error):
        return  # an interruption (the reconciler finishes it), or a retry follows
    job = job_of(context)
    message = job.masker.text(str(getattr(error, "description", None) or str(error) or "op failed"))
    config = job.record.config
    with db_of(context).connection() as conn:
        ensure_execution(
            conn, run_id=context.run_id, job_name=job.name, organization_id=config.organization_id,
            config_id=config.id, pipeline_id=job.record.pipeline.id if job.record.pipeline else None,
        )
        finish_execution(
            conn, run_id=context.run_id, organization_id=config.organization_id,
            status="failed", error_message=f"{context.op.name}: {message}"[:4000],
        )


def marks_failure(fn: F) -> F:
    """``fn`` (an op's compute function, plain or generator), marking the execution failed on a final error."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(context, *args, **kwargs)
            except BaseException as error:
                _mark_failed(context, error)
                raise

        return generator  # type: ignore[return-value]  # same signature as fn (functools.wraps)

    @functools.wraps(fn)
    def plain(context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(context, *args, **kwargs)
        except BaseException as error:
            _mark_failed(context, error)
            raise

    return plain  # type: ignore[return-value]  # same signature as fn (functools.wraps)
