"""The real Redis and Kafka for the distributed-mode tests, and a Redis sink to run against them.

Import the fixtures where they are used: `from tests.redis_helpers import kafka_fixture, ...`
(their names are `kafka`, `redis` and `prefix`).

Each test gets its own prefix ("t" + random hex) for topics, consumer groups and Redis keys, so
tests never see each other's data; both are removed afterwards. A service that is not running
skips the test locally (saying how to start it) and fails it in CI (env CI set).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from chotdon import topics
from chotdon.catalog import Catalog
from chotdon.config import settings
from chotdon.kafka_admin import create_topics
from chotdon.records import AnyRecord, Record, decode, encode
from sinks.feed.redis_feed import build_view
from sinks.redis_sink import RedisSink, SinkOptions
from sinks.redis_store import RedisStore

ROOT = Path(__file__).resolve().parent.parent
KAFKA = settings().kafka
REDIS_URL = settings().redis
PARTITIONS = 2  # enough to show that streams spread; fewer partitions start faster

TOPIC_OF = {
    "comment": topics.COMMENTS,
    "set_current": topics.COMMENTS,
    "viewers": topics.VIEWERS,
    "intent": topics.INTENTS,
    "order": topics.ORDERS,
    "stock_levels": topics.ORDERS,
    "metrics": topics.METRICS,
    "approve": topics.ACTIONS,
    "reject": topics.ACTIONS,
    "stock": topics.ACTIONS,
}


def unavailable(what: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is not running (CI needs it)")
    pytest.skip(f"{what} is not running; start it with: {START[what]}")


START = {"Redis": "deploy/redis/server start", "Kafka": "deploy/kafka/broker start"}


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture(name="prefix")
def prefix_fixture() -> str:
    return new_prefix()


@pytest.fixture(name="redis")
async def redis_fixture(prefix: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        unavailable("Redis")
    try:
        yield client
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(name="kafka")
async def kafka_fixture(prefix: str) -> AsyncIterator[str]:
    """Every topic of the prefix, created empty; the bootstrap servers. Afterwards every topic
    named after the prefix goes, the workers' changelogs included."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=5000)
    try:
        await admin.start()
    except (KafkaError, OSError):
        await admin.close()
        unavailable("Kafka")
    try:
        await create_topics(KAFKA, prefix, PARTITIONS)
        yield KAFKA
    finally:
        with contextlib.suppress(KafkaError):
            names = [
                t for t in await admin.list_topics() if t.startswith((f"{prefix}.", f"{prefix}-"))
            ]
            await admin.delete_topics(names)
        await admin.close()


def topic_of(record: Record | Catalog, prefix: str) -> str:
    if isinstance(record, Catalog):
        return topics.CATALOG.name(prefix)
    tag = msgspec.json.decode(encode(record))["type"]
    return TOPIC_OF[tag].name(prefix)


def stream_of(record: Record | Catalog) -> str:
    if isinstance(record, Catalog):
        return record.stream
    stream = getattr(record, "stream", None) or record.comment.stream  # type: ignore[attr-defined]
    assert isinstance(stream, str)
    return stream


async def produce(kafka: str, prefix: str, records: Iterable[Record | Catalog]) -> int:
    """Send records to their topics, keyed by stream, in order; how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka, enable_idempotence=True)
    await producer.start()
    sent = 0
    try:
        for record in records:
            value = msgspec.json.encode(record) if isinstance(record, Catalog) else encode(record)
            await producer.send(topic_of(record, prefix), value, key=stream_of(record).encode())
            sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    return sent


async def produce_raw(kafka: str, topic: str, values: Iterable[bytes], key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def consume_all(kafka: str, topic: str, count: int, timeout: float = 20.0) -> list[AnyRecord]:
    """The first `count` records of a topic (from the beginning)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    found: list[AnyRecord] = []
    try:
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            found += [decode(m.value) for messages in batch.values() for m in messages]
    finally:
        await consumer.stop()
    return found


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(0.05)


class SinkRun:
    """A Redis sink running in this event loop (use `async with`)."""

    def __init__(self, kafka: str, prefix: str, group: str = "", redis: str = REDIS_URL) -> None:
        self.log: list[str] = []
        self.sink = RedisSink(
            SinkOptions(kafka=kafka, redis=redis, prefix=prefix, group=group), self.log.append
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> SinkRun:
        self._task = asyncio.create_task(self.sink.run(self._stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def read(self, records: int, timeout: float = 30.0) -> None:
        """Wait until the sink has read (and written) at least this many records."""
        stats = self.sink.stats

        async def done() -> bool:
            assert self._task is not None
            if self._task.done():
                self._task.result()  # raise what stopped it
            return stats.records >= records and stats.batches > 0 and not self._busy()

        await eventually(done, timeout)

    def _busy(self) -> bool:
        # records are counted when decoded, before the batch is written: wait for its write
        s = self.sink.stats
        return s.records > s.written + s.duplicates + s.skipped + s.bad


def as_text(reply: object) -> str:
    """A reply of the tests' client as text (the client does not decode: its replies are bytes)."""
    assert isinstance(reply, bytes), reply
    return reply.decode()


async def dump(redis: Redis, prefix: str) -> dict[str, Any]:
    """Every key of a prefix with its value, for comparing states."""
    state: dict[str, Any] = {}
    async for raw in redis.scan_iter(match=f"{prefix}:*", count=1000):
        key = as_text(raw)
        kind = as_text(await redis.type(key))
        if kind == "string":
            state[key] = await redis.get(key)
        elif kind == "hash":
            state[key] = await redis.hgetall(key)
        elif kind == "set":
            state[key] = await redis.smembers(key)
        elif kind == "zset":
            state[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            state[key] = await redis.xrange(key)
    return state


async def view_summary(redis: Redis, prefix: str, catalog: Catalog) -> dict[str, Any]:
    """The summary the host's page shows of the catalog's stream, from what Redis holds: its
    revenue and order count derived from the stored orders."""
    stored = await RedisStore(redis, prefix).load(catalog.stream)
    return build_view(stored, catalog).summary()
