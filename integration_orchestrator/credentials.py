"""Encrypted credentials: ``integration_credentials`` holds Fernet ciphertext only.

Keys come from ``INTEGRATION_ORCHESTRATOR_SECRET_KEYS`` (read at call time, never at
import): a comma-separated list of ``id:fernet-key``, newest first, e.g.
``k2:<key>,k1:<key>``. New values are encrypted under the newest key and the row records
its ``key_id``; older keys stay in the list until :func:`rotate_secrets` has re-encrypted
every secret under the newest one (one transaction, ``rotated_at`` set), after which they
can be dropped. Values never appear in messages, listings or logs.

A secret belongs to an organization and either one integration config (``config_id``)
or the whole organization (``config_id`` NULL); a config's lookup prefers its own secret
and falls back to the organization-wide one. Connectors resolve ``{"$secret": name}``
through :func:`secret_resolver` at run time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from cryptography.fernet import Fernet, InvalidToken
from psycopg.rows import dict_row

from integration_orchestrator.db.connection import connect, tenant_transaction
from integration_orchestrator.errors import (
    AmbiguousReferenceError,
    ConfigurationError,
    IntegrationOrchestratorError,
    NotFoundError,
)

__all__ = [
    "KEYS_ENV",
    "ConfigRef",
    "Keyring",
    "SecretError",
    "SecretInfo",
    "find_config",
    "generate_key",
    "get_secret",
    "list_secrets",
    "load_keyring",
    "rotate_secrets",
    "secret_resolver",
    "set_secret",
]

KEYS_ENV = "INTEGRATION_ORCHESTRATOR_SECRET_KEYS"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONFIG_COLUMNS = "SELECT id, integration_name, organization_id FROM integration_configs"
_CONFIG_BY_ID = f"{_CONFIG_COLUMNS} WHERE id = %s"
_CONFIG_BY_NAME = f"{_CONFIG_COLUMNS} WHERE integration_name = %s ORDER BY id"


class SecretError(IntegrationOrchestratorError):
    """A secret cannot be stored or read; the message names it, never its value."""

    def __init__(self, name: str, reason: str, *, scope: str | None = None) -> None:
        self.name = name
        self.reason = reason
        self.scope = scope
        where = f" ({scope})" if scope else ""
        super().__init__(f"Secret `{name}`{where}: {reason}")


@dataclass(frozen=True)
class Keyring:
    """The configured keys, newest first: ``[(key_id, Fernet), ...]``."""

    keys: tuple[tuple[str, Fernet], ...]

    @property
    def newest_id(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> list[str]:
        return [key_id for key_id, _ in self.keys]

    def encrypt(self, value: str) -> tuple[bytes, str]:
        """``(ciphertext, key_id)`` under the newest key."""
        key_id, fernet = self.keys[0]
        return fernet.encrypt(value.encode("utf-8")), key_id

    def decrypt(self, ciphertext: bytes, key_id: str, name: str, scope: str | None = None) -> str:
        """The clear value; tries the recorded key first, then every other configured key."""
        ordered = sorted(self.keys, key=lambda item: item[0] != key_id)
        for _, fernet in ordered:
            try:
                return fernet.decrypt(bytes(ciphertext)).decode("utf-8")
            except InvalidToken:
                continue
        configured = ", ".join(self.ids)
        if key_id not in self.ids:
            reason = (
                f"it was encrypted with key `{key_id}`, which is not in {KEYS_ENV} (configured: {configured}); "
                "add that key back (after the newest) or set the secret again"
            )
        else:
            reason = (
                f"no configured key can decrypt it (it was encrypted with key `{key_id}`; configured: {configured}); "
                "the key under that id is wrong or the stored ciphertext was altered"
            )
        raise SecretError(name, reason, scope=scope)


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its value."""

    name: str
    organization_id: UUID
    config_id: UUID | None
    config_name: str | None
    key_id: str
    created_at: datetime
    updated_at: datetime
    rotated_at: datetime | None


