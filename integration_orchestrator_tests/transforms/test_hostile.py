"""Hostile tenant code in every language: refused or stopped within its timeout, with a
clear error naming the transformation, and the pool keeps working afterwards."""

from __future__ import annotations

import os
from typing import Any

import pytest

from integration_orchestrator.transforms import (
    TransformationDefinitionError,
    TransformationExecutionError,
    TransformationRuntimeError,
    TransformationSandboxError,
    TransformationTimeoutError,
)

RECORD = {"id": 1, "s": "a" * 40 + "!"}
STOPPED = (TransformationTimeoutError, TransformationSandboxError)
_ESCAPE_OS = (
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__"
)
_BOMB = "to_string([" + ",".join(["@"] * 10) + "])"

BENIGN = {
    "jmespath": {"expression": "{id: id}"},
    "jsonpath": {"fields": {"id": "$.id"}},
    "javascript": {"code": "function transform(r) { return {id: r.id}; }"},
    "python": {"code": "def transform(r):\n    return {'id': r['id']}"},
    "sql": {"query": "SELECT id FROM records"},
}


def py(body: str, top: str = "") -> dict[str, str]:
    return {"code": f"{top}def transform(r):\n    " + body.replace("\n", "\n    ")}


def js(body: str, top: str = "") -> dict[str, str]:
    return {"code": f"{top} function transform(r) {{ {body} }}"}


