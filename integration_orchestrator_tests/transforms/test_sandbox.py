"""The worker pool: seccomp status and the operator opt-in, replacement, shutdown, fork/spawn."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from integration_orchestrator.transforms import (
    ALLOW_WITHOUT_SECCOMP_ENV,
    SandboxUnavailableError,
    TransformationTimeoutError,
    WorkerPool,
    compile_transformation,
    get_pool,
    shutdown_pool,
)
from integration_orchestrator.transforms.sandbox import SandboxSettings, codec
from integration_orchestrator_tests.rows import loaded_transformation

PY_MAP = {"code": "def transform(r):\n    return {'id': r['id'] + 1}"}
JS_MAP = {"code": "function transform(r) { return {id: r.id + 1}; }"}


def test_workers_run_under_seccomp_here(pool: WorkerPool) -> None:
    assert pool.seccomp_status() == (True, "")


@pytest.mark.parametrize("language, logic", [("python", PY_MAP), ("javascript", JS_MAP)])
def test_code_languages_are_refused_without_seccomp_unless_the_operator_opts_in(
    language: str, logic: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_WITHOUT_SECCOMP_ENV, raising=False)
    with WorkerPool(SandboxSettings(max_workers=1, seccomp=False)) as no_seccomp:
        compiled = compile_transformation(loaded_transformation(language, "map", logic), pool=no_seccomp)
        with pytest.raises(SandboxUnavailableError, match=f"set {ALLOW_WITHOUT_SECCOMP_ENV}=1") as info:
            compiled.apply([{"id": 1}])
        assert "seccomp disabled" in str(info.value)
        # the setting is read at call time
        monkeypatch.setenv(ALLOW_WITHOUT_SECCOMP_ENV, "1")
        assert compiled.apply([{"id": 1}]).records == [{"id": 2}]


def test_data_languages_run_without_seccomp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_WITHOUT_SECCOMP_ENV, raising=False)
    with WorkerPool(SandboxSettings(max_workers=1, seccomp=False)) as no_seccomp:
        compiled = compile_transformation(
            loaded_transformation("sql", "filter", {"query": "SELECT * FROM records WHERE id > 1"}), pool=no_seccomp
        )
        assert compiled.apply([{"id": 1}, {"id": 2}]).records == [{"id": 2}]


def test_a_timed_out_worker_is_killed_and_replaced() -> None:
    with WorkerPool(SandboxSettings(max_workers=1)) as small:
        ok = compile_transformation(loaded_transformation("javascript", "map", JS_MAP), pool=small)
        assert ok.apply([{"id": 1}]).records == [{"id": 2}]
        (before,) = small.worker_pids()
        loop = compile_transformation(
            loaded_transformation(
                "jmespath", "map", {"expression": "@" + " | to_string([@,@,@,@,@,@,@,@])" * 12}, timeout_seconds=1
            ),
            pool=small,
        )
        with pytest.raises(TransformationTimeoutError):
            loop.apply([{"id": 1, "s": "x" * 100}])
        with pytest.raises(ProcessLookupError):
            os.kill(before, 0)
        assert ok.apply([{"id": 1}]).records == [{"id": 2}]
        assert small.worker_pids() != [before]


def test_shutdown_pool_stops_the_workers_and_the_next_call_starts_again() -> None:
    shutdown_pool()
    pool = get_pool()
    assert pool.size == 0  # lazy: nothing runs before the first transformation
    compiled = compile_transformation(loaded_transformation("python", "map", PY_MAP))
    assert compiled.apply([{"id": 1}]).records == [{"id": 2}]
    pids = pool.worker_pids()
    assert pids
    shutdown_pool()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert compiled.apply([{"id": 2}]).records == [{"id": 3}]
    assert get_pool() is not pool
    shutdown_pool()


def _apply_in_child(queue: Any) -> None:
    compiled = compile_transformation(loaded_transformation("python", "map", PY_MAP))
    queue.put((os.getpid(), get_pool().pid, compiled.apply([{"id": 41}]).records))
    shutdown_pool()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_works_in_forked_and_spawned_processes(method: str) -> None:
    """Dagster's multiprocess executor starts steps with fork or spawn."""
    compiled = compile_transformation(loaded_transformation("python", "map", PY_MAP))
    assert compiled.apply([{"id": 0}]).records == [{"id": 1}]  # the parent's pool is running
    parent_pids = get_pool().worker_pids()
    context = multiprocessing.get_context(method)
    queue = context.Queue()
    child = context.Process(target=_apply_in_child, args=(queue,))  # type: ignore[attr-defined]  # typeshed's BaseContext lacks it
    child.start()
    child_pid, pool_pid, records = queue.get(timeout=120)
    child.join(60)
    assert child.exitcode == 0
    assert pool_pid == child_pid
    assert records == [{"id": 42}]
    for pid in parent_pids:
        os.kill(pid, 0)  # the child did not touch the parent's workers
    assert compiled.apply([{"id": 1}]).records == [{"id": 2}]
    shutdown_pool()


OSLO_TIME = dt.datetime(2026, 1, 31, 10, 30, tzinfo=ZoneInfo("Europe/Oslo"))

# values the pipe codec must carry exactly: equal, same type, same str()
EXACT_VALUES: list[Any] = [
    Decimal("12345678901234567.89"),
    Decimal("486.20"),
    Decimal("-0"),
    Decimal("1E+30"),
    Decimal("NaN"),
    dt.date(2026, 1, 31),
    dt.datetime(2026, 1, 31, 10, 30, 0, 5),
    OSLO_TIME,
    {"nested": [Decimal("0.50"), {"d": dt.date(1999, 12, 31)}]},
    {"$io": "decimal", "v": "1"},  # a real object that looks like a tag
    {"outer": {"$io": "object", "v": {"x": 1}}},
    "$io",
]


def _shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return (type(value).__name__, str(value))


@pytest.mark.parametrize("value", EXACT_VALUES, ids=[repr(v)[:40] for v in EXACT_VALUES])
def test_the_pipe_codec_carries_exact_values(value: Any) -> None:
    back = codec.decode(codec.encode({"records": [{"v": value}]}))
    assert _shape(back) == _shape({"records": [{"v": value}]})


def test_the_pipe_codec_keeps_its_other_conversions() -> None:
    value = {"s": {1}, "b": b"x", "td": dt.timedelta(seconds=90), "t": dt.time(1, 2), 3: "int key"}
    assert codec.decode(codec.encode(value)) == {"s": [1], "b": "x", "td": 90.0, "t": "01:02:00", "3": "int key"}
