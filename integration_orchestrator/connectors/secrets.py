"""``{"$secret": "name"}`` references inside connector configs.

Secrets are never stored inline: a config holds a reference and the value is resolved
only at run time (inside the op) through a resolver callable, normally
``integration_orchestrator.credentials.secret_resolver``. Errors name the secret and the
JSON path of the reference, never the value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from integration_orchestrator.errors import IntegrationOrchestratorError

__all__ = [
    "SECRET_KEY",
    "SECRET_REF_SCHEMA",
    "STRING_OR_SECRET_SCHEMA",
    "SecretResolutionError",
    "is_secret_ref",
    "iter_secret_refs",
    "resolve_secrets",
]

SECRET_KEY = "$secret"  # noqa: S105 - the reference marker, not a secret

#: JSON Schema of a reference: where a value is secret, only this shape is accepted.
SECRET_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {SECRET_KEY: {"type": "string", "minLength": 1}},
    "required": [SECRET_KEY],
    "additionalProperties": False,
    "x-secret": True,
}
#: A plain string or a secret reference (URLs, user names, header values).
STRING_OR_SECRET_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "string"}, SECRET_REF_SCHEMA]}


class SecretResolutionError(IntegrationOrchestratorError):
    """A ``$secret`` reference could not be resolved (missing, undecryptable, ...)."""

    def __init__(self, name: str, path: str, reason: str) -> None:
        self.name = name
        self.path = path
        self.reason = reason
        super().__init__(f"Secret `{name}` (referenced at `{path}`): {reason}")


def is_secret_ref(value: Any) -> bool:
    """True for exactly ``{"$secret": "<name>"}``."""
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and SECRET_KEY in value
        and isinstance(value[SECRET_KEY], str)
    )


def iter_secret_refs(config: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every ``(json_path, secret_name)`` referenced anywhere in ``config``."""
    if is_secret_ref(config):
        yield path, config[SECRET_KEY]
    elif isinstance(config, Mapping):
        for key, value in config.items():
            yield from iter_secret_refs(value, f"{path}.{key}")
    elif isinstance(config, list):
        for index, value in enumerate(config):
            yield from iter_secret_refs(value, f"{path}[{index}]")


def resolve_secrets(config: Any, resolver: Callable[[str], str], path: str = "$") -> Any:
    """A copy of ``config`` with each ``{"$secret": name}`` replaced by ``resolver(name)``.

    The resolver is called once per distinct name. Any error it raises becomes a
    :class:`SecretResolutionError` naming the secret and where it is referenced.
    """
    cache: dict[str, str] = {}

    def walk(value: Any, where: str) -> Any:
        if is_secret_ref(value):
            name = value[SECRET_KEY]
            if name not in cache:
                try:
                    resolved = resolver(name)
                except SecretResolutionError:
                    raise
                except Exception as exc:  # the resolver's own error, re-raised with the path
                    raise SecretResolutionError(name, where, _reason(exc)) from exc
                if not isinstance(resolved, str):
                    raise SecretResolutionError(name, where, "the resolver did not return a string")
                cache[name] = resolved
            return cache[name]
        if isinstance(value, Mapping):
            return {key: walk(item, f"{where}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, f"{where}[{index}]") for index, item in enumerate(value)]
        return value

    return walk(config, path)


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