# (case id, language, type, logic, expected): expected is an exception class (raised,
# at compile or apply time) or a string that the per-record error must contain.
HOSTILE: list[tuple[str, str, str, dict[str, Any], Any]] = [
    ("jmespath-memory-bomb", "jmespath", "map", {"expression": "@" + f" | {_BOMB}" * 10}, STOPPED),
    ("jmespath-read-file", "jmespath", "map", {"expression": "read_file('/etc/passwd')"}, "Unknown function"),
    (
        "jmespath-deep-nesting",
        "jmespath",
        "map",
        {"expression": "(" * 5000 + "a" + ")" * 5000},
        TransformationDefinitionError,
    ),
    (
        "jsonpath-read-file",
        "jsonpath",
        "filter",
        {"path": "$[?read_file('/etc/passwd')]"},
        TransformationDefinitionError,
    ),
    ("jsonpath-env", "jsonpath", "filter", {"path": "$[?getenv('HOME')]"}, TransformationDefinitionError),
    (
        "jsonpath-deep-nesting",
        "jsonpath",
        "filter",
        {"path": "$[?" + "(" * 3000 + "@.a" + ")" * 3000 + "]"},
        TransformationDefinitionError,
    ),
    (
        "js-require-fs",
        "javascript",
        "map",
        js("return require('fs').readFileSync('/etc/passwd');"),
        "'require' is not defined",
    ),
    ("js-process-env", "javascript", "map", js("return {home: process.env.HOME};"), "'process' is not defined"),
    ("js-socket", "javascript", "map", js("return new WebSocket('ws://127.0.0.1:1');"), "'WebSocket' is not defined"),
    ("js-fetch", "javascript", "map", js("return fetch('http://127.0.0.1:1/');"), "'fetch' is not defined"),
    ("js-dynamic-import", "javascript", "map", js("return import('os');"), "returned a Promise"),
    ("js-std-module", "javascript", "map", js("return {f: std.loadFile('/etc/passwd')};"), "'std' is not defined"),
    ("js-infinite-loop", "javascript", "map", js("while (true) {}"), STOPPED),
    ("js-catastrophic-regex", "javascript", "map", js("return {m: /(a+)+$/.test(r.s)};"), STOPPED),
    (
        "js-memory-bomb",
        "javascript",
        "map",
        js("const a = []; while (true) a.push('x'.repeat(1e6) + Math.random());"),
        STOPPED,
    ),
    (
        "js-deep-recursion",
        "javascript",
        "map",
        js("return f(1);", "function f(n) { return f(n + 1); }"),
        "stack overflow",
    ),
    (
        "js-async-transform",
        "javascript",
        "map",
        {"code": "async function transform(r) { return r; }"},
        "returned a Promise",
    ),
    ("js-syntax", "javascript", "map", js("return {;"), TransformationDefinitionError),
    ("py-open", "python", "map", py("return {'x': open('/etc/passwd').read()}"), "name 'open' is not defined"),
    (
        "py-escape-open-file",
        "python",
        "map",
        py(f"g = {_ESCAPE_OS}\nreturn {{'fd': g['open']('/etc/passwd', 0)}}"),
        "PermissionError",
    ),
    (
        "py-escape-proc-environ",
        "python",
        "map",
        py(f"g = {_ESCAPE_OS}\nreturn {{'fd': g['open']('/proc/self/environ', 0)}}"),
        "PermissionError",
    ),
    (
        "py-import-os",
        "python",
        "map",
        py("import os\nreturn {'env': dict(os.environ)}"),
        "import of 'os' is not allowed",
    ),
    (
        "py-import-subprocess",
        "python",
        "map",
        {"code": "import subprocess\ndef transform(r):\n    return r"},
        TransformationDefinitionError,
    ),
    ("py-escape-fork", "python", "map", py(f"g = {_ESCAPE_OS}\nreturn {{'pid': g['fork']()}}"), "PermissionError"),
    (
        "py-escape-exec",
        "python",
        "map",
        py(f"g = {_ESCAPE_OS}\ng['execv']('/bin/sh', ['sh', '-c', 'id'])"),
        "PermissionError",
    ),
    (
        "py-escape-socket",
        "python",
        "map",
        py(
            "imp = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'BuiltinImporter'][0]\n"
            "return {'s': str(imp.load_module('_socket').socket())}"
        ),
        "PermissionError",
    ),
    (
        "py-escape-kill-parent",
        "python",
        "map",
        py(f"g = {_ESCAPE_OS}\ng['kill'](g['getppid'](), 9)"),
        "PermissionError",
    ),
    (
        "py-escape-ctypes-prlimit-parent",
        "python",
        "map",
        py(
            f"g = {_ESCAPE_OS}\nct = g['sys'].modules['ctypes']\nlibc = ct.CDLL(None, use_errno=True)\n"
            "lim = (ct.c_ulong * 2)(1, 1)\n"
            "if libc.syscall(302, g['getppid'](), 7, ct.byref(lim), None) != 0:\n"
            "    raise PermissionError(ct.get_errno(), 'prlimit64 refused')\nreturn {'changed': True}"
        ),
        "PermissionError",
    ),
    ("py-threads", "python", "map", py("import threading\nreturn r"), "import of 'threading' is not allowed"),
    ("py-infinite-loop", "python", "map", py("while True:\n    pass"), STOPPED),
    (
        "py-catastrophic-regex",
        "python",
        "map",
        py("return {'m': bool(re.match('(a+)+$', r['s']))}", "import re\n"),
        STOPPED,
    ),
    ("py-memory-bomb", "python", "map", py("return {'n': len('x' * 10**10)}"), STOPPED),
    ("py-deep-recursion", "python", "map", py("return f(1)", "def f(n):\n    return f(n + 1)\n"), "RecursionError"),
    ("py-syntax", "python", "map", py("return {"), TransformationDefinitionError),
    ("sql-read-csv", "sql", "map", {"query": "SELECT * FROM read_csv('/etc/passwd')"}, TransformationRuntimeError),
    (
        "sql-read-text",
        "sql",
        "map",
        {"query": "SELECT content FROM read_text('/proc/self/environ')"},
        TransformationRuntimeError,
    ),
    (
        "sql-url",
        "sql",
        "map",
        {"query": "SELECT * FROM read_json('http://127.0.0.1:1/x.json')"},
        TransformationRuntimeError,
    ),
    ("sql-attach", "sql", "map", {"query": "ATTACH '/tmp/x.db'"}, TransformationDefinitionError),
    ("sql-copy", "sql", "map", {"query": "COPY (SELECT 1) TO '/tmp/x.csv'"}, TransformationDefinitionError),
    ("sql-install", "sql", "map", {"query": "INSTALL httpfs"}, TransformationDefinitionError),
    ("sql-set", "sql", "map", {"query": "SET enable_external_access = true"}, TransformationDefinitionError),
    (
        "sql-multiple-statements",
        "sql",
        "map",
        {"query": "SELECT 1 AS a FROM records; SELECT 2"},
        TransformationDefinitionError,
    ),
    ("sql-python-variable", "sql", "map", {"query": "SELECT * FROM pool"}, TransformationRuntimeError),
    ("sql-getenv", "sql", "map", {"query": "SELECT getenv('HOME') AS h FROM records"}, TransformationRuntimeError),
    (
        "sql-infinite-recursion",
        "sql",
        "aggregate",
        {"query": "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) AS c FROM t"},
        STOPPED,
    ),
    (
        "sql-memory-bomb",
        "sql",
        "aggregate",
        {"query": "SELECT list(repeat('x', 1000000)) AS c FROM range(10000)"},
        (TransformationRuntimeError, *STOPPED),
    ),
    (
        "sql-deep-nesting",
        "sql",
        "map",
        {"query": "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS x FROM records"},
        TransformationDefinitionError,
    ),
]


