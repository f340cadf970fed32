"""The seccomp allow-list loaded by a sandbox worker once it has imported everything.

Only the system calls an interpreter needs to compute on memory are allowed: reading
and writing the already-open pipes, memory management, threads (``clone`` with
``CLONE_THREAD`` only), clocks, signals to itself. Everything else (``open``/``openat``,
``socket``, ``connect``, ``execve``, ``fork``, ``ptrace``, ``kill``...) fails with ``EPERM``.
``prlimit64`` and ``tgkill`` are allowed on this process only (pid 0 / its own pid).
"""

from __future__ import annotations

import errno
import os

__all__ = ["ALLOWED_SYSCALLS", "install_filter", "seccomp_available"]

ALLOWED_SYSCALLS = (
    "brk", "clock_getres", "clock_gettime", "clock_nanosleep", "close", "exit", "exit_group",
    "fcntl", "fstat", "futex", "getcwd", "getegid", "geteuid", "getgid", "getpid", "getppid", "getrandom",
    "getrlimit", "getrusage", "gettid", "gettimeofday", "getuid", "lseek", "madvise", "membarrier",
    "mmap", "mprotect", "mremap", "munmap", "nanosleep", "poll", "ppoll", "pselect6",
    "read", "readv", "rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_getaffinity",
    "sched_yield", "select", "set_robust_list", "sigaltstack", "sysinfo", "time", "uname",
    "write", "writev",
)
_CLONE_THREAD = 0x00010000
_AT_EMPTY_PATH = 0x1000


def seccomp_available() -> tuple[bool, str]:
    """Whether libseccomp can be loaded here (it may still fail to install)."""
    try:
        import pyseccomp  # noqa: F401 - only probing that the module imports
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return False, f"pyseccomp/libseccomp unavailable: {exc}"
    return True, ""


def install_filter() -> None:
    """Load the filter into this process (irreversible). Raises when the kernel refuses."""
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(defaction=seccomp.ERRNO(errno.EPERM))
    for name in ALLOWED_SYSCALLS:
        try:
            flt.add_rule(seccomp.ALLOW, name)
        except Exception:  # noqa: BLE001, S112 - a syscall this architecture does not have
            continue
    flt.add_rule(seccomp.ALLOW, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))
    flt.add_rule(seccomp.ALLOW, "prlimit64", seccomp.Arg(0, seccomp.EQ, 0))
    flt.add_rule(seccomp.ALLOW, "tgkill", seccomp.Arg(0, seccomp.EQ, os.getpid()))
    # glibc falls back from clone3 to clone only on ENOSYS; clone3 flags cannot be filtered.
    flt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # fstat() is newfstatat(fd, "", AT_EMPTY_PATH): allowed; stat() of a path is not.
    flt.add_rule(seccomp.ALLOW, "newfstatat", seccomp.Arg(3, seccomp.MASKED_EQ, _AT_EMPTY_PATH, _AT_EMPTY_PATH))
    flt.load()
