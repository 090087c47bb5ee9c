"""When the worker writes a stream's state, on the real broker: comments wait for the periodic
checkpoint, a host's order action is checkpointed with its batch (so that a replay after a
crash cannot apply it at another place among the comments)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType  # type: ignore[import-untyped]

from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.records import AdjustStock, Comment, DeadLetter, OrderEvent, StockLevels, encode
from tests.kafka_helpers import (
    BOOTSTRAP,
    WorkerProcess,
    delete_topics,
    make_topics,
    new_prefix,
    produce_raw,
    produce_records,
    read_topic,
    wait_until,
)


def changelog_rows(topic: str) -> int:
    read = read_topic(topic, 1)  # book heads, customers and metrics are no records: undecodable
    return len(read.records) + read.undecodable


def test_a_host_order_action_is_checkpointed_at_once(kafka_broker: str, tmp_path: Path) -> None:
    catalog = load_catalog("kim-an")
    stream = catalog.stream
    prefix = new_prefix("ckpt")
    make_topics(prefix, 1)
    app_id = f"{prefix}-worker"
    changelog = f"{app_id}-streams-changelog"
    # state written once a minute: within this test, only the host's action writes it
    worker = WorkerProcess(prefix, 1, app_id, tmp_path / "worker.log", "--checkpoint", "60")
    worker.start()
    try:
        comments = [
            Comment(stream=stream, comment_id=f"c{n}", user_id=f"u{n}", text="chốt 1 A1", ts=n)
            for n in range(1, 4)
        ]
        produce_records(prefix, [catalog], comments)

        def confirmed() -> list[OrderEvent]:
            worker.check_alive()
            out = read_topic(topics.ORDERS.name(prefix), 1).records
            return [r for r in out if isinstance(r, OrderEvent)]

        events = wait_until(lambda: len(e := confirmed()) == 3 and e, 60, "3 order events")
        time.sleep(2)  # the default checkpoint (1 s) would have written the state by now
        assert changelog_rows(changelog) == 0, "state written before its checkpoint was due"

        sku = events[0].lines[0].sku

        def remaining() -> float | None:
            out = read_topic(topics.ORDERS.name(prefix), 1).records
            levels = [r for r in out if isinstance(r, StockLevels)]
            return levels[-1].remaining[sku] if levels else None

        before = remaining()  # (read before the action: the worker may apply it at once)
        assert before is not None
        action = AdjustStock(stream=stream, sku=sku, delta=5, action_id="more-stock")
        produce_raw(topics.ACTIONS.name(prefix), [(stream.encode(), encode(action))])
        wait_until(lambda: remaining() == before + 5, 30, "the stock levels after the action")
        rows = wait_until(lambda: changelog_rows(changelog), 10, "the state, written at once")
        assert rows >= 4, f"{rows} rows: the book's head, its 3 customers and log"
        worker.check_alive()
    finally:
        worker.stop()
        delete_topics(prefix)


def set_topic_config(topic: str, configs: dict[str, str]) -> None:
    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
        finally:
            await admin.close()

    asyncio.run(run())


def produce_together(topic: str, values: list[bytes]) -> None:
    """One record batch: the worker fetches and handles them as one batch of events."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, max_batch_size=2**20)
        await producer.start()
        try:
            batch = producer.create_batch()
            for value in values:
                assert batch.append(key=b"s", value=value, timestamp=None) is not None
            await (await producer.send_batch(batch, topic, partition=0))
        finally:
            await producer.stop()

    asyncio.run(run())


def committed(group: str) -> dict[TopicPartition, int]:
    async def run() -> dict[TopicPartition, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    return asyncio.run(run())


@pytest.mark.parametrize("together", [False, True], ids=["next batch", "same flush"])
def test_a_refused_produce_stops_the_worker_before_a_later_batch_reaches_the_broker(
    kafka_broker: str, tmp_path: Path, together: bool
) -> None:
    """The broker refuses a batch of dead letters (larger than the topic takes): the worker
    stops without acking, and what it sends after that batch (the next batch of events, or
    the second produce batch of the same partition in one flush) never reaches the broker, so
    that a restart makes them again in their order (the sinks drop what seems already seen)."""
    prefix = new_prefix("refused")
    make_topics(prefix, 1)
    app_id = f"{prefix}-worker"
    comments = topics.COMMENTS.name(prefix)
    letters = topics.DEAD_LETTERS.name(prefix)
    worker = WorkerProcess(prefix, 1, app_id, tmp_path / "worker.log", "--checkpoint", "60")
    worker.start()
    try:
        produce_raw(comments, [(b"s", b"not json: first")])
        wait_until(lambda: read_topic(letters, 1).records, 60, "the first dead letter")
        set_topic_config(letters, {"max.message.bytes": "100000"})
        time.sleep(1)  # the broker applies it
        big = b"x" * 9_000  # a dead letter of ~9 kB: a produce batch (512 kB) takes ~55
        # one batch of events: ~110 kB of dead letters, refused; or a full produce batch,
        # refused, then a small one of the same partition (what the next batch of events sends)
        produce_together(comments, [big] * 60 + [b"not json: after"] if together else [big] * 12)
        time.sleep(2)  # handled; the broker has answered
        produce_together(comments, [b"not json: later"])
        wait_until(lambda: not worker.alive(), 60, "the worker to stop")
        assert "MessageSizeTooLarge" in worker.log()
        raws = [r.raw for r in read_topic(letters, 1).records if isinstance(r, DeadLetter)]
        assert raws == ["not json: first"], "a batch sent after the refused one was delivered"
        assert committed(app_id) == {}, "inputs acked although their outputs were refused"
    finally:
        worker.stop()
        delete_topics(prefix)