@dataclass(frozen=True)
class ConfigRef:
    """The integration config a secret is stored for."""

    id: UUID
    integration_name: str
    organization_id: UUID


def find_config(conn: psycopg.Connection[Any], ref: str) -> ConfigRef:
    """The one config whose id or ``integration_name`` is ``ref``.

    Raises :class:`NotFoundError` when none matches, :class:`AmbiguousReferenceError`
    when several configs have that name.
    """
    try:
        by_id: UUID | None = UUID(ref)
    except ValueError:
        by_id = None
    query = _CONFIG_BY_ID if by_id is not None else _CONFIG_BY_NAME
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, (by_id or ref,)).fetchall()
    if not rows:
        raise NotFoundError("integration config", ref, by="id or integration_name", quote=True)
    if len(rows) > 1:
        raise AmbiguousReferenceError("integration config", ref, [r["id"] for r in rows])
    return ConfigRef(**rows[0])


def generate_key() -> str:
    """A new random Fernet key (url-safe base64 of 32 bytes)."""
    return Fernet.generate_key().decode("ascii")


def load_keyring(environ: Mapping[str, str] | None = None) -> Keyring:
    """Parse ``INTEGRATION_ORCHESTRATOR_SECRET_KEYS``; a clear error if unset or malformed."""
    raw = (environ if environ is not None else os.environ).get(KEYS_ENV, "").strip()
    if not raw:
        raise ConfigurationError(
            f"{KEYS_ENV} is not set: create a key with `integration-orchestrator secrets keygen` "
            f"and set {KEYS_ENV}=k1:<key> (several keys: newest first, comma-separated)"
        )
    keys: list[tuple[str, Fernet]] = []
    for position, entry in enumerate(re.split(r"[,\s]+", raw), start=1):
        if not entry:
            continue
        key_id, sep, key = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ConfigurationError(f"{KEYS_ENV}: entry {position} is not `id:key` (ids are letters, digits, _ . -)")
        if key_id in (k for k, _ in keys):
            raise ConfigurationError(f"{KEYS_ENV}: key id `{key_id}` appears twice")
        try:
            keys.append((key_id, Fernet(key.encode("ascii"))))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigurationError(
                f"{KEYS_ENV}: key `{key_id}` is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc
    return Keyring(tuple(keys))


def _keyring_for(name: str, keyring: Keyring | None, scope: str | None = None) -> Keyring:
    if keyring is not None:
        return keyring
    try:
        return load_keyring()
    except ConfigurationError as exc:
        raise SecretError(name, str(exc), scope=scope) from exc


def _scope(organization_id: Any, config_id: Any) -> str:
    return f"config {config_id}" if config_id else f"organization {organization_id}, organization-wide"


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise SecretError(name, "a secret name starts with a letter or digit and uses only letters, digits, _ . : / -")


def set_secret(
    conn: psycopg.Connection[Any],
    name: str,
    value: str,
    *,
    organization_id: UUID | str,
    config_id: UUID | str | None = None,
    keyring: Keyring | None = None,
) -> SecretInfo:
    """Store (or replace) ``name`` encrypted under the newest key."""
    _check_name(name)
    scope = _scope(organization_id, config_id)
    if not value:
        raise SecretError(name, "the value is empty", scope=scope)
    ciphertext, key_id = _keyring_for(name, keyring, scope).encrypt(value)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            """
            INSERT INTO integration_credentials (organization_id, config_id, name, ciphertext, key_id)
            VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT ON CONSTRAINT integration_credentials_organization_config_name_key
            DO UPDATE SET ciphertext = EXCLUDED.ciphertext, key_id = EXCLUDED.key_id, updated_at = now()
            """,
            (organization_id, config_id, name, ciphertext, key_id),
        )
    infos = list_secrets(conn, organization_id=organization_id, config_id=config_id, name=name)
    return infos[0]


