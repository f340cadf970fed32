"""Source and target connectors: where an integration reads records and where it writes them.

``connection_config`` is ``{"source": {...}, "target": {...}}``; each side has a ``type``
(see :func:`registered_types`). Validate it when loading rows with
:func:`validate_connection_config`; open connectors at run time, inside the op, with
:func:`open_source` / :func:`open_target` — that is when ``{"$secret": ...}`` values are
resolved, through the resolver the caller passes (normally
``integration_orchestrator.credentials.secret_resolver``). On the data plane a source is read
with :func:`read_batches`: record batches, each with the bad lines met reading it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from integration_orchestrator.connectors import file, http, inline, postgres  # noqa: F401 - importing registers them
from integration_orchestrator.connectors.base import (
    ConnectorContext,
    ConnectorError,
    ConnectorSpec,
    Record,
    Role,
    Source,
    Target,
    WriteResult,
    connector_spec,
    iter_batches,
    register_source,
    register_target,
    registered_types,
    write_batches,
)
from integration_orchestrator.connectors.chunks import (
    BadRecord,
    SourceChunk,
    raise_first_bad,
    read_batches,
)
from integration_orchestrator.connectors.config import (
    ConnectionConfig,
    ConnectionConfigError,
    EndpointConfig,
    validate_connection_config,
    validate_endpoint,
)
from integration_orchestrator.connectors.secrets import (
    SecretResolutionError,
    iter_secret_refs,
    resolve_secrets,
)

__all__ = [
    "BadRecord",
    "ConnectionConfig",
    "ConnectionConfigError",
    "ConnectorContext",
    "ConnectorError",
    "ConnectorSpec",
    "EndpointConfig",
    "Record",
    "SecretResolutionError",
    "Source",
    "SourceChunk",
    "Target",
    "WriteResult",
    "connector_spec",
    "iter_batches",
    "iter_secret_refs",
    "open_source",
    "open_target",
    "raise_first_bad",
    "read_batches",
    "register_source",
    "register_target",
    "registered_types",
    "resolve_secrets",
    "validate_connection_config",
    "validate_endpoint",
    "write_batches",
]


def open_source(
    source_config: Mapping[str, Any] | EndpointConfig,
    resolve_secret: Callable[[str], str],
    *,
    rate_limits: Mapping[str, Any] | None = None,
    database_url: str | None = None,
    row_name: str | None = None,
    row_id: Any = None,
    incremental: Any = None,
) -> Source:
    """Build the source of ``source_config`` (validated, then secrets resolved); ``incremental``
    (``connectors.incremental.Incremental``) carries the run's state to a source that declares it."""
    context = ConnectorContext(rate_limits, database_url, incremental)
    source = _open("source", source_config, resolve_secret, context, row_name, row_id)
    return cast(Source, source)  # a source spec's factory builds a Source


def open_target(
    target_config: Mapping[str, Any] | EndpointConfig,
    resolve_secret: Callable[[str], str],
    *,
    rate_limits: Mapping[str, Any] | None = None,
    database_url: str | None = None,
    row_name: str | None = None,
    row_id: Any = None,
) -> Target:
    """Build the target of ``target_config`` (validated, then secrets resolved)."""
    context = ConnectorContext(rate_limits, database_url)
    target = _open("target", target_config, resolve_secret, context, row_name, row_id)
    return cast(Target, target)  # a target spec's factory builds a Target


def _open(
    role: Role,
    config: Mapping[str, Any] | EndpointConfig,
    resolve_secret: Callable[[str], str],
    context: ConnectorContext,
    row_name: str | None,
    row_id: Any,
) -> Source | Target:
    raw = config.config if isinstance(config, EndpointConfig) else config
    endpoint = validate_endpoint(role, raw, row_name=row_name, row_id=row_id)
    spec = connector_spec(role, endpoint.type)
    assert spec is not None  # validate_endpoint rejects unknown types
    resolved = resolve_secrets(dict(endpoint.config), resolve_secret, path=f"connection_config.{role}")
    return spec.factory(resolved, context)
