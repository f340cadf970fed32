"""young_collections_only: full collections paused inside, thresholds restored after."""

from __future__ import annotations

import gc
import threading
import weakref

from integration_orchestrator.factory.gcpause import young_collections_only


class _Node:
    def __init__(self) -> None:
        self.me = self


def test_full_collections_are_paused_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        inside = gc.get_threshold()
        with young_collections_only():
            assert gc.get_threshold() == inside
        assert gc.get_threshold() == inside
    assert inside[:2] == before[:2]
    assert inside[2] >= 1 << 30
    assert gc.get_threshold() == before


def test_restored_when_the_body_raises() -> None:
    before = gc.get_threshold()
    try:
        with young_collections_only():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_young_cycles_are_still_collected_inside() -> None:
    with young_collections_only():
        ref = weakref.ref(_Node())
        kept: list[list[object]] = [[] for _ in range(5_000)]  # net allocations trigger the young collections
        assert ref() is None
        assert len(kept) == 5_000


def test_threads_restore_only_when_the_last_one_leaves() -> None:
    before = gc.get_threshold()
    entered, release = threading.Barrier(3), threading.Event()

    def worker() -> None:
        with young_collections_only():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()
    assert gc.get_threshold()[2] >= 1 << 30
    release.set()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before


def test_the_integration_job_resource_holds_the_pause_for_the_run() -> None:
    import dagster as dg

    from integration_orchestrator.factory.jobs import _job_resource
    from integration_orchestrator.factory.resources import IntegrationDatabase

    before = gc.get_threshold()
    job = type("FakeJob", (), {"name": "orders"})()
    unused = IntegrationDatabase(database_url="postgresql://unused")  # outside a run: no execution row
    with dg.build_resources({"integration_job": _job_resource(job), "integration_database": unused}) as resources:
        assert resources.integration_job is job
        assert gc.get_threshold()[2] >= 1 << 30
    assert gc.get_threshold() == before