@pytest.mark.parametrize(
    ("language", "kind", "logic", "expected"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_input_is_refused_or_stopped(
    compile_row: Any, language: str, kind: str, logic: dict[str, Any], expected: Any
) -> None:
    name = f"hostile_{language}"
    if isinstance(expected, str):
        outcome = compile_row(language, kind, logic, transformation_name=name, timeout_seconds=1).apply([RECORD])
        assert outcome.records == []
        assert len(outcome.errors) == 1
        assert expected in outcome.errors[0].message
    else:
        with pytest.raises(expected) as info:
            compile_row(language, kind, logic, transformation_name=name, timeout_seconds=1).apply([RECORD])
        assert f"`{name}`" in str(info.value)
    # the same pool still serves the next transformation
    benign = compile_row(language, "map", BENIGN[language], transformation_name="benign", timeout_seconds=5)
    assert benign.apply([RECORD]).records == [{"id": 1}]


def test_timeouts_name_the_limit(compile_row: Any) -> None:
    with pytest.raises(TransformationTimeoutError, match=r"timed out after 1 s \(timeout_seconds\)"):
        compile_row("python", "map", py("while True:\n    pass"), timeout_seconds=1).apply([RECORD])


def test_memory_limit_is_reported_as_a_sandbox_error(compile_row: Any) -> None:
    with pytest.raises(TransformationSandboxError, match="memory limit"):
        compile_row("python", "map", py("return {'n': len(bytearray(10**10))}")).apply([RECORD])


def test_promise_callbacks_left_queued_never_run(compile_row: Any) -> None:
    code = (
        "Promise.resolve().then(() => { globalThis.leak = 1; while (true) {} });\n"
        "function transform(r) { return {leak: typeof leak}; }"
    )
    compiled = compile_row("javascript", "map", {"code": code}, timeout_seconds=1)
    assert compiled.apply([RECORD]).records == [{"leak": "undefined"}]
    assert compiled.apply([RECORD]).records == [{"leak": "undefined"}]


def test_catastrophic_regex_in_sql_and_jsonpath_is_linear(compile_row: Any) -> None:
    """DuckDB uses RE2; python-jsonpath's I-Regexp match does not backtrack here either."""
    sql = compile_row(
        "sql", "map", {"query": "SELECT regexp_matches(s, '(a+)+$') AS m FROM records"}, timeout_seconds=2
    )
    assert sql.apply([RECORD]).records == [{"m": False}]
    path = compile_row("jsonpath", "filter", {"path": "$[?match(@.s, '(a+)+$')]"}, timeout_seconds=2)
    assert path.apply([RECORD]).records == []


def test_worker_environment_is_empty(compile_row: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from integration_orchestrator.transforms import WorkerPool, compile_transformation
    from integration_orchestrator.transforms.sandbox import SandboxSettings
    from integration_orchestrator_tests.rows import loaded_transformation

    monkeypatch.setenv("IO_TEST_SECRET", "s3cret")
    logic = py(f"g = {_ESCAPE_OS}\nreturn {{'keys': sorted(g['environ'])}}")
    with WorkerPool(SandboxSettings(max_workers=1)) as fresh:
        outcome = compile_transformation(loaded_transformation("python", "map", logic), pool=fresh).apply([RECORD])
    assert outcome.errors == []
    assert "IO_TEST_SECRET" not in outcome.records[0]["keys"]
    assert set(outcome.records[0]["keys"]) <= {"LC_CTYPE"}  # set by CPython's locale coercion


@pytest.mark.skipif(os.getuid() != 0, reason="privileges are dropped only when started as root")
def test_workers_started_as_root_run_as_nobody(compile_row: Any) -> None:
    outcome = compile_row(
        "python", "map", py(f"g = {_ESCAPE_OS}\nreturn {{'uid': g['getuid'](), 'gid': g['getgid']()}}")
    ).apply([RECORD])
    assert outcome.records == [{"uid": 65534, "gid": 65534}]


def test_python_workers_are_not_shared_between_transformations(compile_row: Any) -> None:
    """Tenant Python that tampers with its interpreter cannot reach another transformation."""
    tamper = py("__builtins__['len'] = lambda x: -1\nreturn {'n': len([1])}")
    other = py("return {'n': len([1])}")
    assert compile_row("python", "map", tamper, id="00000000-0000-0000-0000-0000000000b1").apply([RECORD]).records == [
        {"n": -1}
    ]
    assert compile_row("python", "map", other, id="00000000-0000-0000-0000-0000000000b2").apply([RECORD]).records == [
        {"n": 1}
    ]


def test_execution_errors_share_one_root(compile_row: Any) -> None:
    with pytest.raises(TransformationExecutionError):
        compile_row("sql", "map", {"query": "SELECT * FROM read_csv('/etc/passwd')"}).apply([RECORD])
