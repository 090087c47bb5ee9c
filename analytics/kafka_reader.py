"""A stream's session from the distributed mode's Kafka topics, read without disturbing them.

The topics are read from the beginning up to the end offsets taken when reading starts (records
produced meanwhile wait for the next export), with no consumer group: nothing is committed, and
the pipeline's own consumers never notice. Every topic is keyed by stream id, so a stream's
records keep their order; the records of other streams are skipped. Delivery is at least once,
so repeats are dropped the way the SQLite store drops them (by comment id, by event seq).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

from chotdon import topics
from chotdon.catalog import Catalog
from chotdon.kafka_admin import bootstrap_servers, partition_counts
from chotdon.records import (
    AdjustStock,
    Approve,
    Comment,
    HostAction,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    RecordError,
    Reject,
    SetCurrent,
    ViewerCount,
    decode,
)

from .session import Session, SourceError

STALL_S = 30.0  # no record for this long while short of the end offsets: give up, say so
REPLAY_TOPICS = (topics.COMMENTS, topics.VIEWERS, topics.ACTIONS, topics.CATALOG)
ALL_TOPICS = (*REPLAY_TOPICS, topics.INTENTS, topics.ORDERS, topics.METRICS)

HOST_ACTIONS = (SetCurrent, Approve, Reject, AdjustStock)

Progress = Callable[[int, int], None]  # (records read since the last call, total to read)
Log = Callable[[str], None]


async def read_topics(
    bootstrap: str,
    names: Sequence[str],
    key: bytes,
    progress: Progress | None = None,
    required: Sequence[str] = (),
) -> dict[str, list[bytes]]:
    """The values of the records keyed `key` in each topic (offset order), up to the end offsets
    of when this started. A topic that does not exist reads as empty, unless `required`."""
    found: dict[str, list[bytes]] = {name: [] for name in names}
    try:
        counts = await _partition_counts(bootstrap, names)
        missing = [name for name in required if name not in counts]
        if missing:
            raise SourceError(f"no topic {', '.join(missing)} at {bootstrap} (wrong prefix?)")
        parts = [TopicPartition(name, p) for name, n in counts.items() for p in range(n)]
        if parts:
            await _consume(bootstrap, parts, key, found, progress or (lambda _r, _t: None))
    except (KafkaError, OSError) as exc:
        raise SourceError(f"cannot read Kafka at {bootstrap}: {exc}") from exc
    return found


async def _partition_counts(bootstrap: str, names: Sequence[str]) -> dict[str, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(bootstrap))
    await admin.start()
    try:
        return await partition_counts(admin, names)
    finally:
        await admin.close()


async def _consume(
    bootstrap: str,
    parts: list[Any],
    key: bytes,
    found: dict[str, list[bytes]],
    progress: Progress,
) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",  # what a transactional worker committed, no more
        # `assign` starts a position reset of its own: "latest" could land after our seek and
        # silently skip every record
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        begin = await consumer.beginning_offsets(parts)
        end = await consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, begin[tp])
        pending = {tp for tp in parts if end[tp] > begin[tp]}
        total = sum(end[tp] - begin[tp] for tp in pending)
        last_record = time.monotonic()
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            read = 0
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset < end[tp]:
                        read += 1
                        if m.key == key and m.value is not None:
                            found[tp.topic].append(m.value)
            for tp in list(pending):
                if await consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
            if read:
                last_record = time.monotonic()
                progress(read, total)
            elif time.monotonic() - last_record > STALL_S:
                short = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(pending))
                raise SourceError(f"no record for {STALL_S:.0f} s before the end of {short}")
    finally:
        await consumer.stop()


async def load_kafka(
    bootstrap: str,
    prefix: str,
    stream: str,
    *,
    everything: bool = True,
    progress: Progress | None = None,
    log: Log | None = None,
) -> Session:
    """The stream's session from the topics of `prefix`; with `everything` False only what a
    replay needs (comments, viewers, the host's actions, the catalog)."""
    specs = ALL_TOPICS if everything else REPLAY_TOPICS
    values = await read_topics(
        bootstrap,
        [spec.name(prefix) for spec in specs],
        stream.encode(),
        progress,
        required=[topics.COMMENTS.name(prefix)],
    )
    say = log or (lambda _msg: None)
    bad = 0

    def records(spec: topics.TopicSpec) -> list[Any]:
        nonlocal bad
        out = []
        for value in values.get(spec.name(prefix), []):
            try:
                out.append(decode(value))
            except RecordError:
                bad += 1
        return out

    session = Session(stream=stream)
    seen: set[tuple[str, bool]] = set()
    switches: list[HostAction] = []
    for record in records(topics.COMMENTS):
        if isinstance(record, Comment) and (record.comment_id, record.deleted) not in seen:
            seen.add((record.comment_id, record.deleted))
            session.comments.append(record)
        elif isinstance(record, SetCurrent):
            switches.append(record)
    host = [
        r
        for r in records(topics.ACTIONS)
        if isinstance(r, SetCurrent | Approve | Reject | AdjustStock)
    ]
    session.actions = list(heapq.merge(switches, host, key=lambda a: a.ts))
    session.viewers = [r for r in records(topics.VIEWERS) if isinstance(r, ViewerCount)]
    intents = {
        r.comment.comment_id: r
        for r in records(topics.INTENTS)
        if isinstance(r, Intent) and r.comment is not None
    }
    session.intents = sorted(intents.values(), key=lambda i: i.comment.ts if i.comment else 0.0)
    events = {r.seq: r for r in reversed(records(topics.ORDERS)) if isinstance(r, OrderEvent)}
    session.order_events = [events[seq] for seq in sorted(events)]
    windows = {
        (r.window_s, r.window_start): r
        for r in records(topics.METRICS)
        if isinstance(r, MetricsSnapshot)
    }
    session.metrics = [windows[k] for k in sorted(windows)]
    catalogs = values.get(topics.CATALOG.name(prefix), [])
    if catalogs:
        session.catalog = msgspec.json.decode(catalogs[-1], type=Catalog)
    if bad:
        say(f"{bad} bản ghi Kafka không đọc được, đã bỏ qua ({bad} unreadable records skipped)")
    return session
