"""Connection URLs: what the user gives, what psycopg and SQLAlchemy want."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "DATABASE_URL_ENV",
    "database_name",
    "env_database_url",
    "mask_url",
    "psycopg2_url",
    "sqlalchemy_url",
    "with_database",
]

DATABASE_URL_ENV = "INTEGRATION_ORCHESTRATOR_DATABASE_URL"


def env_database_url() -> str | None:
    """The URL named by the environment, if any (read at call time)."""
    return os.environ.get(DATABASE_URL_ENV) or None


def with_database(url: str, database: str) -> str:
    """The same server, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3), other schemes untouched."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def psycopg2_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg2://`` (what dagster-postgres needs, see
    :func:`integration_orchestrator.db.connection.dagster_storage_url`)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe to print)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url
