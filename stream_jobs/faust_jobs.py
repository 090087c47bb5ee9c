"""The worker's agent: the same stream processor as the embedded mode, around Kafka records.

    comments + actions + viewers ─▶ stream ─▶ intents (+ the host's order actions applied),
                                              orders (+ stock levels), metrics
                                              (anything unusable ─▶ dead letters)

Every topic has the same partition count and is keyed by stream, and every output goes to the
partition of the input it came from, so one stream lives on one partition number everywhere:
its records, its table rows (the changelog is partitioned alike) and its outputs.

A comment crosses Kafka once: parsed, applied to the book and counted in the metrics in one
pass; the intents are still published, for analysts and the sink's review queue.

Delivery: at least once, with idempotent steps. The job handles a batch of events and sends
what it produced (one produce batch per topic partition), handling the next batch while the
broker acknowledges it; at a checkpoint (at most every `checkpoint_s`, or when a rebalance
starts) it waits until every output sent so far is acknowledged, then writes its state (table
rows per stream) to the table's changelog, and only once that write is acknowledged are the
input events acked, which is what lets Faust commit their offsets. So the outputs are durable
before the state, and the state before the offsets. After a crash the inputs since the
last commit come again, and the recovered state may already include some of them; the job
recognises those: the order book by comment and action id, the product switches by their
position, the metrics by the offsets they counted. A stream's book, switches and metrics are
checkpointed together, so a replay gives the same events with the same `seq`: consumers drop
events whose `seq` they have seen (see `StreamJob` for the host's order actions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from faust import Stream
from faust.types import TP, AppT, EventT, TableT

from chotdon import topics
from chotdon.book_rows import BookRows
from chotdon.catalog import Catalog
from chotdon.prometheus import WorkerMetrics
from chotdon.records import (
    AdjustStock,
    AnyRecord,
    Approve,
    Comment,
    DeadLetter,
    RecordError,
    Reject,
    SetCurrent,
    ViewerCount,
    decode,
    encode,
    record_stream,
)

from . import metrics as windows
from .actions import ActionError
from .book_rows import restore_book, take_changes
from .faust_catalogs import CatalogReader
from .faust_fixes import store_rows, take_events
from .order_book import StreamBook, new_book
from .processor import StreamProcessor
from .worker_config import BATCH_SIZE, BATCH_WITHIN

log = logging.getLogger(__name__)

RAW_LIMIT = 10_000  # characters of a dead letter's raw record kept
SWITCHES_KEPT = 16  # product switches a stream's state remembers (see Switches)
# key suffixes of a stream's rows: customers, log entries, log blocks, product switches, metrics
CUSTOMER, LOG, BLOCK = b"\x00c\x00", b"\x00l\x00", b"\x00b\x00"
SWITCHES, METRICS = b"\x00s\x00", b"\x00m\x00"

Outputs = dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]]


@dataclass(frozen=True, slots=True)
class JobConfig:
    prefix: str
    batch_size: int = BATCH_SIZE
    batch_within: float = BATCH_WITHIN
    checkpoint_s: float = 1.0  # state written at most this often (0: every batch)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)

    def topic(self, spec: topics.TopicSpec) -> str:
        return spec.name(self.prefix)


def tag(record: msgspec.Struct) -> str:
    return str(type(record).__struct_config__.tag)


class Switches(msgspec.Struct):
    """The product switches of a stream, newest last, with where each came from.

    A replay after a crash can start before switches this state already holds; each comment is
    parsed with the product current at its own position in the comments topic (a switch from
    the comments topic counts only if it came before the comment), so a replayed comment gives
    the same intent as the first time. The host's switches (actions topic) are not ordered
    with the comments anyway: they apply from when they are handled.
    """

    switches: list[tuple[str, int, str | None]] = []  # (topic, offset, product code)

    def current(self, topic: str, offset: int) -> str | None:
        for source, at, code in reversed(self.switches):
            if not (source == topic and at > offset):
                return code
        return None

    def switch(self, topic: str, offset: int, code: str | None) -> bool:
        if any(s == topic and at == offset for s, at, _ in self.switches):
            return False  # a replay
        self.switches = [*self.switches, (topic, offset, code)][-SWITCHES_KEPT:]
        return True


class MetricsEntry(msgspec.Struct):
    """A stream's metrics and, per input topic, the offset of the last record counted: a replay
    after a crash skips what the state already counted (counting is not idempotent)."""

    offsets: dict[str, int]
    state: msgspec.Raw  # metrics.encode_state


@dataclass(eq=False)
class LiveStream:
    """A stream's state in the worker: its processor (the order book), its product switches and
    its metrics, checkpointed together as rows of one table."""

    processor: StreamProcessor
    switches: Switches
    metrics: windows.MetricsState
    counted: dict[str, int]  # topic -> offset of the last record the metrics counted
    switched: bool = False  # the switches changed since the checkpoint
    recounted: bool = False  # the metrics changed since the checkpoint

    def counts(self, topic: str, offset: int) -> bool:
        """Whether the metrics count this record: not if they counted it before a crash."""
        if offset <= self.counted.get(topic, -1):
            return False
        self.counted[topic] = offset
        self.recounted = True
        return True


class StreamJob:
    """Comments (with the source's product switches), the host's actions and viewer counts ->
    intents, order events, each changed stream's stock levels after every batch, and metrics:
    one pass per record through the stream's `StreamProcessor` and metric windows.

    Intents and the host's order actions the book applied go to the intents topic in the order
    they were applied (for analysts and the sink's review queue). An action without an id gets
    one from its position, applied once however often it is replayed. The state of a stream is
    rows of the table (`book_rows`): the book's head under the stream's key, and under that key
    plus a suffix a row per customer and per log entry, the product switches and the metrics;
    a checkpoint writes what changed since the last one.

    A replay after a crash sees the comments and the host's actions since the last commit
    again, maybe interleaved otherwise than the first time; so that a host's order action is
    not applied at another place among the comments on replay than the first time, a batch that
    applied one is checkpointed at once (what is left is the window of that checkpoint's write).

    Metric windows: each window is sent when it closes, and the open windows as they stand at
    each checkpoint (a consumer keeps the latest snapshot per stream, size and start).
    """

    name = "stream"
    _entry = msgspec.json.Encoder()
    _entry_decoder = msgspec.json.Decoder(MetricsEntry)
    _switches_decoder = msgspec.json.Decoder(Switches)

    def __init__(
        self, app: AppT, config: JobConfig, table: TableT[bytes, bytes], catalogs: CatalogReader
    ) -> None:
        self.app = app
        self.config = config
        self.table = table
        self.catalogs = catalogs
        self.allowed = {
            config.topic(spec): spec.records
            for spec in (topics.COMMENTS, topics.ACTIONS, topics.VIEWERS)
        }
        self.topics = {spec.suffix: config.topic(spec) for spec in topics.ALL}  # names, once
        self.states: dict[bytes, LiveStream] = {}  # by stream key; the table has the last
        # the table's row keys by what precedes their first NUL (a stream key, see `_book`),
        # gathered once after a rebalance, for the streams not yet restored
        self.row_keys: dict[bytes, list[bytes]] | None = None
        self.dirty: dict[bytes, int] = {}  # key -> partition: state changed since checkpoint
        self.pending: list[EventT[bytes]] = []  # handled, not yet acked
        self.pending_since = 0.0
        self.outputs: Outputs = {}  # this batch's records, by topic and partition
        self.sending: list[asyncio.Future[Any]] = []  # produce batches not known acknowledged
        self.batch_catalogs: dict[str, Catalog | None] = {}  # looked up once per batch
        self.batch_streams: dict[bytes, int] = {}  # key -> partition: streams in this batch
        self.dead_letters: Counter[str] = Counter()
        self.lock = asyncio.Lock()
        self.last_offsets: dict[TP, int] = {}  # since the last rebalance
        self.state_bytes: int | None = None  # of the table's rows (None: to be summed)
        self.checkpoint_now = False  # at the end of this batch, however recent the last one
        metrics = config.metrics
        self._batch_duration = metrics.batch_duration.labels(self.name)
        self._checkpoint_duration = metrics.checkpoint_duration.labels(self.name)
        self._state_bytes = metrics.state_bytes.labels(self.name)

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, stream: Stream[bytes]) -> None:
        """The agent's body. A bug (an exception a record cannot cause: those are dead-letters)
        crashes the worker rather than skip inputs: their offsets stay uncommitted."""
        ticker = asyncio.create_task(self._checkpoint_when_due(stream))
        try:
            cfg = self.config
            # events not acked: the checkpoint acks them
            async for events in take_events(stream, cfg.batch_size, cfg.batch_within):
                async with self.lock:
                    started = time.perf_counter()
                    self._check_contiguous(events)
                    for event in events:
                        await self.handle(event)
                    self.end_batch()
                    await self.flush(wait=False)
                    self._batch_duration.observe(time.perf_counter() - started)
                    self._observe_read(events)
                    if not self.pending:
                        self.pending_since = time.monotonic()
                    self.pending.extend(events)
                    if self._due():
                        await self.checkpoint(stream)
        except Exception as exc:
            log.exception("%s: stopping the worker: %r", self.name, exc)
            await self.app.crash(exc)
            raise
        finally:
            ticker.cancel()

    def _check_contiguous(self, events: Sequence[EventT[bytes]]) -> None:
        """A safety net under Faust (see `faust_fixes`): the stream topics are neither
        compacted nor written in transactions, so their offsets have no gaps, and a partition
        starts where the recovery seeked it to. A jump means records were dropped: stop before
        acking anything past them, so that a restart processes them."""
        starts: dict[TP, int] = getattr(self.app, "start_offsets", {})
        for event in events:
            tp, offset = event.message.tp, event.message.offset
            last = self.last_offsets.get(tp, starts.get(tp, offset) - 1)
            if offset > last + 1:
                raise RuntimeError(
                    f"{self.name}: records {tp.topic}[{tp.partition}] {last + 1}..{offset - 1}"
                    " were skipped; stopping so that they are processed after a restart"
                )
            self.last_offsets[tp] = max(last, offset)

    def _observe_read(self, events: Sequence[EventT[bytes]]) -> None:
        """Records in by topic, and how far each partition read is behind its end."""
        metrics = self.config.metrics
        read: Counter[str] = Counter(event.message.tp.topic for event in events)
        for topic, n in read.items():
            metrics.records_in.labels(topic).inc(n)
        for tp in {event.message.tp for event in events}:
            end = self.app.consumer.highwater(tp)  # the offset the next record will get
            if end is not None:
                behind = max(0, end - self.last_offsets[tp] - 1)
                metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)

    def _due(self) -> bool:
        age = time.monotonic() - self.pending_since
        due = age >= self.config.checkpoint_s or self.checkpoint_now or self.app.rebalancing
        return bool(self.pending) and due

    async def _checkpoint_when_due(self, stream: Stream[bytes]) -> None:
        """Checkpoint when no batch comes to do it, and at once when a rebalance starts: Faust
        waits for every event in flight to be acked before it hands partitions over."""
        try:
            while True:
                await asyncio.sleep(min(0.1, self.config.checkpoint_s or 0.1))
                if self._due():
                    async with self.lock:
                        if self._due():
                            await self.checkpoint(stream)
        except Exception as exc:  # e.g. the broker refused a write: stop, do not ack
            log.exception("%s: checkpoint failed, stopping the worker: %r", self.name, exc)
            await self.app.crash(exc)

    async def checkpoint(self, stream: Stream[bytes]) -> None:
        started = time.perf_counter()
        self.open_windows()
        await self.flush()
        changelog = self.table.changelog_topic.get_topic_name()
        if self.state_bytes is None:  # once after a rebalance: the table as recovered
            self.state_bytes = sum(len(value) for value in self.table.data.values())
        for key, partition in self.dirty.items():
            rows = self.rows(key, self.states[key])
            # in the store with their partition, so that it drops them with the partition
            self.state_bytes += store_rows(self.table, partition, rows)
            self.outputs.setdefault((changelog, partition), []).extend(rows)
        await self.flush()
        self.dirty.clear()
        self.checkpoint_now = False
        for event in self.pending:
            await stream.ack(event)
        self.pending.clear()
        self._checkpoint_duration.observe(time.perf_counter() - started)
        self._state_bytes.set(self.state_bytes)

    def forget(self) -> None:
        """Drop the live states after a rebalance: the table (recovered from the changelog)
        is the truth for partitions this worker gets."""
        if self.pending:  # Faust waits for them to be acked first (stream_wait_empty)
            raise RuntimeError(f"{self.name}: {len(self.pending)} events in flight, rebalancing")
        self.states.clear()
        self.row_keys = None  # the table is recovered anew
        self.state_bytes = None
        self.last_offsets.clear()  # the next owner may have moved the partitions on

    # -- state ---------------------------------------------------------------------------------

    def live(self, key: bytes, catalog: Catalog) -> LiveStream:
        """The stream's live state: kept, else restored from the table's rows, else new."""
        live = self.states.get(key)
        if live is None:
            data = self.table.data
            book = self._book(key) or new_book(catalog)
            raw = data.get(key + SWITCHES)
            switches = Switches() if raw is None else self._switches_decoder.decode(raw)
            raw = data.get(key + METRICS)
            if raw is None:
                state, counted = windows.new_state(catalog.stream), {}
            else:
                entry = self._entry_decoder.decode(raw)
                state, counted = windows.decode_state(entry.state), entry.offsets
            processor = StreamProcessor(catalog, book)
            live = self.states[key] = LiveStream(processor, switches, state, counted)
        live.processor.catalog = catalog  # the latest, should it have been republished
        return live

    def _book(self, key: bytes) -> StreamBook | None:
        """The stream's book from its rows in the table, reading no other stream's: the table's
        row keys are gathered once per rebalance (the streams live here write only their own
        rows after that), each stream's taken out when it is restored. They are gathered after
        the recovery, which dropped the rows of the partitions revoked (`store_rows`): the
        index holds the keys of this worker's partitions only."""
        data = self.table.data
        head = data.get(key)
        if head is None:
            return None
        if self.row_keys is None:
            self.row_keys = {}
            for row_key in list(data):
                self.row_keys.setdefault(row_key.partition(b"\x00")[0], []).append(row_key)
        rows = BookRows(head, {}, [])
        group = key.partition(b"\x00")[0]  # a stream key holding a NUL shares its group
        for row_key in self.row_keys.pop(group, []):
            if not row_key.startswith(key):
                self.row_keys.setdefault(group, []).append(row_key)  # another stream's
                continue
            kind, name = row_key[len(key) : len(key) + 3], row_key[len(key) + 3 :]
            value = data.get(row_key)
            if value is None:
                continue
            if kind == CUSTOMER:
                rows.customers[name.decode()] = value
            elif kind == LOG:
                rows.log.append((int(name), value))
            elif kind == BLOCK:
                rows.blocks[int(name)] = value
        return restore_book(rows)

    def rows(self, key: bytes, live: LiveStream) -> list[tuple[bytes, bytes | None]]:
        """The table rows a checkpoint writes for a changed stream (None: delete the row). A
        block comes before the deletions of the entry rows it holds: a checkpoint cut short
        leaves an entry twice (`restore_book` takes the block's), never lost."""
        changes = take_changes(live.processor.book)
        rows = [
            (key, changes.head),
            *((key + CUSTOMER + c.encode(), row) for c, row in changes.customers.items()),
            *((key + BLOCK + b"%012d" % n, block) for n, block in changes.blocks.items() if block),
            *((key + LOG + b"%012d" % n, entry) for n, entry in changes.log),
            *((key + LOG + b"%012d" % n, None) for n in changes.dropped),
            *((key + BLOCK + b"%012d" % n, None) for n, b in changes.blocks.items() if b is None),
        ]
        if live.switched:
            rows.append((key + SWITCHES, self._entry.encode(live.switches)))
            live.switched = False
        if live.recounted:
            state = msgspec.Raw(windows.encode_state(live.metrics))
            entry = MetricsEntry(offsets=live.counted, state=state)
            rows.append((key + METRICS, self._entry.encode(entry)))
            live.recounted = False  # (its open windows were sent by open_windows, before)
        return rows

    def changed(self, key: bytes, partition: int) -> None:
        self.dirty[key] = partition
        self.batch_streams[key] = partition

    # -- the records ---------------------------------------------------------------------------

    async def catalog(self, stream: str) -> Catalog | None:
        if stream not in self.batch_catalogs:
            self.batch_catalogs[stream] = await self.catalogs.get(stream)
        return self.batch_catalogs[stream]

    async def handle(self, event: EventT[bytes]) -> None:
        message = event.message
        record = self.read(event, self.allowed.get(message.topic, ()))
        if record is None:
            return
        assert isinstance(
            record, Comment | SetCurrent | Approve | Reject | AdjustStock | ViewerCount
        )
        catalog = await self.catalog(record.stream)
        if catalog is None:
            self.dead_letter(event, "no_catalog", f"no catalog for stream '{record.stream}'")
            return
        key, partition, topic = message.key or b"", message.partition, message.topic
        live = self.live(key, catalog)
        if isinstance(record, SetCurrent):
            if live.switches.switch(topic, message.offset, record.code):
                live.switched = True
                self.changed(key, partition)
            return
        if isinstance(record, ViewerCount):
            if live.counts(topic, message.offset):
                self.count(live, record, key, partition)
                self.changed(key, partition)
            return
        processor = live.processor
        if isinstance(record, Comment):
            processor.current = live.switches.current(topic, message.offset)
            intent = self.config.metrics.observe_parse(processor.parse, record)
            events = processor.resolve(intent)
            applied: Any = intent
        else:
            if not record.action_id:
                position = f"{topic}/{partition}/{message.offset}"
                record = msgspec.structs.replace(record, action_id=position)
            try:
                events = processor.action(record)
            except ActionError as exc:
                self.dead_letter(event, "action_refused", f"host action refused: {exc}")
                return
            applied = record
            self.checkpoint_now = True
        self.changed(key, partition)
        self.send(topics.INTENTS, key, encode(applied), partition)
        for order_event in events:
            self.send(topics.ORDERS, key, encode(order_event), partition)
            self.config.metrics.observe_order_event(order_event)
        if live.counts(topic, message.offset):
            self.count(live, applied, key, partition)
            for order_event in events:
                self.count(live, order_event, key, partition)

    def count(self, live: LiveStream, record: AnyRecord, key: bytes, partition: int) -> None:
        """Add a record to the stream's metric windows, sending those it closed."""
        for snapshot in windows.add(live.metrics, record)[1]:
            self.send(topics.METRICS, key, encode(snapshot), partition)

    def end_batch(self) -> None:
        """Each stream of the batch: its stock levels, if the batch changed them."""
        for key, partition in self.batch_streams.items():
            levels = self.states[key].processor.take_stock()
            if levels is not None:
                self.send(topics.ORDERS, key, encode(levels), partition)
        self.batch_streams.clear()
        self.batch_catalogs.clear()

    def open_windows(self) -> None:
        """Before a checkpoint: the open metric windows of the streams counted since the last."""
        for key, partition in self.dirty.items():
            live = self.states[key]
            if live.recounted:
                # a copy: flushing closes the windows it is given
                copy = windows.decode_state(windows.encode_state(live.metrics))
                for snapshot in windows.flush(copy)[1]:
                    self.send(topics.METRICS, key, encode(snapshot), partition)

    # -- input and output ----------------------------------------------------------------------

    def read(self, event: EventT[bytes], allowed: tuple[str, ...]) -> AnyRecord | None:
        """The event's record, or None after dead-lettering it: undecodable, of a type that
        does not belong on its topic, or keyed by another stream than its own."""
        message = event.message
        try:
            record = decode(message.value or b"")
        except RecordError as exc:
            self.dead_letter(event, "undecodable", f"undecodable record: {exc}")
            return None
        if tag(record) not in allowed:
            self.dead_letter(
                event,
                "wrong_topic",
                f"a '{tag(record)}' record does not belong on topic {message.topic}",
            )
            return None
        stream = record_stream(record)
        if stream is not None and message.key != stream.encode():
            key = (message.key or b"").decode("utf-8", "backslashreplace")
            self.dead_letter(event, "wrong_key", f"keyed '{key}', not by its stream '{stream}'")
            return None
        return record

    def send(self, spec: topics.TopicSpec, key: bytes | None, value: bytes, partition: int) -> None:
        """Queue a record for this batch's produce (`flush`)."""
        self.outputs.setdefault((self.topics[spec.suffix], partition), []).append((key, value))

    async def flush(self, wait: bool = True) -> None:
        """Send the records queued, one produce batch per topic partition (the client's own
        batches, not a call per record). With `wait`, wait until the broker has them and all
        sent before (raises the first failure). Without, first wait for the outputs of the batch
        of events before (raises its failure), then send: the next batch is handled while the
        broker takes this one, and the checkpoint waits for them all.

        A produce batch goes only once the broker has the one before it: one refused or expired
        does not stop the client from sending the partition's next (no idempotence at least
        once), whose events (seq higher) would reach the sinks, which would then drop the
        refused ones, made again after a restart, as seen; and a checkpoint's rows would not
        be a prefix of what it meant to write (`restore_book`)."""
        if not wait:
            await self._sent()
        outputs, self.outputs = self.outputs, {}
        if outputs:
            # Faust's producer sends one record per call; its aiokafka client takes whole batches
            client = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
            out: Counter[str] = Counter()
            for (topic, partition), records in outputs.items():
                batch = client.create_batch()
                for key, value in records:
                    if batch.append(key=key, value=value, timestamp=None) is None:  # full
                        await (await client.send_batch(batch, topic, partition=partition))
                        batch = client.create_batch()
                        batch.append(key=key, value=value, timestamp=None)  # an empty one takes any
                self.sending.append(await client.send_batch(batch, topic, partition=partition))
                out[topic] += len(records)
            for topic, n in out.items():
                self.config.metrics.records_out.labels(topic).inc(n)
        if wait:
            await self._sent()

    async def _sent(self) -> None:
        """Wait for the outputs in flight; a failure stays in `sending`, so no later
        checkpoint acks events whose outputs the broker refused."""
        await asyncio.gather(*self.sending)
        self.sending.clear()

    def dead_letter(self, event: EventT[bytes], kind: str, reason: str) -> None:
        """Send the event to the dead letters saying why; `kind`, one of a few fixed words,
        is the metric's label (the reason names streams and details)."""
        message = event.message
        raw = (message.value or b"").decode("utf-8", "backslashreplace")
        if len(raw) > RAW_LIMIT:
            raw, reason = raw[:RAW_LIMIT], f"{reason} (raw record truncated)"
        letter = DeadLetter(
            source=message.topic,
            reason=reason,
            raw=raw,
            position=f"{message.partition}/{message.offset}",
            ts=time.time(),
        )
        self.send(topics.DEAD_LETTERS, message.key, encode(letter), message.partition)
        self.dead_letters[message.topic] += 1
        self.config.metrics.dead_letter(message.topic, kind)
        log.warning(
            "%s: dead letter #%d from %s %s: %s",
            self.name,
            sum(self.dead_letters.values()),
            message.topic,
            letter.position,
            reason[:200],
        )
