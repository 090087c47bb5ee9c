"""The work of each Faust agent: the same stage code as the embedded mode, around Kafka records.

    comments + actions ─▶ parse ─▶ intents (+ the host's order actions) ─▶ resolve ─▶ orders
    intents + viewers + orders ─▶ metrics ─▶ metrics            (anything unusable ─▶ dead letters)

Every topic has the same partition count and is keyed by stream, and every output goes to the
partition of the input it came from, so one stream lives on one partition number everywhere:
its records, its table rows (the changelogs are partitioned alike) and its outputs.

Delivery: at least once, with idempotent steps. A job handles a batch of events, sends what it
produced and waits for the broker's acks; its state (a table row per stream) is written to the
table's changelog at a checkpoint (at most every `checkpoint_s`, or when a rebalance starts) and
only once that write is acknowledged are the batch's input events acked, which is what lets
Faust commit their offsets. So the outputs are durable before the state, and the state before
the offsets. After a crash the inputs since the last commit come again, and the recovered state
may already include some of them; each job recognises those: the order book by comment and
action id, the parse state by the position of each product switch, the metrics by the offsets
they counted. The resolver's input is one log per stream (intents and the host's order actions,
sequenced by the parse job), so a replay gives the same events with the same `seq`: consumers
drop events whose `seq` they have seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

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
    Intent,
    OrderEvent,
    RecordError,
    Reject,
    SetCurrent,
    ViewerCount,
    decode,
    encode,
    record_stream,
)
from parsers import Parser, parse_failed

from . import metrics as windows
from .actions import ActionError
from .book_rows import restore_book, take_changes
from .faust_catalogs import CatalogReader
from .order_book import StreamBook, new_book
from .processor import StreamProcessor
from .stages import parse_comment

log = logging.getLogger(__name__)

RAW_LIMIT = 10_000  # characters of a dead letter's raw record kept
SWITCHES_KEPT = 16  # product switches a parse state remembers (see ParseState)
CUSTOMER, LOG = b"\x00c\x00", b"\x00l\x00"  # key suffixes of a book's rows (ResolveJob)

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class JobConfig:
    prefix: str
    batch_size: int = 500
    batch_within: float = 0.05  # seconds a batch waits to fill
    checkpoint_s: float = 1.0  # state written at most this often per job (0: every batch)
    metrics: WorkerMetrics = field(default_factory=WorkerMetrics)

    def topic(self, spec: topics.TopicSpec) -> str:
        return spec.name(self.prefix)


def tag(record: msgspec.Struct) -> str:
    return str(type(record).__struct_config__.tag)


class Job(Generic[S]):
    """One agent's loop: batches in, outputs out, state checkpointed, then inputs acked."""

    name = "job"

    def __init__(self, app: AppT, config: JobConfig, table: TableT[bytes, bytes]) -> None:
        self.app = app
        self.config = config
        self.table = table
        self.states: dict[bytes, S] = {}  # live state by table key; the table has the last
        self.dirty: dict[bytes, int] = {}  # key -> partition: state changed since checkpoint
        self.pending: list[EventT[bytes]] = []  # handled, not yet acked
        self.pending_since = 0.0
        self.sent: list[Awaitable[Any]] = []
        self.dead_letters: Counter[str] = Counter()
        self.lock = asyncio.Lock()
        self.last_offsets: dict[TP, int] = {}  # since the last rebalance
        self.state_sizes: dict[bytes, int] = {}  # bytes of each table row last written
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
            async for batch in stream.noack_take(cfg.batch_size, within=cfg.batch_within):
                # noack_take yields the events, for this loop to ack them after the checkpoint
                events = cast(Sequence[EventT[bytes]], batch)
                async with self.lock:
                    started = time.perf_counter()
                    self._check_contiguous(events)
                    for event in events:
                        await self.handle(event)
                    await self.end_batch()
                    await self.wait_sent()
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
        return bool(self.pending) and (age >= self.config.checkpoint_s or self.app.rebalancing)

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
        await self.before_checkpoint()
        await self.wait_sent()
        changelog = self.table.changelog_topic.get_topic_name()
        producer = self.app.producer
        written = []
        for key, partition in self.dirty.items():
            for row_key, value in self.rows(key, self.states[key]):
                if value is None:
                    self.table.data.pop(row_key, None)
                    self.state_sizes.pop(row_key, None)
                else:
                    self.table.data[row_key] = value
                    self.state_sizes[row_key] = len(value)
                sent = await producer.send(changelog, row_key, value, partition, None, None)
                written.append(sent)
        await asyncio.gather(*written)
        self.dirty.clear()
        for event in self.pending:
            await stream.ack(event)
        self.pending.clear()
        self._checkpoint_duration.observe(time.perf_counter() - started)
        self._state_bytes.set(sum(self.state_sizes.values()))

    def forget(self) -> None:
        """Drop the live states after a rebalance: the table (recovered from the changelog)
        is the truth for partitions this worker gets."""
        if self.pending:  # Faust waits for them to be acked first (stream_wait_empty)
            raise RuntimeError(f"{self.name}: {len(self.pending)} events in flight, rebalancing")
        self.states.clear()
        self.state_sizes.clear()
        self.last_offsets.clear()  # the next owner may have moved the partitions on

    # -- state ---------------------------------------------------------------------------------

    def state(self, key: bytes) -> S | None:
        state = self.states.get(key)
        if state is None:
            state = self.load(key)
            if state is not None:
                self.states[key] = state
        return state

    def changed(self, key: bytes, partition: int, state: S) -> None:
        self.states[key] = state
        self.dirty[key] = partition

    # -- output --------------------------------------------------------------------------------

    async def send(
        self, spec: topics.TopicSpec, key: bytes | None, value: bytes, partition: int
    ) -> None:
        producer = self.app.producer
        topic = self.config.topic(spec)
        self.sent.append(await producer.send(topic, key, value, partition, None, None))
        self.config.metrics.records_out.labels(topic).inc()

    async def wait_sent(self) -> None:
        """Wait until the broker has every output sent so far (raises the first failure)."""
        sent, self.sent = self.sent, []
        await asyncio.gather(*sent)

    async def dead_letter(self, event: EventT[bytes], kind: str, reason: str) -> None:
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
        await self.send(topics.DEAD_LETTERS, message.key, encode(letter), message.partition)
        self.dead_letters[message.topic] += 1
        self.config.metrics.dead_letters.labels(message.topic, kind).inc()
        log.warning(
            "%s: dead letter #%d from %s %s: %s",
            self.name,
            sum(self.dead_letters.values()),
            message.topic,
            letter.position,
            reason[:200],
        )

    async def read(self, event: EventT[bytes], allowed: tuple[str, ...]) -> AnyRecord | None:
        """The event's record, or None after dead-lettering it: undecodable, of a type that
        does not belong on its topic, or keyed by another stream than its own."""
        message = event.message
        try:
            record = decode(message.value or b"")
        except RecordError as exc:
            await self.dead_letter(event, "undecodable", f"undecodable record: {exc}")
            return None
        if tag(record) not in allowed:
            await self.dead_letter(
                event,
                "wrong_topic",
                f"a '{tag(record)}' record does not belong on topic {message.topic}",
            )
            return None
        stream = record_stream(record)
        if stream is not None and message.key != stream.encode():
            key = (message.key or b"").decode("utf-8", "backslashreplace")
            await self.dead_letter(
                event, "wrong_key", f"keyed '{key}', not by its stream '{stream}'"
            )
            return None
        return record

    # -- what each job does --------------------------------------------------------------------

    async def handle(self, event: EventT[bytes]) -> None:
        raise NotImplementedError

    async def end_batch(self) -> None:
        """After the batch's events were handled, before its outputs are awaited."""

    async def before_checkpoint(self) -> None:
        """Before the dirty states are written."""

    def rows(self, key: bytes, state: S) -> list[tuple[bytes, bytes | None]]:
        """The table rows a checkpoint writes for a changed state (None: delete the row)."""
        return [(key, self.encode(state))]

    def load(self, key: bytes) -> S | None:
        """The state the table holds for `key`, if any."""
        raw = self.table.data.get(key)
        return None if raw is None else self.decode(raw)

    def encode(self, state: S) -> bytes:
        raise NotImplementedError

    def decode(self, raw: bytes) -> S:
        raise NotImplementedError


