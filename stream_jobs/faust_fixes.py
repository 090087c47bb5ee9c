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

4. Cost per record. The consumer hands each record to the streams' queues racing the hand-off
   against a flow suspension: four tasks and a pass of the event loop per record, though the
   hand-off waits only when a queue is full or the flow suspended. `_Consumer._drain_messages`
   runs the hand-off inline and races it as before only once it has to wait. And
   `Stream.noack_take` fills its batch from a background task iterating the stream record by
   record; `take_events` takes a batch straight from the stream's channel queue: one await for
   the first event, then what the queue already holds without one (see there).

5. Cost per record, too: the conductor gets each record's event from its topic's `decode`,
   Faust's schema decoding, four calls into the serializer registry and codecs per record even
   when they hand the bytes back unchanged. A topic of bytes keys and values with the `raw`
   serializers (the stream topics) makes its events straight from the message (`_Topic`).

6. A memory table's rows the worker writes itself. `faust_jobs` writes its table rows into
   the table's store and sends them to the changelog itself (not `Table.__setitem__`, whose
   changelog buffer stalled rebalances). Faust's in-memory store drops the rows of partitions
   no longer assigned after a rebalance (`Store.on_recovery_completed`), but knows the
   partition of a row only if the row came from the changelog (`Store._key_partition`): rows
   written by the worker would stay in memory after their partition went to another worker,
   more with every rebalance, and come back stale with the partition. `store_rows` writes the
   rows as the changelog recovery does (`Store.apply_changelog_batch`), partition and all.

And latency: Faust creates its consumer with fetch_max_wait_ms=1500. The fetcher keeps one
request in flight per broker, for the partitions with nothing buffered; records arriving
meanwhile on the others wait for it, up to 1.5 s a hop. `kafka_admin.FETCH_MAX_WAIT_MS` bounds
that wait, and `FETCH_MIN_BYTES` lets a fetch gather records for that long rather than return
each few (fewer, larger batches).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import inspect
import logging
import time
import types
from collections.abc import AsyncIterator, Coroutine, Generator, Iterable
from typing import Any, cast

import faust
from faust import Stream
from faust.serializers.registry import Registry
from faust.serializers.schemas import Schema
from faust.stores import memory
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.topics import Topic
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, ChannelT, EventT, TableT

from chotdon.kafka_admin import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES

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
    "Consumer._drain_messages": (faust_aiokafka.Consumer._drain_messages, "44a2500309e83c63"),
    # take_events: what it replaces, the per-event bookkeeping it copies, the ack it relies on
    "Stream.noack_take": (Stream.noack_take, "f2cc2dbfc162d200"),
    "Stream._py_aiter": (Stream._py_aiter, "3a48ee257a65435b"),
    "Stream.ack": (Stream.ack, "32d7171a89b0931d"),
    # _Topic: the decode it replaces for raw bytes, what that decode returns for them
    "Topic._compile_decode": (Topic._compile_decode, "6474178f8c211c05"),
    "Schema.compile": (Schema.compile, "d46eec5ce3195b2c"),
    "Registry.loads_key": (Registry.loads_key, "75262a2361a3bd25"),
    "Registry.loads_value": (Registry.loads_value, "a9a8d9f63e03744f"),
    "Registry._prepare_payload": (Registry._prepare_payload, "0740e90d2a9088fa"),
    "App.create_event": (faust.App.create_event, "15fea3d1e95e6625"),
    # store_rows: the memory store's rows and partitions, as recovery writes and prunes them
    "memory.Store.__post_init__": (memory.Store.__post_init__, "e59c82f3785458b2"),
    "memory.Store.apply_changelog_batch": (memory.Store.apply_changelog_batch, "71863e3cd727aac2"),
    "memory.Store._create_batch_iterator": (
        memory.Store._create_batch_iterator,
        "b082c8bcc0403823",
    ),
    "memory.Store.on_recovery_completed": (memory.Store.on_recovery_completed, "a00bef343e139602"),
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
        super().__init__(id, TableManager=_TableManager, Topic=_Topic, **kwargs)
        # of each source partition, the offset its first record must have after the last
        # rebalance: the committed offset, or the log start when nothing was committed
        self.start_offsets: dict[TP, int] = {}

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


