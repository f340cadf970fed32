"""Full cyclic garbage collections paused while an integration run moves records.

Records are acyclic JSON trees that reference counting frees on its own. A million of
them still make CPython's full (generation 2) collections walk the whole heap again
every time it grows by a quarter, which measured 1.8× the time of reading and mapping
1,000,000 records (``benchmarks/pipeline_bench.py``: source 10.8 s → 5.5 s, mappings
12.6 s → 6.4 s). The ``integration_job`` resource holds :func:`young_collections_only`
for as long as a run (or, under the multiprocess executor, a step process) uses it,
since restoring the thresholds between ops makes the next collection walk every record
at once. The young generations are still collected, so short-lived cycles are freed as
usual; the thresholds come back when the last holder leaves.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["young_collections_only"]

_NEVER = 1 << 30


class _Pause:
    """How many holders there are, and the thresholds to restore after the last one."""

    lock = threading.Lock()
    depth = 0
    saved: tuple[int, ...] = ()


@contextmanager
def young_collections_only() -> Iterator[None]:
    """Raise the third generation's threshold out of reach for the duration (re-entrant, thread-safe)."""
    with _Pause.lock:
        if _Pause.depth == 0:
            _Pause.saved = gc.get_threshold()
            gc.set_threshold(_Pause.saved[0], _Pause.saved[1], _NEVER)
        _Pause.depth += 1
    try:
        yield
    finally:
        with _Pause.lock:
            _Pause.depth -= 1
            if _Pause.depth == 0:
                gc.set_threshold(*_Pause.saved)