def get_secret(
    conn: psycopg.Connection[Any],
    name: str,
    *,
    organization_id: UUID | str,
    config_id: UUID | str | None = None,
    keyring: Keyring | None = None,
) -> str:
    """The clear value of ``name``: the config's own secret, else the organization-wide one."""
    scope = _scope(organization_id, config_id)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """
            SELECT ciphertext, key_id, config_id FROM integration_credentials
            WHERE organization_id = %s AND name = %s AND (config_id = %s OR config_id IS NULL)
            ORDER BY config_id IS NULL
            LIMIT 1
            """,
            (organization_id, name, config_id),
        ).fetchone()
    if row is None:
        where = "for this config or its organization" if config_id else "for this organization"
        raise SecretError(
            name,
            f"is not set {where}; store it with `integration-orchestrator secrets set CONFIG {name}`",
            scope=scope,
        )
    return _keyring_for(name, keyring, scope).decrypt(row["ciphertext"], row["key_id"], name, scope)


def list_secrets(
    conn: psycopg.Connection[Any],
    *,
    organization_id: UUID | str | None = None,
    config_id: UUID | str | None = None,
    name: str | None = None,
) -> list[SecretInfo]:
    """Names, key ids and dates of the visible secrets (never values), sorted."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT c.name, c.organization_id, c.config_id, ic.integration_name AS config_name,
                   c.key_id, c.created_at, c.updated_at, c.rotated_at
            FROM integration_credentials c
            LEFT JOIN integration_configs ic ON ic.id = c.config_id
            WHERE (%(org)s::uuid IS NULL OR c.organization_id = %(org)s::uuid)
              AND (%(config)s::uuid IS NULL OR c.config_id IS NOT DISTINCT FROM %(config)s::uuid)
              AND (%(name)s::text IS NULL OR c.name = %(name)s::text)
            ORDER BY c.organization_id, ic.integration_name NULLS FIRST, c.name
            """,
            {"org": organization_id, "config": config_id, "name": name},
        ).fetchall()
    return [SecretInfo(**row) for row in rows]


def rotate_secrets(
    conn: psycopg.Connection[Any],
    *,
    organization_id: UUID | str | None = None,
    keyring: Keyring | None = None,
) -> int:
    """Re-encrypt every visible secret under the newest key in ONE transaction.

    Sets ``key_id`` and ``rotated_at``. If any secret cannot be decrypted nothing is
    changed and the error names it. Returns the number of secrets re-encrypted.
    """
    keyring = keyring if keyring is not None else load_keyring()
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """
            SELECT id, organization_id, config_id, name, ciphertext, key_id FROM integration_credentials
            WHERE %(org)s::uuid IS NULL OR organization_id = %(org)s::uuid
            ORDER BY id FOR UPDATE
            """,
            {"org": organization_id},
        ).fetchall()
        updates = []
        for row in rows:
            scope = _scope(row["organization_id"], row["config_id"])
            value = keyring.decrypt(row["ciphertext"], row["key_id"], row["name"], scope)
            ciphertext, key_id = keyring.encrypt(value)
            updates.append((ciphertext, key_id, row["id"]))
        cur.executemany(
            "UPDATE integration_credentials SET ciphertext = %s, key_id = %s, rotated_at = now(), updated_at = now() "
            "WHERE id = %s",
            updates,
        )
    return len(updates)


def secret_resolver(
    database_url: str, organization_id: UUID | str, config_id: UUID | str | None = None
) -> Callable[[str], str]:
    """A ``resolve_secret(name) -> value`` for connectors, reading as the application role.

    Each call opens a short connection and one tenant transaction (organization set), so
    a run sees only its own organization's secrets. Keys are read when it is called.
    """

    def resolve(name: str) -> str:
        with connect(database_url) as conn, tenant_transaction(conn, organization_id):
            return get_secret(conn, name, organization_id=organization_id, config_id=config_id)

    return resolve