# -- parse ----------------------------------------------------------------------------------------


class ParseState(msgspec.Struct):
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


class ParseJob(Job[ParseState]):
    """Comments (with the source's product switches) and host actions -> intents.

    Host actions for the order book are forwarded to the intents topic, so that the resolver
    reads one log per stream and a replay applies everything in the same order. An action
    without an id gets one from its position, applied once however often it is replayed."""

    name = "parse"
    _encoder = msgspec.json.Encoder()
    _decoder = msgspec.json.Decoder(ParseState)

    def __init__(
        self, app: AppT, config: JobConfig, table: TableT[bytes, bytes], catalogs: CatalogReader
    ) -> None:
        super().__init__(app, config, table)
        self.catalogs = catalogs
        self.parsers: dict[str, tuple[Catalog, Parser]] = {}
        self.allowed = {
            config.topic(topics.COMMENTS): topics.COMMENTS.records,
            config.topic(topics.ACTIONS): topics.ACTIONS.records,
        }

    def encode(self, state: ParseState) -> bytes:
        return self._encoder.encode(state)

    def decode(self, raw: bytes) -> ParseState:
        return self._decoder.decode(raw)

    async def handle(self, event: EventT[bytes]) -> None:
        message = event.message
        record = await self.read(event, self.allowed.get(message.topic, ()))
        if record is None:
            return
        key, partition = message.key or b"", message.partition
        state = self.state(key) or ParseState()
        if isinstance(record, Comment):
            parser = await self.parser(record.stream)
            if parser is None:
                await self.dead_letter(
                    event, "no_catalog", f"no catalog for stream '{record.stream}'"
                )
                return
            current = state.current(message.topic, message.offset)
            started = time.perf_counter()
            intent = parse_comment(parser, record, current)
            metrics = self.config.metrics
            metrics.observe_comment(record.stream)
            took = time.perf_counter() - started
            metrics.observe_intent(record.stream, intent.intent, took, failed=parse_failed(intent))
            await self.send(topics.INTENTS, key, encode(intent), partition)
        elif isinstance(record, SetCurrent):
            if state.switch(message.topic, message.offset, record.code):
                self.changed(key, partition, state)
        elif isinstance(record, Approve | Reject | AdjustStock):
            if not record.action_id:
                position = f"{message.topic}/{partition}/{message.offset}"
                record = msgspec.structs.replace(record, action_id=position)
            await self.send(topics.INTENTS, key, encode(record), partition)

    async def parser(self, stream: str) -> Parser | None:
        catalog = await self.catalogs.get(stream)
        if catalog is None:
            return None
        cached = self.parsers.get(stream)
        if cached is None or cached[0] is not catalog:  # new, or the catalog was republished
            cached = self.parsers[stream] = (catalog, Parser(catalog))
        return cached[1]


