"""`chotdon sink redis`: the Kafka topics the feed needs, stored in Redis (see redis_store).

At least once: a batch's offsets are committed only after Redis took the whole batch (the commit
runs while the next batch is fetched and written), and every write is idempotent, so a batch
re-delivered after a crash or a rebalance changes nothing.

Redis is a view of Kafka: losing it loses nothing. With every batch (and every CHECK_S while idle)
the sink checks that Redis still holds each of its partitions as far as the sink applied it (see
redis_store); a Redis restarted empty, or a replica promoted while behind, is brought back by
reading those partitions again from the offset Redis still holds (or from the start). A record
that cannot be decoded is counted, logged (phones masked) and skipped: the worker dead-letters its
own inputs, and one bad record must not stop every stream's feed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import CommitFailedError, KafkaError  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from chotdon import topics
from chotdon.collector import young_generation
from chotdon.config import add_flags, add_metrics_flag
from chotdon.kafka_admin import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES
from chotdon.log_limits import limit_client_logs
from chotdon.phones import mask_phones_in
from chotdon.prometheus import SinkMetrics
from chotdon.records import (
    AdjustStock,
    AnyRecord,
    Approve,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    RecordError,
    Reject,
    SetCurrent,
    StockLevels,
    ViewerCount,
    decode,
)
from chotdon.stop_signals import install_stop_signals

from .redis_store import Entry, RedisStore, Span, WriteResult, parse_catalog_record

Log = Callable[[str], None]

# Read in this order within a batch: a stream's catalog before its records (the feed builds the
# view from it), and intents before order events (a review item shows its comment's text).
TOPICS = (
    topics.CATALOG,
    topics.COMMENTS,
    topics.ACTIONS,
    topics.VIEWERS,
    topics.INTENTS,
    topics.ORDERS,
    topics.METRICS,
)
ACCEPTS: dict[str, tuple[type[AnyRecord], ...]] = {
    topics.COMMENTS.suffix: (SetCurrent,),
    topics.ACTIONS.suffix: (SetCurrent,),
    topics.VIEWERS.suffix: (ViewerCount,),
    topics.INTENTS.suffix: (Intent, Approve, Reject, AdjustStock),  # the worker sequences both
    topics.ORDERS.suffix: (OrderEvent, StockLevels),
    topics.METRICS.suffix: (MetricsSnapshot,),
}
# Of the comments and the host's actions only SetCurrent is kept: skip the rest undecoded (a
# record holding these bytes is decoded and checked like any other).
ONLY_SET_CURRENT = (topics.COMMENTS.suffix, topics.ACTIONS.suffix)
SET_CURRENT_TAG = b'"set_current"'

MAX_RECORDS = 2000  # per batch: one Redis round trip, one commit
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between attempts while Redis is unreachable
PROGRESS_S = 10.0
PROBE_S = 5.0  # how often the sink checks that Kafka and Redis answer (its up gauges)
CHECK_S = 1.0  # while no records come: how often Redis is checked for lost data

Batch = dict[TopicPartition, list[ConsumerRecord]]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class SinkStats:
    records: int = 0  # read from Kafka
    written: int = 0  # changed Redis
    duplicates: int = 0  # already in Redis (re-delivered or older): nothing changed
    skipped: int = 0  # records of the topics the sink keeps nothing of (comments, …)
    bad: int = 0  # undecodable or refused by Redis
    batches: int = 0
    rebuilds: int = 0  # times Redis had lost data and partitions were read again
    started: float = field(default_factory=time.monotonic)

    def line(self) -> str:
        return (
            f"sink redis: {self.records} bản ghi (records) · {self.written} ghi (written) · "
            f"{self.duplicates} trùng (duplicates) · {self.bad} lỗi (bad) · "
            f"{self.batches} lô (batches) · {self.rebuilds} dựng lại (rebuilds)"
        )


@dataclass
class SinkOptions:
    kafka: str
    redis: str
    prefix: str
    group: str = ""  # default: "<prefix>-sink-redis"
    max_records: int = MAX_RECORDS
    metrics: tuple[str, int] | None = None  # where to serve Prometheus /metrics

    @property
    def group_id(self) -> str:
        return self.group or f"{self.prefix}-sink-redis"


class RedisSink:
    def __init__(
        self, options: SinkOptions, log: Log = _stderr, metrics: SinkMetrics | None = None
    ) -> None:
        self.options = options
        self.log = log
        self.stats = SinkStats()
        self.metrics = metrics or SinkMetrics()
        self._suffix = {spec.name(options.prefix): spec.suffix for spec in TOPICS}
        self._rank = {spec.name(options.prefix): i for i, spec in enumerate(TOPICS)}
        # per assigned partition: the offset Redis holds it up to (as this sink left it), and the
        # first offset Kafka still has of it
        self._held: dict[TopicPartition, int] = {}
        self._floor: dict[TopicPartition, int] = {}

    async def run(self, stop: asyncio.Event) -> SinkStats:
        """Consume and store until `stop` is set; what was written by then is committed."""
        redis = Redis.from_url(self.options.redis)
        store = RedisStore(redis, self.options.prefix)
        consumer = AIOKafkaConsumer(
            *self._suffix,
            bootstrap_servers=self.options.kafka,
            group_id=self.options.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # a worker's aborted transaction never shows
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,  # not 500 ms a hop (see kafka_admin)
            fetch_min_bytes=FETCH_MIN_BYTES,  # nor a fetch every few records
        )
        await consumer.start()
        progress = asyncio.create_task(self._progress())
        probe = asyncio.create_task(self._probe(consumer, redis))
        committing: asyncio.Task[None] | None = None  # the last batch's commit, under way
        checked = time.monotonic()
        try:
            while not stop.is_set():
                await self._track(consumer)
                batch = await consumer.getmany(timeout_ms=200, max_records=self.options.max_records)
                if not batch and time.monotonic() - checked < CHECK_S:
                    continue
                checked = time.monotonic()
                spans = self._spans(consumer, batch)
                result = await self._write(store, list(self._entries(batch)), spans, stop)
                if result is None:
                    break  # stopped while Redis was away: the batch is re-delivered next time
                if result.behind:
                    await self._rebuild(consumer, spans, result.behind)
                    continue
                if not batch:
                    continue  # only checked
                self._held.update((tp, spans[tp.topic, tp.partition].end) for tp in batch)
                # the commit goes on while the next batch is fetched and written; commits stay
                # in order, one at a time
                if committing is not None:
                    await committing
                committing = asyncio.create_task(self._commit(consumer, batch))
                self._observe_lag(consumer, batch)
        finally:
            progress.cancel()
            probe.cancel()
            if committing is not None:
                await committing
            await consumer.stop()
            await redis.aclose()
            self.log(self.stats.line())
        return self.stats

    async def _track(self, consumer: AIOKafkaConsumer) -> None:
        """Follow the assignment: a partition newly assigned is held up to where it starts, and
        Kafka has it from its first retained offset."""
        assigned: set[TopicPartition] = consumer.assignment()
        for gone in set(self._held) - assigned:
            del self._held[gone]
        for gone in set(self._floor) - assigned:
            del self._floor[gone]
        new = sorted(assigned - set(self._floor))
        if not new:
            return
        try:
            floors = await consumer.beginning_offsets(new)
            for tp in new:
                if tp not in self._held:
                    self._held[tp] = await consumer.position(tp)
        except KafkaError as exc:  # the assignment moved again, or the broker is away: next time
            self.log(f"sink redis: chưa đọc được vị trí (positions unknown yet): {exc}")
            return
        self._floor.update(floors)

    def _spans(self, consumer: AIOKafkaConsumer, batch: Batch) -> dict[tuple[str, int], Span]:
        """Every assigned partition's span: the batch's (from where this sink left it or, for a
        batch re-delivered, its first record), or an empty one to check."""
        assigned: set[TopicPartition] = consumer.assignment()
        spans = {
            (tp.topic, tp.partition): Span(held, held, self._floor.get(tp, 0))
            for tp, held in self._held.items()
            if tp in assigned
        }
        for tp, messages in batch.items():
            first, end = messages[0].offset, messages[-1].offset + 1
            held = self._held.get(tp, first)
            spans[tp.topic, tp.partition] = Span(min(held, first), end, self._floor.get(tp, 0))
        return spans

    async def _rebuild(
        self,
        consumer: AIOKafkaConsumer,
        spans: dict[tuple[str, int], Span],
        behind: dict[tuple[str, int], int | None],
    ) -> None:
        """Redis lost data: read the partitions it lacks again from where it holds them (the
        start when it holds nothing), and this batch's others again from the batch's start."""
        self.stats.rebuilds += 1
        self.metrics.rebuilds.inc()
        assigned: set[TopicPartition] = consumer.assignment()  # may have moved meanwhile
        lost = [TopicPartition(t, p) for t, p in sorted(behind) if TopicPartition(t, p) in assigned]
        # if Kafka cannot say now, the floors known so far do: it resets a seek below its own
        with contextlib.suppress(KafkaError):
            self._floor.update(await consumer.beginning_offsets(lost))
        for tp in lost:
            held = behind[tp.topic, tp.partition]
            self._held[tp] = max(held or 0, self._floor.get(tp, 0))
            consumer.seek(tp, self._held[tp])
        for (topic, partition), span in spans.items():
            tp = TopicPartition(topic, partition)
            if (topic, partition) not in behind and tp in assigned:
                consumer.seek(tp, span.start)
        shown = ", ".join(
            f"{self._suffix[tp.topic]}[{tp.partition}] "
            f"{_or_dash(behind[tp.topic, tp.partition])}/{spans[tp.topic, tp.partition].start}"
            for tp in lost
        )
        self.log(
            "sink redis: Redis mất dữ liệu (lost data), dựng lại từ Kafka (rebuilding from "
            f"Kafka), có/cần (holds/needs): {shown}"
        )

    def _entries(self, batch: Batch) -> Iterable[Entry]:
        for tp in sorted(batch, key=lambda tp: (self._rank[tp.topic], tp.partition)):
            suffix = self._suffix[tp.topic]
            for message in batch[tp]:
                self.stats.records += 1
                entry = self._entry(suffix, message)
                if entry is not None:
                    yield entry

    def _entry(self, suffix: str, message: ConsumerRecord) -> Entry | None:
        value: bytes | None = message.value
        partition: int = message.partition
        offset: int = message.offset
        if value is None:  # a tombstone (the compacted catalog topic)
            self.stats.skipped += 1
            return None
        if suffix in ONLY_SET_CURRENT and SET_CURRENT_TAG not in value:
            self.stats.skipped += 1
            return None
        try:
            if suffix == topics.CATALOG.suffix:
                return Entry(parse_catalog_record(value), partition, offset)
            record = decode(value)
        except (RecordError, ValueError) as exc:
            self._bad(suffix, partition, offset, "undecodable", str(exc), value)
            return None
        if not isinstance(record, ACCEPTS[suffix]):
            if suffix in ONLY_SET_CURRENT:  # a comment naming "set_current" in its text
                self.stats.skipped += 1
            else:
                unexpected = f"unexpected {record.__class__.__name__}"
                self._bad(suffix, partition, offset, "wrong_topic", unexpected, value)
            return None
        return Entry(record, partition, offset, from_host=suffix == topics.ACTIONS.suffix)

    def _bad(
        self, suffix: str, partition: int, offset: int, kind: str, reason: str, raw: bytes
    ) -> None:
        self.stats.bad += 1
        self.metrics.dead_letter(suffix, kind)
        shown = mask_phones_in(raw[:300].decode("utf-8", "replace"))
        self.log(
            f"sink redis: bỏ qua bản ghi (skipped record) {suffix}[{partition}]@{offset}: "
            f"{mask_phones_in(reason)} — {shown}"
        )

    async def _write(
        self,
        store: RedisStore,
        entries: list[Entry],
        spans: dict[tuple[str, int], Span],
        stop: asyncio.Event,
    ) -> WriteResult | None:
        """Write the batch, retrying while Redis is unreachable; None if stopped meanwhile."""
        attempt = 0
        while True:
            try:
                result = await store.write(entries, spans)
                break
            except (RedisConnectionError, RedisTimeoutError, WatchError, OSError) as exc:
                self.metrics.redis_up.set(0)
                wait = RETRY_S[min(attempt, len(RETRY_S) - 1)]
                attempt += 1
                self.log(f"sink redis: Redis không trả lời (unreachable): {exc}; thử lại {wait}s")
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                    return None
                except TimeoutError:
                    continue
        if result.behind or not entries:
            return result
        self.stats.batches += 1
        self.stats.written += result.written
        self.stats.duplicates += result.duplicates
        self._observe(result)
        self.stats.skipped += result.ignored
        for entry, reason in result.refused:
            self.stats.bad += 1
            self.metrics.dead_letter("redis", "refused")
            self.log(
                f"sink redis: Redis từ chối (refused) {entry.record.__class__.__name__} "
                f"@{entry.partition}/{entry.offset}: {reason}"
            )
        return result

    def _observe(self, result: WriteResult) -> None:
        metrics = self.metrics
        metrics.redis_up.set(1)
        now = time.time()
        for entry in result.applied:
            metrics.applied_by(type(entry.record).__name__).inc()
            if isinstance(entry.record, OrderEvent):
                metrics.observe_visible(entry.record, now)  # the feed shows it on notify
        for entry in result.repeated:
            metrics.duplicates_by(type(entry.record).__name__).inc()

    def _observe_lag(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        for tp, messages in batch.items():
            end = consumer.highwater(tp)  # the offset the next record will get
            if end is not None:
                behind = max(0, end - messages[-1].offset - 1)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(behind)

    async def _commit(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # the partitions moved to another sink (a rebalance): it re-delivers them, and
            # writing them again changes nothing
            self.log(f"sink redis: chưa commit được (commit failed): {exc}")

    async def _probe(self, consumer: AIOKafkaConsumer, redis: Redis) -> None:
        """Keep the up gauges true while no records come: ask Kafka for its metadata and
        ping Redis every PROBE_S."""
        while True:
            for gauge, ask in (
                (self.metrics.kafka_up, consumer.topics),
                (self.metrics.redis_up, redis.ping),
            ):
                try:
                    await asyncio.wait_for(ask(), PROBE_S)
                    gauge.set(1)
                except (KafkaError, RedisConnectionError, RedisTimeoutError, OSError, TimeoutError):
                    gauge.set(0)
            await asyncio.sleep(PROBE_S)

    async def _progress(self) -> None:
        last = ""
        while True:
            await asyncio.sleep(PROGRESS_S)
            line = self.stats.line()
            if line != last:
                self.log(line)
                last = line


def _or_dash(offset: int | None) -> str:
    return "-" if offset is None else str(offset)


async def run_sink(options: SinkOptions) -> SinkStats:
    """Run until SIGTERM or SIGINT, then commit what was written and stop."""
    stop = asyncio.Event()
    install_stop_signals(stop)
    metrics = SinkMetrics()
    metrics.serve(options.metrics)
    with young_generation():
        gc.freeze()  # the modules and clients it starts with, out of the collections
        return await RedisSink(options, metrics=metrics).run(stop)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_flags(p, "kafka", "redis", "topic_prefix")
    p.add_argument("--group", default="", help="consumer group (default: <prefix>-sink-redis)")
    add_metrics_flag(p)


def cmd_sink_redis(args: argparse.Namespace) -> int:
    """`chotdon sink redis` from parsed `add_arguments` flags."""
    options = SinkOptions(
        kafka=args.bootstrap,
        redis=args.redis,
        prefix=args.topic_prefix,
        group=args.group,
        metrics=args.metrics,
    )
    _stderr(f"sink redis: {options.kafka} → {options.redis} (group {options.group_id})")
    limit_client_logs()
    asyncio.run(run_sink(options))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sinks.redis_sink`: the same as `chotdon sink redis`."""
    p = argparse.ArgumentParser(prog="python -m sinks.redis_sink", description=__doc__)
    add_arguments(p)
    return cmd_sink_redis(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
