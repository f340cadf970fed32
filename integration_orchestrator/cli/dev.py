"""``dev``: the Dagster UI and daemon on the integration rows, with the embedded database.

Resolves the platform database (``$INTEGRATION_ORCHESTRATOR_DATABASE_URL`` or the
embedded server, started here and kept up while ``dev`` runs), applies pending
migrations, puts Dagster's own storage in a sibling database of the same server, writes
a ``DAGSTER_HOME`` (``dagster.yaml`` + ``workspace.yaml``) under
``.integration_orchestrator/dagster_home`` and runs ``dagster dev`` (webserver + daemon).
Change rows, then press "Reload" in the UI or run ``integration-orchestrator reload``.

The code location is the integrations (``integration_orchestrator.definitions``), or the
user's own: ``--module my_integrations`` (a module of theirs returning
``build_definitions(translator=...)``, importable from the working directory) or
``-w my_workspace.yaml`` (served as is; ``dev`` never writes a user's workspace file).

Stopping: Ctrl-C, SIGTERM to ``dev`` (``kill PID`` of a ``dev &`` started in the background,
whose SIGINT the shell set to ignored) or to its process group: ``dev`` passes each signal
once to ``dagster dev`` (in a session of its own), which shuts its webserver and daemon
down, and ``dev`` exits with its status.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from integration_orchestrator.cli import EXIT_BAD_INPUT
from integration_orchestrator.dagster_home import DEFAULT_ATTRIBUTE, prepare_dagster_home, workspace_yaml
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
    location = parser.add_mutually_exclusive_group()
    location.add_argument("-w", "--workspace", type=Path, metavar="FILE",
                          help="serve this workspace file as is (your own code location)")
    location.add_argument("-m", "--module", metavar="MODULE",
                          help="serve MODULE's definitions (e.g. yours calling build_definitions(translator=...))")
    parser.add_argument("-a", "--attribute", default=DEFAULT_ATTRIBUTE,
                        help=f"with --module: the Definitions attribute (default {DEFAULT_ATTRIBUTE})")
    parser.set_defaults(handler=_dev)


def _workspace(args: argparse.Namespace, home: Path) -> Path:
    """The workspace file to serve: the user's as is, else one written into ``home``."""
    if args.workspace is not None:
        prepare_dagster_home(home)  # the instance settings only; the user's file is not touched
        return Path(args.workspace).resolve()
    if args.module:
        return prepare_dagster_home(home, workspace_yaml(args.module, args.attribute, Path.cwd()))
    return prepare_dagster_home(home)


def _dev(args: argparse.Namespace) -> int:
    home = default_home() / "dagster_home"
    if args.workspace is not None and not args.workspace.is_file():
        print(f"error: the workspace file {args.workspace.resolve()} does not exist", file=sys.stderr)
        return EXIT_BAD_INPUT
    app_url = resolve_database_url(args.database_url)
    upgrade(app_url)
    storage_url = dagster_storage_url(app_url)
    workspace = _workspace(args, home)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "INTEGRATION_ORCHESTRATOR_DATABASE_URL": app_url,
        "INTEGRATION_ORCHESTRATOR_DAGSTER_STORAGE_URL": storage_url,
    }
    print(f"platform database: {mask_url(app_url)}\ndagster storage:   {mask_url(storage_url)}\n"
          f"DAGSTER_HOME:      {home}\nworkspace:         {workspace}\n"
          f"UI:                http://{args.host}:{args.port}  (Ctrl-C to stop)", flush=True)
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster) if dagster.exists() else "dagster", "dev", "-w", str(workspace),
               "-h", args.host, "-p", str(args.port)]
    # `dagster dev` runs in a session of its own and gets each stop signal exactly once, from
    # here: a shell's `kill PID`, a `kill -- -PGID` of dev's group and Ctrl-C all end up as one
    # signal to it (two, as a group kill used to deliver, could cut its shutdown short). It
    # handles SIGTERM as SIGINT; a shell starting `dev &` sets SIGINT to ignored, which a child
    # would inherit (and then ignore SIGTERM too): a handler installed here is reset to the
    # default in the child at exec, so Python there raises KeyboardInterrupt again.
    forwarded: list[int] = []

    def stop(signum: int, _frame: object) -> None:  # forward, then wait for a clean shutdown
        forwarded.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    child: subprocess.Popen[bytes] | None = None
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    child = subprocess.Popen(command, env=env, start_new_session=True)  # noqa: S603 - our own venv's dagster
    if forwarded:  # a signal arrived while the child was being started
        child.send_signal(forwarded[-1])
    return child.wait()