# -- resolve --------------------------------------------------------------------------------------


class ResolveJob(Job[StreamBook]):
    """Intents and host actions -> order events, and each changed stream's stock levels after
    every batch. The book of each stream is rows of the table (`book_rows`): its head under the
    stream's key, and under that key plus a suffix a row per customer and per log entry, so a
    checkpoint writes what changed since the last one."""

    name = "resolve"
    # the intents topic also carries the host's order actions, sequenced there by the parse job
    accepts = ("intent", "approve", "reject", "stock")

    def __init__(
        self, app: AppT, config: JobConfig, table: TableT[bytes, bytes], catalogs: CatalogReader
    ) -> None:
        super().__init__(app, config, table)
        self.catalogs = catalogs
        self.processors: dict[bytes, StreamProcessor] = {}  # around the live books
        self.partitions: dict[bytes, int] = {}  # key -> partition: streams in this batch

    def rows(self, key: bytes, state: StreamBook) -> list[tuple[bytes, bytes | None]]:
        changes = take_changes(state)
        return [
            (key, changes.head),
            *((key + CUSTOMER + c.encode(), row) for c, row in changes.customers.items()),
            *((key + LOG + b"%012d" % n, entry) for n, entry in changes.log),
            *((key + LOG + b"%012d" % n, None) for n in changes.dropped),
        ]

    def load(self, key: bytes) -> StreamBook | None:
        head = self.table.data.get(key)
        if head is None:
            return None
        rows = BookRows(head, {}, [])
        for row_key, value in list(self.table.data.items()):
            if row_key.startswith(key + CUSTOMER):
                rows.customers[row_key[len(key) + len(CUSTOMER) :].decode()] = value
            elif row_key.startswith(key + LOG):
                rows.log.append((int(row_key[len(key) + len(LOG) :]), value))
        return restore_book(rows)

    async def handle(self, event: EventT[bytes]) -> None:
        record = await self.read(event, self.accepts)
        if record is None:
            return
        stream = record_stream(record)
        if stream is None:
            await self.dead_letter(event, "no_comment", "an intent without its comment")
            return
        catalog = await self.catalogs.get(stream)
        if catalog is None:
            await self.dead_letter(event, "no_catalog", f"no catalog for stream '{stream}'")
            return
        key, partition = event.message.key or b"", event.message.partition
        processor = self.processor(key, catalog)
        try:
            if isinstance(record, Intent):
                events = processor.resolve(record)
            else:
                assert isinstance(record, Approve | Reject | AdjustStock)
                events = processor.action(record)
        except ActionError as exc:
            await self.dead_letter(event, "action_refused", f"host action refused: {exc}")
            return
        self.changed(key, partition, processor.book)
        self.partitions[key] = partition
        for order_event in events:
            await self.send(topics.ORDERS, key, encode(order_event), partition)
            self.config.metrics.observe_order_event(order_event)

    def processor(self, key: bytes, catalog: Catalog) -> StreamProcessor:
        processor = self.processors.get(key)
        if processor is None:
            book = self.state(key) or new_book(catalog)
            processor = self.processors[key] = StreamProcessor(catalog, book)
        processor.catalog = catalog  # the latest, should it have been republished
        return processor

    async def end_batch(self) -> None:
        for key, partition in self.partitions.items():
            levels = self.processors[key].take_stock()
            if levels is not None:
                await self.send(topics.ORDERS, key, encode(levels), partition)
        self.partitions.clear()

    def forget(self) -> None:
        super().forget()
        self.processors.clear()


