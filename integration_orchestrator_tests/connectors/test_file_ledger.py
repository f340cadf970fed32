"""The ``file`` target's ledger against real crashes: kill -9 at each point of a load.

A child process loads run ``r1`` into a file that already holds run ``r0`` and ends with
``os._exit(9)`` before the data rename, between the data rename and the ledger's commit
entry, or after the load; the parent then reads the ledger and reruns ``r1``. Every
record is in the file exactly once, whatever the point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from integration_orchestrator.connectors.file import FileTarget
from integration_orchestrator.connectors.file_ledger import LEDGER_SUFFIX
from integration_orchestrator.connectors.postgres_ledger import LoadContext
from integration_orchestrator_tests.processes import REPO_ROOT

OLD = [{"id": i} for i in range(3)]
NEW = [{"id": i} for i in range(100, 105)]

_CHILD = '''
import os, sys
from integration_orchestrator.connectors.file import FileTarget
from integration_orchestrator.connectors.postgres_ledger import LoadContext
path, mode, point = sys.argv[1:4]
real_replace = os.replace
def replace(src, dst):
    if str(dst) == path and point == "before_rename":
        os._exit(9)
    real_replace(src, dst)
    if str(dst) == path and point == "between_renames":
        os._exit(9)
os.replace = replace
target = FileTarget({"type": "file", "path": path, "mode": mode})
target.write([[{"id": i} for i in range(100, 105)]], LoadContext("r1", config_id="c", state={"at": 105}))
os._exit(9)  # after: the load and its ledger entry are done
'''


def _target(path: Path, mode: str) -> FileTarget:
    return FileTarget({"type": "file", "path": str(path), "mode": mode})


def _ids(path: Path) -> list[int]:
    return [orjson.loads(line)["id"] for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("mode", ["append", "overwrite"])
@pytest.mark.parametrize("point", ["before_rename", "between_renames", "after"])
def test_a_kill_at_any_point_then_a_rerun_loads_every_record_once(tmp_path: Path, mode: str, point: str) -> None:
    path = tmp_path / "out.ndjson"
    target = _target(path, mode)
    target.write([OLD], LoadContext("r0", config_id="c", state={"at": 3}))
    child = tmp_path / "child.py"
    child.write_text(_CHILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(child), str(path), mode, point], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 9, done.stderr

    committed = point != "before_rename"
    expected = ([r["id"] for r in OLD] if mode == "append" else []) + [r["id"] for r in NEW]
    assert _ids(path) == (expected if committed else [r["id"] for r in OLD])
    assert target.recorded_loads(["r1"]) == ({"r1": target.recorded_loads(["r1"])["r1"]} if committed else {})
    assert target.latest_state("c") == ({"at": 105} if committed else {"at": 3})

    again = target.write([NEW], LoadContext("r1", config_id="c", state={"at": 105}))  # the rerun
    assert again.rows_written == len(NEW)
    assert _ids(path) == expected  # never twice, never lost
    assert target.recorded_loads(["r0", "r1"]).keys() == {"r0", "r1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["child.py", path.name, path.name + LEDGER_SUFFIX])


def test_a_rerun_of_the_same_data_origin_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    target = FileTarget({"type": "file", "path": str(path), "mode": "append"})
    first = target.write([NEW], LoadContext("parent", config_id="c"))
    reexecution = target.write([NEW], LoadContext("child", config_id="c", origin_run_id="parent"))
    fresh = target.write([OLD], LoadContext("other", config_id="c", origin_run_id="other"))
    assert reexecution == first and fresh.rows_written == len(OLD)
    assert path.read_text().splitlines() == ["id", *(str(r["id"]) for r in NEW + OLD)]


def test_a_torn_last_ledger_line_is_cut_off_and_replays_and_letters_are_read(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    target = _target(path, "append")
    target.write([OLD], LoadContext("r0", config_id="c", kind="replay", letter_ids=("7", "8")))
    ledger = path.with_name(path.name + LEDGER_SUFFIX)
    with ledger.open("ab") as stream:
        stream.write(b'{"status":"pending","run_id":"r1"')  # a kill mid-append
    assert target.loaded_letters(["7", "9"]) == {"7"}
    assert ledger.read_bytes().endswith(b"}\n")
    target.write([NEW], LoadContext("r1", config_id="c"))
    assert _ids(path) == [r["id"] for r in OLD + NEW]


def test_without_load_context_both_modes_replace_the_file_by_rename(tmp_path: Path) -> None:
    path = tmp_path / "out.ndjson"
    path.write_text('{"id": -1}\n')
    inode = path.stat().st_ino
    _target(path, "append").write([OLD])
    assert path.stat().st_ino != inode and _ids(path) == [-1, 0, 1, 2]
    with pytest.raises(TypeError):
        _target(path, "append").write([[{"id": 9}, 5]])  # type: ignore[arg-type]
    assert _ids(path) == [-1, 0, 1, 2]  # a failed write leaves the file as it was, no temp file behind
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
