"""The ``sitecustomize`` of a faulted job process: pause points, no hook in the package.

A test starts ``dagster job execute`` with ``FAULT_PAUSE_AT=<point>`` and ``FAULT_DIR``:
at that point the process writes ``FAULT_DIR/at-<point>`` (its pid) and waits until
``FAULT_DIR/go-<point>`` exists. The test meanwhile kills it with SIGKILL, or stops and
starts the database, and then lets it go on. Points:

- ``before_sink``: the sink is about to open its target connection;
- ``before_commit``: every row and the ledger row are written, the transaction is open;
- ``after_commit``: the load committed; the write-back (another database) has not run.
"""

from __future__ import annotations

SITECUSTOMIZE = '''
import os, time
from pathlib import Path

_POINT = os.environ.get("FAULT_PAUSE_AT")
_DIR = Path(os.environ.get("FAULT_DIR", "."))


def _pause(point):
    if point != _POINT:
        return
    (_DIR / f"at-{point}").write_text(str(os.getpid()))
    while not (_DIR / f"go-{point}").exists():
        time.sleep(0.05)


if _POINT:
    from integration_orchestrator.connectors import postgres as _pg

    _write, _record = _pg.PostgresTableTarget.write_batches, _pg.record_load

    def write_batches(self, batches, load_context=None):
        _pause("before_sink")
        result = _write(self, batches, load_context)
        _pause("after_commit")
        return result

    def record_load(*args, **kwargs):
        _record(*args, **kwargs)
        _pause("before_commit")

    _pg.PostgresTableTarget.write_batches = write_batches
    _pg.record_load = record_load
'''

__all__ = ["SITECUSTOMIZE"]
