"""``dev``: the Dagster UI and daemon on the integration rows, with the embedded database.

Resolves the platform database (``$INTEGRATION_ORCHESTRATOR_DATABASE_URL`` or the
embedded server, started here and kept up while ``dev`` runs), applies pending
migrations, puts Dagster's own storage in a sibling database of the same server, writes
a ``DAGSTER_HOME`` (``dagster.yaml`` + ``workspace.yaml``) under
``.integration_orchestrator/dagster_home`` and runs ``dagster dev`` (webserver + daemon).
Change rows, then press "Reload" in the UI or run ``integration-orchestrator reload``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from integration_orchestrator.dagster_home import prepare_dagster_home
from integration_orchestrator.db import (
    dagster_storage_url,
    resolve_database_url,
    upgrade,
)
from integration_orchestrator.db.embedded import default_home
from integration_orchestrator.db.urls import mask_url

__all__ = ["register"]

def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("dev", help="Dagster UI + daemon on the integration rows (embedded database)")
    parser.add_argument("--port", default="3000", help="webserver port (default 3000)")
    parser.add_argument("--host", default="127.0.0.1", help="webserver host (default 127.0.0.1)")
    parser.set_defaults(handler=_dev)


def _dev(args: argparse.Namespace) -> int:
    app_url = resolve_database_url(args.database_url)
    upgrade(app_url)
    storage_url = dagster_storage_url(app_url)
    home = default_home() / "dagster_home"
    workspace = prepare_dagster_home(home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTEGRATION_ORCHESTRATOR_DATABASE_URL": app_url,
        "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL": storage_url,
    }
    print(f"platform database: {mask_url(app_url)}\ndagster storage:   {mask_url(storage_url)}\n"
          f"DAGSTER_HOME:      {home}\nUI:                http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", str(workspace),
               "-h", args.host, "-p", str(args.port)]
    child = subprocess.Popen(command, env=env)  # noqa: S603 - our own venv's dagster, fixed arguments

    def stop(signum: int, _frame: object) -> None:  # forward, then wait for a clean shutdown
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue  # the child got the same Ctrl-C; wait for it to finish
