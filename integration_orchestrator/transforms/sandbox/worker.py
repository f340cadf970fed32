"""The sandbox worker process: ``python -I -m integration_orchestrator.transforms.sandbox.worker CONFIG``.

It imports every engine and warms them up, sets its resource limits, loads the seccomp
filter, says hello, then serves requests (one frame in, one frame out) on the pipes it
was started with; its stdin/stdout file descriptors point to /dev/null so tenant output
cannot corrupt the protocol.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from contextlib import suppress
from typing import Any

__all__ = ["main"]

_CACHE_SIZE = 32


def _warm_up(profile: str) -> None:
    """Import and exercise what the profile's engines load lazily (files are off-limits later)."""
    from integration_orchestrator.transforms.javascript import JavaScriptEngine
    from integration_orchestrator.transforms.jsonpath import compile_query
    from integration_orchestrator.transforms.python import preload_modules

    preload_modules()
    with suppress(Exception):  # a failure is reported by _install_seccomp
        import pyseccomp  # noqa: F401 - loads libseccomp before the limits apply
    compile_query("$.a[?@.b > 1 && match(@.c, 'x.*')]")[0]({"a": [{"b": 2, "c": "xy"}]})
    JavaScriptEngine().build({"code": "function transform(r) { return r; }"}, "map", timeout_seconds=1)([{"a": 1}])
    if profile == "sql":
        import datetime as dt
        from decimal import Decimal

        from integration_orchestrator.transforms.sql import SQLEngine

        warm = {"a": 1, "b": {"c": [1]}, "d": Decimal("1.5"), "t": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
        SQLEngine().build({"query": "SELECT * FROM records"}, "map", timeout_seconds=1)([warm])
        from integration_orchestrator.transforms.sql_arrow import warm_up

        warm_up()


def _install_seccomp(wanted: bool) -> tuple[bool, str]:
    if not wanted:
        return False, "seccomp disabled by the pool's configuration"
    from integration_orchestrator.transforms.sandbox.seccomp import install_filter, seccomp_available

    available, reason = seccomp_available()
    if not available:
        return False, reason
    try:
        install_filter()
    except Exception as exc:  # noqa: BLE001 - report why, the parent decides
        return False, f"the kernel refused the seccomp filter: {exc}"
    return True, ""


class _Server:
    def __init__(self, profile: str) -> None:
        from integration_orchestrator.transforms.registry import load_engines

        self.profile = profile
        self.engines = load_engines()
        self.programs: OrderedDict[str, Any] = OrderedDict()

    def program(self, request: dict[str, Any]) -> Any:
        key = request["key"]
        if key in self.programs:
            self.programs.move_to_end(key)
            return self.programs[key]
        engine = self.engines.get(request["language"])
        if engine is not None and engine.worker_profile != "light" and engine.worker_profile != self.profile:
            raise LookupError(f"a {self.profile!r} worker cannot run {request['language']!r}")
        if engine is None:
            raise LookupError(f"no engine for language {request['language']!r} in the sandbox worker")
        program = engine.build(request["logic"], request["type"], timeout_seconds=request["timeout"])
        self.programs[key] = program
        if len(self.programs) > _CACHE_SIZE:
            self.programs.popitem(last=False)
        return program

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        from integration_orchestrator.transforms.base import LogicError
        from integration_orchestrator.transforms.javascript import js_error_kind
        from integration_orchestrator.transforms.sandbox.limits import set_cpu_budget

        if isinstance(request.get("attachment"), bytes):
            return self.handle_arrow(request)
        try:
            program = self.program(request)
        except LogicError as exc:
            return {"ok": False, "kind": "definition", "field": exc.field, "error": exc.reason}
        except MemoryError:
            raise
        except BaseException as exc:  # noqa: BLE001 - tenant top-level code
            return {"ok": False, "kind": "definition", "field": "code", "error": _describe(exc)}
        set_cpu_budget(request["timeout"] + 1)
        try:
            value = program(request["records"])
        except MemoryError:
            raise
        except BaseException as exc:  # noqa: BLE001 - tenant code
            return {"ok": False, "kind": js_error_kind(exc), "error": _describe(exc)}
        return _result(value, request["per_record"])


    def handle_arrow(self, request: dict[str, Any]) -> dict[str, Any]:
        """A request whose records are an Arrow IPC attachment (SQL over the batch): the
        result table comes back as an Arrow IPC attachment with its DuckDB column types."""
        from integration_orchestrator.transforms.base import LogicError
        from integration_orchestrator.transforms.javascript import js_error_kind
        from integration_orchestrator.transforms.sandbox.limits import set_cpu_budget

        engine = self.engines.get(request["language"])
        run = getattr(engine, "run_arrow", None)
        if engine is None or run is None or engine.worker_profile != self.profile:
            return {"ok": False, "kind": "definition", "field": "code",
                    "error": f"a {self.profile!r} worker cannot run {request['language']!r} over Arrow"}
        try:
            engine.check(request["logic"], request["type"])
        except LogicError as exc:
            return {"ok": False, "kind": "definition", "field": exc.field, "error": exc.reason}
        set_cpu_budget(request["timeout"] + 1)
        try:
            data, types = run(request["logic"], request["attachment"])
        except MemoryError:
            raise
        except BaseException as exc:  # noqa: BLE001 - tenant query
            return {"ok": False, "kind": js_error_kind(exc), "error": _describe(exc)}
        return {"ok": True, "types": types, "attachment": data}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    name = type(exc).__name__
    if name in ("JSException", "StackOverflow") and first:
        return first
    return f"{name}: {first}" if first else name


def _result(value: Any, per_record: bool) -> dict[str, Any]:
    from integration_orchestrator.transforms.base import RecordFailure

    if not per_record:
        return {"ok": True, "value": value}
    if not any(type(item) is RecordFailure for item in value):
        return {"ok": True, "values": value, "failures": []}
    values: list[Any] = []
    failures: list[list[Any]] = []
    for i, item in enumerate(value):
        if isinstance(item, RecordFailure):
            values.append(None)
            failures.append([i, item.message])
        else:
            values.append(item)
    return {"ok": True, "values": values, "failures": failures}


def _respond(fd: int, response: dict[str, Any]) -> None:
    from integration_orchestrator.transforms.sandbox.codec import encode, write_frame_blocking

    attachment = response.pop("attachment", None)
    if isinstance(attachment, bytes):
        write_frame_blocking(fd, encode({**response, "attachment": True}))
        write_frame_blocking(fd, attachment)
        return
    try:
        payload = encode(response)
    except TypeError as exc:
        payload = _encode_per_item(response, exc)
    write_frame_blocking(fd, payload)


def _encode_per_item(response: dict[str, Any], exc: TypeError) -> bytes:
    from integration_orchestrator.transforms.sandbox.codec import encode

    if "values" not in response:
        return encode({"ok": False, "kind": "runtime", "error": f"the result is not JSON: {exc}"})
    for i, item in enumerate(response["values"]):
        try:
            encode(item)
        except TypeError as err:
            response["values"][i] = None
            response["failures"].append([i, f"the result is not JSON: {err}"])
    return encode(response)


def main(argv: list[str]) -> int:
    import orjson

    config = orjson.loads(argv[0]) if argv else {}
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    sys.setrecursionlimit(2000)

    from integration_orchestrator.transforms.sandbox.codec import FrameError, decode, read_frame_blocking
    from integration_orchestrator.transforms.sandbox.limits import apply_limits, drop_privileges

    profile = str(config.get("profile", "light"))
    server = _Server(profile)
    _warm_up(profile)
    apply_limits(int(config.get("memory_bytes", 1 << 30)))
    uid = drop_privileges()
    seccomp, reason = _install_seccomp(bool(config.get("seccomp", True)))
    _respond(proto_out, {"hello": True, "pid": os.getpid(), "uid": uid, "seccomp": seccomp, "reason": reason})
    while True:
        try:
            request = decode(read_frame_blocking(proto_in))
            if request.get("attachment") is True:
                request["attachment"] = read_frame_blocking(proto_in)
        except FrameError:
            return 0
        try:
            response = server.handle(request)
        except MemoryError:
            server.programs.clear()
            try:
                _respond(proto_out, {"ok": False, "kind": "memory", "error": "MemoryError"})
            finally:
                os._exit(3)
        del request
        _respond(proto_out, response)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
