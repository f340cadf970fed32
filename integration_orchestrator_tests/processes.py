"""Long-running processes of the tests (the Dagster daemon, ``dev``): started in their own
session with their output in a log file, polled, and stopped with their children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["REPO_ROOT", "Background", "bin_path", "start_background"]

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 2


def bin_path(name: str) -> str:
    """A console script of this virtual environment (``dagster``, ``dagster-daemon``)."""
    return str(Path(sys.executable).parent / name)


@dataclass
class Background:
    process: subprocess.Popen[bytes]
    log: Path

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_for(self, check: Callable[[], T], seconds: float) -> T | None:
        """``check()`` every two seconds until it is truthy (then its value), the process ends or time is up."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            if not self.running():
                return None
            time.sleep(POLL_SECONDS)
        return None

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the process group; SIGKILL if it has not ended after ``timeout`` seconds."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_background(args: Sequence[str], *, env: Mapping[str, str], cwd: Path, log: Path, **popen: Any) -> Background:
    """Start ``args`` in a new session, stdout and stderr to ``log``."""
    with log.open("wb") as out:
        process = subprocess.Popen(list(args), env=dict(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, **popen)
    return Background(process, log)