class _Topic(Topic):
    def _compile_decode(self) -> None:
        """Fix 5: a topic of raw bytes keys and values makes its events from the message as it
        is: what Faust's decode gives for it (the registry hands bytes back unchanged through
        the `raw` codec, None as None), without the calls."""
        schema, registry = self.schema, self.app.serializers
        key_serializer = schema.key_serializer or registry.key_serializer
        value_serializer = schema.value_serializer or registry.value_serializer
        raw = (schema.key_type, schema.value_type, key_serializer, value_serializer)
        if raw != (bytes, bytes, "raw", "raw"):
            super()._compile_decode()
            return
        app, event = self.app, cast(Any, self.app.conf.Event)  # what app.create_event makes

        async def decode(message: Any, *, propagate: bool = False) -> EventT[Any]:
            return cast(
                EventT[Any], event(app, message.key, message.value, message.headers, message)
            )

        self.decode = decode  # type: ignore[method-assign]


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
        consumer._fetch_min_bytes = FETCH_MIN_BYTES
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

    async def _drain_messages(self, fetcher: Any) -> None:
        """`Consumer._drain_messages` of faust-streaming 0.15.3 (a copy) with the hand-off of a
        record to the streams (`callback`) run inline until it has to wait (fix 4); only then is
        the rest of it raced against a flow suspension, as upstream races all of it."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        flag_consumer_fetching = CONSUMER_FETCHING
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(flag_consumer_fetching)
                ait = getmany(timeout=1.0)

                # Sleeping because sometimes getmany is called in a loop
                # never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            # We have a gap in income messages
                            if gap > 1 and r_offset:
                                acks_enabled = acks_enabled_for(message.topic)
                                if acks_enabled:
                                    await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            hand_off = cast(Coroutine[Any, Any, None], callback(message))
                            try:
                                waiting = hand_off.send(None)
                            except StopIteration:
                                pass  # handed off without waiting: nothing to race
                            else:
                                await self.wait_first(
                                    _finish(hand_off, waiting), self.suspend_flow.wait()
                                )
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(flag_consumer_fetching)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                # we're already stopping so ignore
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(flag_consumer_fetching)


async def _finish(coro: Coroutine[Any, Any, Any], waiting: Any) -> Any:
    """The rest of `coro`, run until its first wait (`coro.send(None)` gave `waiting`)."""
    return await _resume(coro, waiting)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], waiting: Any) -> Generator[Any, Any, Any]:
    """Step `coro` on from where it waits on `waiting`, as the task running this would have
    (`yield from` a coroutine that has already started)."""
    while True:
        try:
            sent = yield waiting
        except BaseException as exc:  # e.g. the task cancelled: thrown into the coroutine
            try:
                waiting = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                waiting = coro.send(sent)
            except StopIteration as stop:
                return stop.value


def store_rows(
    table: TableT[bytes, bytes], partition: int, rows: Iterable[tuple[bytes, bytes | None]]
) -> int:
    """Fix 6: write rows of one partition (None: delete the row) into a memory table's store,
    each registered with its partition as `Store.apply_changelog_batch` registers the rows it
    reads from the changelog, so that the store drops them with their partition; a deleted
    row is unregistered (deleting a row the store never had does nothing). Returns by how many
    bytes the rows' values grew (negative: shrank)."""
    store = table.data
    if not isinstance(store, memory.Store):
        raise TypeError(f"store_rows writes to an in-memory table's store, not {store!r}")
    data: dict[bytes, bytes] = cast(dict[bytes, bytes], store.data)
    partitions = store._key_partition
    grown = 0
    for key, value in rows:
        old = data.get(key)
        if value is None:
            data.pop(key, None)
            partitions.pop(key, None)
        else:
            data[key] = value
            partitions[key] = partition
        grown += len(value or b"") - len(old or b"")
    return grown


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


async def take_events(
    stream: Stream[Any], max_: int, within: float
) -> AsyncIterator[list[EventT[Any]]]:
    """`Stream.noack_take` (fix 4): batches of at most `max_` events, not acked (the caller acks
    each with `stream.ack` once it is done with it), each yielded once full or `within` seconds
    after its first event came.

    Instead of a background task iterating the stream record by record, the events are taken
    from the stream's channel queue: an await for the first event of a batch, then, without one,
    what the queue holds, awaiting again only when it is empty. Each event gets the bookkeeping
    of Faust's stream iterator (`Stream._py_aiter`, whose Cython twin is the one in use): an
    event of an older consumer generation, or one that came while the flow was suspended for a
    rebalance, is skipped and acked as Faust does; any other is tracked as unacked (what the
    offsets Faust commits wait for) and reported to the sensors.
    """
    if stream._processors or stream.combined:
        raise RuntimeError("take_events takes the events of a plain stream: no processors")
    app = stream.app
    queue = cast(ChannelT[Any], stream.channel).queue  # the iterator reads it so too
    consumer = app.consumer
    acking_topics = app.topics.acking_topics
    on_message_in = stream._on_message_in
    on_stream_event_in = stream._on_stream_event_in
    stream._finalized = True
    started_here = await stream.maybe_start()

    def admit(event: EventT[Any]) -> bool:
        """Faust's bookkeeping of an event taken from the queue: whether the batch takes it."""
        message = event.message
        if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
            return False
        if message.topic in acking_topics and not message.tracked:
            message.tracked = True
            consumer.unacked.add(message)
            on_message_in(message.tp, message.offset, message)
        on_stream_event_in(message.tp, message.offset, stream, event)
        return True

    try:
        while not stream.should_stop:
            batch: list[EventT[Any]] = []
            skipped: list[EventT[Any]] = []
            event = await queue.get()
            deadline = time.monotonic() + within
            while True:
                (batch if admit(event) else skipped).append(event)
                if len(batch) >= max_:
                    break
                if queue.empty():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        async with asyncio.timeout(remaining):
                            event = await queue.get()
                    except TimeoutError:
                        break
                else:
                    event = queue.get_nowait()
            for event in skipped:
                await stream.ack(event)
            stream.events_total += len(batch)
            if batch:
                yield batch
    except StopAsyncIteration:  # the channel's way of saying the stream stops
        return
    finally:
        stream._channel_stop_iteration(stream.channel)
        if started_here:
            await stream.stop()
            stream.service_reset()