# -- metrics --------------------------------------------------------------------------------------


class MetricsEntry(msgspec.Struct):
    """A stream's metrics and, per input topic, the offset of the last record counted: a replay
    after a crash skips what the state already counted (counting is not idempotent)."""

    offsets: dict[str, int]
    state: msgspec.Raw  # metrics.encode_state


@dataclass
class LiveMetrics:
    state: windows.MetricsState
    offsets: dict[str, int]


class MetricsJob(Job[LiveMetrics]):
    """Intents (with their comments), viewer counts and order events -> tumbling-window
    snapshots: each window when it closes, and its open windows as they stand at each
    checkpoint (a consumer keeps the latest snapshot per stream, size and start)."""

    name = "metrics"
    _encoder = msgspec.json.Encoder()
    _decoder = msgspec.json.Decoder(MetricsEntry)

    def __init__(self, app: AppT, config: JobConfig, table: TableT[bytes, bytes]) -> None:
        super().__init__(app, config, table)
        # what is wrong on the intents topic is the resolver's to dead-letter
        self.allowed = {
            config.topic(topics.VIEWERS): topics.VIEWERS.records,
            config.topic(topics.ORDERS): topics.ORDERS.records,
        }
        self.open_changed: dict[bytes, int] = {}  # key -> partition, since the checkpoint

    def encode(self, state: LiveMetrics) -> bytes:
        raw = msgspec.Raw(windows.encode_state(state.state))
        return self._encoder.encode(MetricsEntry(offsets=state.offsets, state=raw))

    def decode(self, raw: bytes) -> LiveMetrics:
        entry = self._decoder.decode(raw)
        return LiveMetrics(windows.decode_state(entry.state), entry.offsets)

    async def handle(self, event: EventT[bytes]) -> None:
        message = event.message
        record: AnyRecord | None
        if message.topic in self.allowed:
            record = await self.read(event, self.allowed[message.topic])
        else:
            try:
                record = decode(message.value or b"")
            except RecordError:
                return
        if not isinstance(record, Intent | ViewerCount | OrderEvent):
            return
        stream = record_stream(record)
        if stream is None or message.key != stream.encode():
            return
        key, partition = message.key or b"", message.partition
        live = self.state(key) or LiveMetrics(windows.new_state(stream), {})
        if message.offset <= live.offsets.get(message.topic, -1):
            return  # counted before the crash this replay recovers from
        live.offsets[message.topic] = message.offset
        _, closed = windows.add(live.state, record)
        for snapshot in closed:
            await self.send(topics.METRICS, key, encode(snapshot), partition)
        self.changed(key, partition, live)
        self.open_changed[key] = partition

    async def before_checkpoint(self) -> None:
        for key, partition in self.open_changed.items():
            # a copy: flushing closes the windows it is given
            copy = windows.decode_state(windows.encode_state(self.states[key].state))
            for snapshot in windows.flush(copy)[1]:
                await self.send(topics.METRICS, key, encode(snapshot), partition)
        self.open_changed.clear()
