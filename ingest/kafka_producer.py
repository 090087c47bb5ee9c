"""`chotdon ingest --to kafka`: the embedded mode's sources (file, stdin, simulator) into Kafka.

Each stream's catalog goes first to the compacted catalog topic (the workers parse and resolve
with it), then the source's records, keyed by stream id so one livestream stays in order on one
partition: comments and the source's product switches to the comments topic, viewer counts to
the viewers topic, host actions to the actions topic. The producer is idempotent with acks=all;
sends are not awaited one by one but in windows, so the client batches them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog
from chotdon.config import settings
from chotdon.kafka_admin import bootstrap_servers
from chotdon.phones import mask_phones_in
from chotdon.records import (
    AdjustStock,
    Approve,
    Comment,
    DeadLetter,
    Reject,
    SetCurrent,
    ViewerCount,
    encode,
)

from .simulator import simulate, stream_catalogs
from .sources import JsonLinesSource, Pace, RecordsSource, Source, SourceRecord

ROUTES: dict[type, topics.TopicSpec] = {
    Comment: topics.COMMENTS,
    SetCurrent: topics.COMMENTS,  # in order with the comments it applies to
    ViewerCount: topics.VIEWERS,
    Approve: topics.ACTIONS,
    Reject: topics.ACTIONS,
    AdjustStock: topics.ACTIONS,
}
WINDOW = 5000  # sends in flight before waiting for their acks
WINDOW_S = 1.0  # ... or this long, so a slow paced run still surfaces errors promptly
PROGRESS_EVERY_S = 2.0

Log = Callable[[str], None]


@dataclass
class IngestStats:
    kinds: Counter[str] = field(default_factory=Counter)
    bad_lines: int = 0
    catalogs: int = 0
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(self.kinds.values())


def new_producer(bootstrap: str, compression: str | None = None) -> Any:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(bootstrap),
        enable_idempotence=True,  # retries neither duplicate nor reorder
        acks="all",
        linger_ms=10,
        max_batch_size=256 * 1024,
        compression_type=compression,
    )


async def publish_catalogs(producer: Any, prefix: str, catalogs: Sequence[Catalog]) -> None:
    """Each catalog under its stream's key, acknowledged before any record that needs it."""
    name = topics.CATALOG.name(prefix)
    futures = [
        await producer.send(name, msgspec.json.encode(c), key=c.stream.encode())
        for c in catalogs
    ]
    await asyncio.gather(*futures)


async def ingest(
    bootstrap: str,
    prefix: str,
    catalogs: Sequence[Catalog],
    source: Source,
    *,
    bad_lines: list[tuple[int, str, str]] | None = None,
    compression: str | None = None,
    log: Log | None = None,
) -> IngestStats:
    """Publish the catalogs, then every record of `source`. `bad_lines` is where the source's
    `on_error` collects malformed lines: each becomes a DeadLetter on the dead-letter topic."""
    say = log or (lambda _msg: None)
    stats = IngestStats()
    started = time.monotonic()
    known = {c.stream for c in catalogs}
    warned: set[str] = set()
    pending: list[asyncio.Future[Any]] = []
    window_start = last_progress = started
    producer = new_producer(bootstrap, compression)
    await producer.start()
    try:
        await publish_catalogs(producer, prefix, catalogs)
        stats.catalogs = len(catalogs)
        async for _position, record in source.records():
            if record.stream not in known and record.stream not in warned:
                warned.add(record.stream)
                say(
                    f"stream '{record.stream}' has no --catalog in this run: the workers need "
                    "its catalog on the catalog topic, or they dead-letter its comments"
                )
            pending.append(await _send(producer, prefix, record))
            stats.kinds[type(record).__name__] += 1
            if bad_lines:
                pending.extend(await _dead_letters(producer, prefix, source.name, bad_lines))
            now = time.monotonic()
            if len(pending) >= WINDOW or now - window_start >= WINDOW_S:
                await asyncio.gather(*pending)
                pending.clear()
                window_start = now
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                rate = stats.records / (now - started)
                say(f"{stats.records:,} records sent ({rate:,.0f}/s)".replace(",", "."))
        if bad_lines:
            pending.extend(await _dead_letters(producer, prefix, source.name, bad_lines))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()  # flushes what is still buffered
    stats.bad_lines = len(bad_lines or [])
    stats.seconds = time.monotonic() - started
    return stats


async def _send(producer: Any, prefix: str, record: SourceRecord) -> asyncio.Future[Any]:
    topic = ROUTES[type(record)].name(prefix)
    future: asyncio.Future[Any] = await producer.send(
        topic, encode(record), key=record.stream.encode()
    )
    return future


async def _dead_letters(
    producer: Any, prefix: str, source: str, bad_lines: list[tuple[int, str, str]]
) -> list[asyncio.Future[Any]]:
    """Send the malformed lines collected since the last call (the list keeps its length as
    the count: only the lines not yet sent are sent)."""
    futures = []
    sent = getattr(producer, "_chotdon_dead_sent", 0)
    for lineno, reason, raw in bad_lines[sent:]:
        letter = DeadLetter(
            source=source, reason=reason, raw=raw, position=f"line {lineno}", ts=time.time()
        )
        futures.append(await producer.send(topics.DEAD_LETTERS.name(prefix), encode(letter)))
    producer._chotdon_dead_sent = len(bad_lines)
    return futures
