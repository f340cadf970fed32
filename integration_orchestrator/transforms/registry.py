"""Engines by language: the built-ins plus the ``integration_orchestrator.engines`` entry points.

An entry point names an :class:`Engine` subclass (or an instance, or a zero-argument
factory); its ``language`` attribute is the language it serves::

    [project.entry-points."integration_orchestrator.engines"]
    xpath = "my_package.xpath_engine:XPathEngine"

:func:`register_engine` does the same at run time (in-process engines only: the
sandbox workers find engines through entry points).
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any

from integration_orchestrator.transforms.base import Engine

__all__ = [
    "ENTRY_POINT_GROUP",
    "available_languages",
    "get_engine",
    "load_engines",
    "register_engine",
    "unregister_engine",
]

ENTRY_POINT_GROUP = "integration_orchestrator.engines"

_BUILTINS = {
    "javascript": "integration_orchestrator.transforms.javascript:JavaScriptEngine",
    "jmespath": "integration_orchestrator.transforms.jmespath:JMESPathEngine",
    "jsonpath": "integration_orchestrator.transforms.jsonpath:JSONPathEngine",
    "python": "integration_orchestrator.transforms.python:PythonEngine",
    "sql": "integration_orchestrator.transforms.sql:SQLEngine",
}

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_loaded = False


def _instantiate(obj: Any, origin: str) -> Engine:
    engine = obj() if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Engine)) else obj
    if not isinstance(engine, Engine) or not engine.language:
        raise TypeError(f"{origin} is not an Engine with a language")
    return engine


def _load_builtin(target: str) -> Engine:
    module, _, attr = target.partition(":")
    return _instantiate(getattr(importlib.import_module(module), attr), target)


def load_engines(*, refresh: bool = False) -> dict[str, Engine]:
    """All engines by language; entry points are read once (``refresh`` re-reads them)."""
    global _loaded
    with _lock:
        if _loaded and not refresh:
            return dict(_engines)
        for language, target in _BUILTINS.items():
            _engines.setdefault(language, _load_builtin(target))
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in _engines and not refresh:
                continue
            engine = _instantiate(ep.load(), f"entry point {ep.name} = {ep.value}")
            _engines[engine.language] = engine
        _loaded = True
        return dict(_engines)


def register_engine(engine: Engine | type[Engine], *, replace: bool = False) -> Engine:
    """Add an engine at run time; ``replace`` allows overriding an existing language."""
    instance = _instantiate(engine, repr(engine))
    if instance.sandboxed:
        raise ValueError(
            f"engine {instance.language!r} is sandboxed: sandbox workers load engines from the "
            f"{ENTRY_POINT_GROUP!r} entry point group, so install it as an entry point instead"
        )
    load_engines()
    with _lock:
        if instance.language in _engines and not replace:
            raise ValueError(f"an engine for language {instance.language!r} is already registered")
        _engines[instance.language] = instance
    return instance


def unregister_engine(language: str) -> None:
    """Remove a run-time engine (built-ins come back on the next ``load_engines(refresh=True)``)."""
    with _lock:
        _engines.pop(language, None)


def get_engine(language: str) -> Engine | None:
    return load_engines().get(language)


def available_languages() -> list[str]:
    return sorted(load_engines())
