"""The worker pool: sandbox processes started lazily, per Python process.

A worker that ran Python code is bound to that transformation (``bind_key``) and never
serves another one, so tenant Python cannot leave anything behind for other tenants.
A worker that times out is killed (SIGKILL) and replaced on the next request; a worker
that dies (memory, CPU limit, crash) is replaced too. After ``fork`` the child starts
its own pool: the parent's workers are never used (or killed) from the child.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from integration_orchestrator.transforms.sandbox.codec import FrameError, decode, encode, read_frame, write_frame
from integration_orchestrator.transforms.sandbox.limits import SandboxSettings

__all__ = ["SandboxCrashed", "SandboxTimeout", "WorkerPool", "get_pool", "shutdown_pool"]

STARTUP_TIMEOUT = 60.0


class SandboxTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class SandboxCrashed(Exception):
    """The worker died; ``reason`` says how (signal, limit)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _death_reason(returncode: int | None) -> str:
    if returncode is None:
        return "the sandbox worker stopped answering"
    if returncode == 3:
        return "the sandbox worker ran out of memory (memory limit)"
    if returncode < 0:
        sig = signal.Signals(-returncode)
        reasons = {
            signal.SIGXCPU: "exceeded the CPU time limit",
            signal.SIGKILL: "was killed (memory or time limit)",
            signal.SIGSEGV: "crashed (stack or memory exhausted)",
            signal.SIGSYS: "made a forbidden system call",
            signal.SIGXFSZ: "tried to write a file",
        }
        return f"the sandbox worker {reasons.get(sig, 'was stopped')} ({sig.name})"
    return f"the sandbox worker exited with status {returncode}"


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    seccomp: bool
    seccomp_reason: str
    profile: str = "light"
    bind_key: str | None = None
    busy: bool = False
    last_used: float = field(default_factory=time.monotonic)

    @classmethod
    def start(cls, settings: SandboxSettings, profile: str = "light") -> Worker:
        config = encode(
            {"memory_bytes": settings.memory_bytes, "seccomp": settings.seccomp, "profile": profile}
        ).decode()
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-I", "-m", "integration_orchestrator.transforms.sandbox.worker", config],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={},
            cwd="/",
            close_fds=True,
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        os.set_blocking(proc.stdin.fileno(), False)
        try:
            hello = decode(read_frame(proc.stdout.fileno(), time.monotonic() + STARTUP_TIMEOUT))
        except (FrameError, TimeoutError):
            proc.kill()
            proc.wait()
            raise SandboxCrashed(f"the sandbox worker failed to start ({_death_reason(proc.returncode)})") from None
        return cls(
            proc=proc, seccomp=bool(hello.get("seccomp")), seccomp_reason=str(hello.get("reason", "")), profile=profile
        )

    def serves(self, profile: str) -> bool:
        return self.profile == profile or self.profile == "sql"

    def call(self, payload: bytes, deadline: float, attachment: bytes | None = None) -> dict[str, Any]:
        """One request frame (and its raw ``attachment`` frame); the response, with the raw
        frame that follows it under ``"attachment"`` when it says it has one."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            write_frame(self.proc.stdin.fileno(), payload, deadline)
            if attachment is not None:
                write_frame(self.proc.stdin.fileno(), attachment, deadline)
            response: dict[str, Any] = decode(read_frame(self.proc.stdout.fileno(), deadline))
            if response.get("attachment") is True:
                response["attachment"] = read_frame(self.proc.stdout.fileno(), deadline)
        except TimeoutError:
            self.kill()
            raise SandboxTimeout from None
        except (FrameError, OSError, ValueError):
            self.kill()
            raise SandboxCrashed(_death_reason(self.proc.returncode)) from None
        if response.get("kind") == "memory":
            self.kill()
        return response

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with suppress(OSError):
                    stream.close()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class WorkerPool:
    """At most ``settings.max_workers`` workers, started on demand."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings.from_env()
        self._workers: list[Worker] = []
        self._starting = 0
        self._cond = threading.Condition()
        self._closed = False
        self.pid = os.getpid()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        with self._cond:
            return len(self._workers)

    def worker_pids(self) -> list[int]:
        with self._cond:
            return [w.proc.pid for w in self._workers]

    def _pick(self, bind_key: str | None, profile: str) -> Worker | None:
        idle = [w for w in self._workers if not w.busy and w.alive and w.serves(profile)]
        idle.sort(key=lambda w: w.profile != profile)  # an exact profile first
        for worker in idle:
            if worker.bind_key == bind_key or (bind_key is not None and worker.bind_key is None):
                return worker
        return None

    def _evict_one(self) -> bool:
        idle = sorted((w for w in self._workers if not w.busy), key=lambda w: w.last_used)
        if not idle:
            return False
        self._workers.remove(idle[0])
        idle[0].kill()
        return True

    def _acquire(self, bind_key: str | None, profile: str = "light") -> tuple[Worker, float]:
        """An idle worker for ``bind_key`` (started if needed) and the seconds spent starting it."""
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxCrashed("the sandbox pool is shut down")
                self._workers = [w for w in self._workers if w.alive or w.busy]
                worker = self._pick(bind_key, profile)
                if worker is not None:
                    worker.busy = True
                    worker.bind_key = bind_key or worker.bind_key
                    return worker, 0.0
                if len(self._workers) + self._starting < self.settings.max_workers or self._evict_one():
                    self._starting += 1
                    break
                self._cond.wait(1.0)
        started = time.monotonic()
        try:
            worker = Worker.start(self.settings, profile)
        finally:
            with self._cond:
                self._starting -= 1
        worker.busy, worker.bind_key = True, bind_key
        with self._cond:
            self._workers.append(worker)
        return worker, time.monotonic() - started

    def _replace_in_background(self, profile: str) -> None:
        """Start a spare worker after one was killed, so the next batch does not wait for it."""
        with self._cond:
            if self._closed or len(self._workers) + self._starting >= self.settings.max_workers:
                return
            self._starting += 1

        def start() -> None:
            try:
                worker = Worker.start(self.settings, profile)
            except SandboxCrashed:
                worker = None
            with self._cond:
                self._starting -= 1
                if worker is not None:
                    if self._closed or os.getpid() != self.pid:
                        worker.kill()
                    else:
                        self._workers.append(worker)
                self._cond.notify_all()

        threading.Thread(target=start, name="sandbox-replace", daemon=True).start()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            worker.busy = False
            worker.last_used = time.monotonic()
            if not worker.alive and worker in self._workers:
                self._workers.remove(worker)
            self._cond.notify_all()

    def seccomp_status(self) -> tuple[bool, str]:
        """Whether this host's workers run under seccomp (starts a worker if none runs)."""
        worker, _ = self._acquire(None)
        try:
            return worker.seccomp, worker.seccomp_reason
        finally:
            self._release(worker)

    def call(
        self,
        request: dict[str, Any],
        deadline: float,
        *,
        bind_key: str | None = None,
        needs_seccomp: bool = False,
        profile: str = "light",
        attachment: bytes | None = None,
    ) -> dict[str, Any]:
        """Send one request; raises ``SandboxTimeout``/``SandboxCrashed``/``PermissionError``.

        Time spent starting a worker does not count against ``deadline``. ``attachment``
        (raw bytes, e.g. Arrow IPC) travels as a second frame after the request, which then
        says ``"attachment": true``; a response's own attachment comes back as bytes.
        """
        if attachment is not None:
            request = {**request, "attachment": True}
        payload = encode(request)
        worker, startup = self._acquire(bind_key, profile)
        try:
            if needs_seccomp and not worker.seccomp:
                from integration_orchestrator.transforms.sandbox.limits import allow_without_seccomp

                if not allow_without_seccomp():
                    raise PermissionError(worker.seccomp_reason or "seccomp is not active")
            return worker.call(payload, deadline + startup, attachment)
        except (SandboxTimeout, SandboxCrashed):
            self._release(worker)
            self._replace_in_background(worker.profile)
            raise
        finally:
            self._release(worker)

    def close(self) -> None:
        """Stop every worker (idempotent). Only the process that started them does so."""
        with self._cond:
            self._closed = True
            workers, self._workers = self._workers, []
            self._cond.notify_all()
        if os.getpid() != self.pid:
            return
        for worker in workers:
            worker.kill()


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> WorkerPool:
    """This process's pool, created on first use (and again in a forked child)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid() or _pool._closed:
            _pool = WorkerPool()
            atexit.register(_pool.close)
        return _pool


def shutdown_pool() -> None:
    """Stop this process's workers; the next transformation starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


def _after_fork_in_child() -> None:
    """Forget the parent's workers; close our copies of their pipes so they still see EOF."""
    global _pool, _pool_lock
    _pool_lock = threading.Lock()
    inherited, _pool = _pool, None
    if inherited is None:
        return
    for worker in inherited._workers:
        for stream in (worker.proc.stdin, worker.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


os.register_at_fork(after_in_child=_after_fork_in_child)
