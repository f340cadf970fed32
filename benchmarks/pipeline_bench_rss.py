"""Run one contender in its own process tree and measure the peak RSS of its largest process.

Each contender of ``pipeline_bench.py`` runs as ``python pipeline_bench_contenders.py NAME
PARAMS`` so its memory is its own. A thread samples, every 50 ms, the RSS of the worker and
of every descendant (psutil; for the launch path: the ``dagster job execute`` run worker and
its step processes) and keeps each process's maximum. The worker also reports its own peak
(``VmHWM``, exact) and ``ru_maxrss`` of its reaped children (which Linux carries over from
the parent at fork, so it can overstate a child smaller than the worker); the larger figure
is the one printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

__all__ = ["RESULT_PREFIX", "Measured", "run_contender"]

RESULT_PREFIX = "PIPELINE_BENCH_RESULT "
WORKER = Path(__file__).resolve().parent / "pipeline_bench_contenders.py"


@dataclass(frozen=True)
class Measured:
    """What the worker reported, the peak RSS of the largest process and which process it was."""

    result: dict[str, Any]
    peak_rss: int
    peak_process: str


class _Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self._root = psutil.Process(pid)
        self._interval = interval
        self._done = threading.Event()
        self.peaks: dict[int, tuple[int, str]] = {}

    def run(self) -> None:
        while not self._done.is_set():
            try:
                processes = [self._root, *self._root.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    if rss > self.peaks.get(process.pid, (0, ""))[0]:
                        self.peaks[process.pid] = (rss, _describe(process))
                except psutil.Error:
                    continue
            self._done.wait(self._interval)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _describe(process: psutil.Process) -> str:
    try:
        line = " ".join(process.cmdline())
    except psutil.Error:
        return "?"
    for marker, label in (("multiprocess", "step process"), ("dagster job", "run worker"),
                          ("dagster api", "run worker"), ("forkserver", "forkserver"),
                          ("-m integration_orchestrator", "demo command"),
                          ("pipeline_bench_contenders", "contender process")):
        if marker in line:
            return label
    return process.name()


def run_contender(name: str, params: dict[str, Any], env: dict[str, str], cwd: Path, log: Path) -> Measured:
    """Run contender ``name`` in a fresh worker; raise with its output's tail when it fails."""
    with log.open("w") as err:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), name, json.dumps(params)],
            stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=cwd,
        )
        sampler = _Sampler(worker.pid)
        sampler.start()
        out, _ = worker.communicate()
        sampler.stop()
    lines = [line for line in out.splitlines() if line.startswith(RESULT_PREFIX)]
    if worker.returncode != 0 or not lines:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"contender {name} failed (exit {worker.returncode}):\n{out[-2000:]}\n{tail}")
    result = json.loads(lines[-1][len(RESULT_PREFIX):])
    peak, process = max(sampler.peaks.values(), default=(0, "?"))
    reported = int(result.get("maxrss_self", 0)), int(result.get("maxrss_children", 0))
    if reported[0] > peak:
        peak, process = reported[0], "contender process"
    if reported[1] > peak:
        peak, process = reported[1], result.get("children_label", "child process")
    return Measured(result, peak, process)
