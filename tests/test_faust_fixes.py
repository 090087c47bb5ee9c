"""`faust_fixes` copies private Faust code: it must notice a Faust that is not the one it read,
and what it replaces must do what Faust did (`take_events`, on a real stream from the broker)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from faust import Stream
from faust.serializers.schemas import Schema
from faust.types import TP
from faust.types.tuples import Message

from chotdon import topics
from stream_jobs import faust_fixes
from stream_jobs.faust_fixes import (
    COPIED_FROM,
    App,
    check_faust,
    source_digest,
    store_rows,
    take_events,
    upstream_changes,
)
from tests.redis_helpers import PARTITIONS, kafka_fixture, prefix_fixture  # noqa: F401 (fixtures)


def test_the_installed_faust_is_the_one_the_fixes_were_made_for() -> None:
    check_faust()
    assert upstream_changes() == []


def test_another_faust_release_is_refused_at_start_up() -> None:
    with pytest.raises(RuntimeError, match=f"faust-streaming 0.16.0 .* of {COPIED_FROM}"):
        check_faust("0.16.0")


def test_an_upstream_method_that_changed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed_upstream() -> None:
        """Stands for a Faust release whose method reads differently."""

    upstream = dict(faust_fixes.UPSTREAM)
    upstream["Consumer._add_gap"] = (changed_upstream, upstream["Consumer._add_gap"][1])
    monkeypatch.setattr(faust_fixes, "UPSTREAM", upstream)
    assert upstream_changes() == ["Consumer._add_gap"]
    with pytest.raises(RuntimeError, match=r"Consumer\._add_gap"):
        check_faust(COPIED_FROM)
    assert source_digest(changed_upstream) != upstream["Consumer._add_gap"][1]


def test_the_per_record_cost_fix_watches_the_faust_code_it_copies_and_relies_on() -> None:
    watched = set(faust_fixes.UPSTREAM)
    assert {"Consumer._drain_messages", "Stream.noack_take", "Stream._py_aiter", "Stream.ack"} <= (
        watched
    )
    assert {"Topic._compile_decode", "Schema.compile", "Registry.loads_value"} <= watched


def test_the_store_fix_watches_the_memory_store_it_writes_into() -> None:
    store = {name for name in faust_fixes.UPSTREAM if name.startswith("memory.Store.")}
    assert store == {
        "memory.Store.__post_init__",  # the two attributes store_rows writes
        "memory.Store.apply_changelog_batch",  # how the recovery registers its rows
        "memory.Store._create_batch_iterator",
        "memory.Store.on_recovery_completed",  # what drops the rows of revoked partitions
    }


def offline_app(name: str, tmp_path: Path) -> Any:
    """An app with its settings, never started: no broker is asked."""
    return App(
        name,
        broker="kafka://127.0.0.1:9",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        datadir=str(tmp_path),
    )


async def test_rows_written_by_the_worker_go_with_their_partition_as_recovered_rows_do(
    tmp_path: Path,
) -> None:
    """Fix 6: rows written with `store_rows` are registered with their partition as the rows
    the recovery reads from the changelog are, so the store drops them with the partition."""
    app = offline_app("rows", tmp_path)
    written = app.Table("written", key_type=bytes, value_type=bytes, partitions=3)
    recovered = app.Table("recovered", key_type=bytes, value_type=bytes, partitions=3)
    writes: list[tuple[int, list[tuple[bytes, bytes | None]]]] = [
        (0, [(b"a", b"12"), (b"a\x00l\x001", b"x")]),
        (1, [(b"b", b"123"), (b"never-had", None)]),  # deleting a row the store never had
        (2, [(b"c", b"1")]),
        (0, [(b"a\x00l\x001", None), (b"a", b"1")]),
    ]
    assert [store_rows(written, p, rows) for p, rows in writes] == [3, 3, 1, -2]
    offset = 0
    for partition, rows in writes:  # the same rows, as a recovery reads them
        events = []
        for key, value in rows:
            message = Message("c", partition, offset, 0.0, 0, None, key, value, None)
            events.append(app.create_event(key, value, None, message))
            offset += 1
        recovered.apply_changelog_batch(events)
    store = written.data
    assert dict(store.data) == dict(recovered.data.data) == {b"a": b"1", b"b": b"123", b"c": b"1"}
    assert store._key_partition == recovered.data._key_partition == {b"a": 0, b"b": 1, b"c": 2}

    kept = {TP(written.changelog_topic.get_topic_name(), 1)}
    await written.on_recovery_completed(kept, set())  # partitions 0 and 2 went elsewhere
    assert dict(store.data) == {b"b": b"123"}
    assert store._key_partition == {b"b": 1}


async def test_a_raw_bytes_topic_makes_the_events_fausts_decode_makes(tmp_path: Path) -> None:
    """Fix 5: a topic of raw bytes gives each message's event without Faust's decoding, the
    same event Faust's decode gives; a topic of another type keeps Faust's decode."""
    app = offline_app("decode", tmp_path)
    raw = app.topic("raw", key_type=bytes, value_type=bytes)
    agents = raw.clone(is_iterator=True)  # what an agent's stream reads
    as_json = app.topic("json", key_type=bytes, value_serializer="json")
    fausts: Schema[bytes, bytes] = Schema(
        key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    faust_decode = fausts.compile(app)
    for key, value in ((b"s", b'{"a": 1}'), (None, b"x"), (b"s", None), (None, None)):
        message = Message("raw", 0, 7, 0.0, 0, [("h", b"1")], key, value, None)
        for topic in (raw, agents):
            event, expected = await topic.decode(message), await faust_decode(message)
            assert topic.decode.__qualname__.startswith("_Topic.")
            assert (event.key, event.value, event.headers, event.message) == (
                expected.key,
                expected.value,
                expected.headers,
                message,
            )
    message = Message("json", 0, 7, 0.0, 0, None, b"s", b'{"a": 1}', None)
    assert (await as_json.decode(message)).value == {"a": 1}


async def test_a_hand_off_that_had_to_wait_finishes_where_it_waited() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def hand_off() -> str:
        steps.append("inline")
        got = await gate
        steps.append(got)
        return got + "!"

    coro = hand_off()
    waiting = coro.send(None)  # what the consumer does: run it until it waits
    assert steps == ["inline"]
    task = asyncio.ensure_future(faust_fixes._finish(coro, waiting))
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("queued")
    assert await task == "queued!"
    assert steps == ["inline", "queued"]


async def test_a_waiting_hand_off_that_loses_the_race_is_cancelled_inside() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def hand_off() -> None:
        try:
            await gate
        finally:
            cleaned.append(True)

    coro = hand_off()
    task = asyncio.ensure_future(faust_fixes._finish(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]
    assert gate.cancelled()


async def test_take_events_hands_over_each_event_once_in_order_with_fausts_bookkeeping(
    kafka: str, prefix: str, tmp_path: Path
) -> None:
    """A backlog on every partition, through a real Faust stream: each event comes once, in
    its partition's order, in batches of at most `max_`; while the agent holds a batch its
    messages are tracked as unacked (what Faust's commit waits for) and counted in by the
    sensors; once acked, they are counted out and their offsets committed."""
    sent, max_ = 2500, 64
    topic = topics.COMMENTS.name(prefix)
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        for i in range(sent):
            await producer.send(topic, str(i).encode(), key=b"s", partition=i % PARTITIONS)
        await producer.flush()
    finally:
        await producer.stop()
    app: Any = App(
        f"{prefix}-take",
        broker=f"kafka://{kafka}",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=PARTITIONS,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
        datadir=str(tmp_path),
    )
    batches: list[list[tuple[int, int, bytes]]] = []
    held_unacked: list[bool] = []
    everything = asyncio.Event()

    @app.agent(app.topic(topic, key_type=bytes, value_type=bytes), concurrency=1)  # type: ignore[untyped-decorator]
    async def agent(stream: Stream[bytes]) -> None:
        async for batch in take_events(stream, max_, 0.05):
            batches.append([(e.message.partition, e.message.offset, e.value) for e in batch])
            held_unacked.append(all(e.message in app.consumer.unacked for e in batch))
            for event in batch:
                await stream.ack(event)
            if sum(map(len, batches)) >= sent:
                everything.set()

    await app.start()
    try:
        await asyncio.wait_for(everything.wait(), 60)
        await asyncio.sleep(0.2)  # nothing more comes
        assert await app.consumer.commit()
        monitor = app.monitor
        counted = (monitor.messages_received_total, monitor.events_total)
        # (not events_active: Stream.ack gives the sensors no state, as after Faust's noack_take)
        active = monitor.messages_active
    finally:
        await app.stop()
    events = [e for batch in batches for e in batch]
    assert len(events) == sent and all(0 < len(b) <= max_ for b in batches)
    by_partition: dict[int, list[tuple[int, bytes]]] = {}
    for partition, offset, value in events:
        by_partition.setdefault(partition, []).append((offset, value))
    for partition, got in by_partition.items():  # each once, in order, as sent
        wanted = [str(i).encode() for i in range(partition, sent, PARTITIONS)]
        assert got == list(enumerate(wanted)), partition
    assert all(held_unacked) and counted == (sent, sent) and active == 0
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(f"{prefix}-take")
    finally:
        await admin.close()
    per_partition = Counter(i % PARTITIONS for i in range(sent))
    assert {tp.partition: meta.offset for tp, meta in committed.items()} == per_partition
    assert all(isinstance(tp, TopicPartition) and tp.topic == topic for tp in committed)
