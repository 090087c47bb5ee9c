"""The worker freezes what it started with out of the collections once, at its first partition
assignment: not at every rebalance, which would freeze the states it just dropped for good."""

from __future__ import annotations

import gc
import weakref

from stream_jobs.faust_app import create_app
from stream_jobs.worker_config import WorkerConfig


class Cycle:
    """Stands for a dropped state: garbage only a collection finds (it refers to itself)."""

    def __init__(self) -> None:
        self.me = self


def dropped_cycle() -> weakref.ref[Cycle]:
    return weakref.ref(Cycle())


async def test_what_the_worker_started_with_is_frozen_once_not_at_every_assignment() -> None:
    app = create_app(WorkerConfig("127.0.0.1:9", "tgc", 1, "tgc-worker"))
    try:
        before_start = dropped_cycle()
        await app.on_partitions_assigned.send(assigned=set())
        frozen = gc.get_freeze_count()
        assert frozen > 0, "nothing frozen at the first assignment"
        assert before_start() is None, "garbage frozen: the freeze must follow a collection"
        dropped_at_rebalance = dropped_cycle()
        await app.on_partitions_assigned.send(assigned=set())  # a rebalance
        assert gc.get_freeze_count() == frozen, "frozen again at the second assignment"
        gc.collect()
        assert dropped_at_rebalance() is None, "a state dropped by a rebalance was frozen"
    finally:
        gc.unfreeze()
