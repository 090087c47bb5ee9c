"""Fixes to faust-streaming 0.15.3 (pinned) for at-least-once delivery, installed by `App`.

They copy, wrap or replace private Faust code, read in release `COPIED_FROM`. `App` refuses to
start on another release, or when one of those upstream methods is not the code they were made
against (`UPSTREAM`: a digest of each method's source): a Faust upgrade means reading them again.

The fault test (SIGKILL a worker mid-stream, restart it, add a second one) lost records on
every few runs until these fixes: a few to ~300 consecutive comments a partition, committed
without ever reaching an agent. The causes, each fixed below:

1. "Paused" partitions deliver. Faust pauses partitions only in its own set of active
   partitions, which it hands, live, to the consumer thread. When the set is empty when the
   thread reads it, aiokafka reads the empty filter as "every partition"; partitions paused
   while a fetch waits are still returned. During a rebalance these records land in the agents'
   queues, which Faust then clears: the records are gone, and the consumer position is past
   them. `_ConsumerThread._fetch_records` returns only the partitions active at the end of the
   fetch and rewinds the others.
2. Recovery resumes the source partitions, then awaits the seek to the committed offsets, then
   resumes the flow, which clears the queues: records fetched during the seek are dropped.
   `_Recovery` seeks while the partitions are paused and resumes them with no await before the
   flow resumes. (Upstream: faust-streaming/faust#217, #596.)
3. Faust treats a jump in the offsets it reads as a gap (compaction, transaction markers) and
   acks the missing offsets, so it commits past records it never delivered; and right after a
   seek it misses a jump of one (faust-streaming/faust#606). The stream topics have no gaps
   (no compaction, no transactions), so a jump is a bug: `_Consumer._add_gap` stops the worker
   instead, and `App.start_offsets` (the committed offsets the recovery seeked to) lets the
   jobs check the first offset they see of each partition (`Job._check_contiguous`).

And latency: Faust creates its consumer with fetch_max_wait_ms=1500. The fetcher keeps one
request in flight per broker, for the partitions with nothing buffered; records arriving
meanwhile on the others wait for it, up to 1.5 s a hop. `kafka_admin.FETCH_MAX_WAIT_MS` bounds
that wait.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import inspect
import logging
from typing import Any

import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from chotdon.kafka_admin import FETCH_MAX_WAIT_MS

log = logging.getLogger(__name__)

COPIED_FROM = "0.15.3"
UPSTREAM: dict[str, tuple[Any, str]] = {  # method: (function, sha256 of its source, 16 hex)
    "Recovery.on_recovery_completed": (Recovery.on_recovery_completed, "6ef567acf072e46d"),
    "TableManager.recovery": (vars(TableManager)["recovery"].fget, "f0bf5de78b4c3d23"),
    "AIOKafkaConsumerThread._fetch_records": (
        faust_aiokafka.AIOKafkaConsumerThread._fetch_records,
        "39a2c6c79fc1455a",
    ),
    "AIOKafkaConsumerThread._create_worker_consumer": (
        faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer,
        "c2701bfc3e6f6cad",
    ),
    "Consumer._add_gap": (faust_aiokafka.Consumer._add_gap, "4df2573ded7c1c2c"),
    "Consumer._new_consumer_thread": (
        faust_aiokafka.Consumer._new_consumer_thread,
        "0870ec53dea75083",
    ),
}


def source_digest(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def upstream_changes() -> list[str]:
    """The upstream methods these fixes depend on whose source changed since they were made."""
    return [name for name, (fn, digest) in UPSTREAM.items() if source_digest(fn) != digest]


def check_faust(version: str | None = None) -> None:
    """Raise, saying what to do, unless the installed Faust is the one the fixes were made for."""
    version = version or importlib.metadata.version("faust-streaming")
    if version != COPIED_FROM:
        raise RuntimeError(
            f"faust-streaming {version} is installed; stream_jobs/faust_fixes.py copies private"
            f" code of {COPIED_FROM}: install {COPIED_FROM}, or re-read the fixes against {version}"
        )
    changed = upstream_changes()
    if changed:
        raise RuntimeError(
            f"faust-streaming {version} differs from the code stream_jobs/faust_fixes.py was made"
            f" against in {', '.join(changed)}: re-read the fixes, then update UPSTREAM"
        )


class App(faust.App):
    """faust.App with the fixes above (Kafka brokers only: kafka:// URLs)."""

    def __init__(self, id: str, **kwargs: Any) -> None:
        check_faust()
        super().__init__(id, TableManager=_TableManager, **kwargs)
        # of each source partition, the offset its first record must have after the last
        # rebalance: the committed offset, or the log start when nothing was committed
        self.start_offsets: dict[TP, int] = {}

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


class _Recovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        """`Recovery.on_recovery_completed` of faust-streaming 0.15.3 (a copy), with the source
        partitions resumed after the seek instead of before it (fix 2), and the offsets the
        partitions start from kept for the jobs (fix 3)."""
        app: Any = self.app
        consumer = app.consumer
        self.log.info("Restore complete!")
        await app.on_rebalance_complete.send()
        self._set_recovery_ended()
        callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(
                    self.actives_for_table[table], self.standbys_for_table[table]
                )
            )
            for table in self.tables.values()
        ]
        if callbacks:
            await asyncio.wait(callbacks)
        assignment = consumer.assignment()
        if app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        sources = {tp for tp in assignment if not self._is_changelog_tp(tp)}
        if assignment:
            self.log.info("Seek stream partitions to committed offsets (still paused).")
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
            starts = {tp: consumer._read_offset.get(tp) for tp in sources}
            never = [tp for tp, offset in starts.items() if offset is None]
            earliest = await consumer.earliest_offsets(*never) if never else {}
            app.start_offsets = {
                tp: earliest.get(tp, 0) if offset is None else offset
                for tp, offset in starts.items()
            }
        # no await from here until the flow resumes (and clears the queues)
        consumer.resume_partitions(sources)
        self.completed.set()
        app.flow_control.resume()
        consumer.resume_flow()
        await app._fetcher.maybe_start()
        self.tables.on_actives_ready()
        if not app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        app.on_rebalance_end()
        self.log.info("Worker ready")


class _TableManager(TableManager):
    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = _Recovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by consumer.start()
        return consumer

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[Any],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        """Fix 1: records of the partitions still active once the fetch returns, only."""
        wanted = set(active_partitions)  # a copy: the main thread changes the set meanwhile
        if not wanted:
            return {}  # to aiokafka, no partitions means all of them
        records = dict(
            await super()._fetch_records(consumer, wanted, timeout=timeout, max_records=max_records)
        )
        assigned = consumer.assignment()
        for tp in [tp for tp in records if tp not in active_partitions]:
            first = records.pop(tp)[0].offset
            if tp in assigned:
                consumer.seek(tp, first)  # fetched again once resumed
        return records


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Fix 3: stop rather than ack records that were never delivered."""
        error = RuntimeError(
            f"records {tp.topic}[{tp.partition}] {offset_from}..{offset_to - 1} were skipped;"
            " stopping so that they are processed after a restart"
        )
        log.error("%s", error)
        await self.app.crash(error)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
