"""The Redis sink against the real Kafka and Redis: what it stores, and that a re-delivered, a
re-produced or an older record changes nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import Mapping
from typing import Any

import msgspec
from redis.asyncio import Redis

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog
from chotdon.records import (
    Comment,
    Intent,
    Item,
    MetricsSnapshot,
    OrderEvent,
    OrderLine,
    Record,
    SetCurrent,
    StockLevels,
    VariantStock,
    ViewerCount,
    decode,
    encode,
)
from sinks.redis_store import Entry, Keys, RedisStore
from tests.redis_helpers import (  # noqa: F401  (fixtures)
    REDIS_URL,
    ROOT,
    SinkRun,
    as_text,
    dump,
    eventually,
    kafka_fixture,
    prefix_fixture,
    produce,
    produce_raw,
    redis_fixture,
    view_summary,
)

CATALOG = load_catalog("kim-an")
STREAM = CATALOG.stream
T0 = 1_764_230_400.0
PHONE = "0912345678"


def comment(n: int, text: str, ts: float) -> Comment:
    return Comment(
        stream=STREAM, comment_id=f"c{n}", user_id=f"u{n}", text=text, ts=ts, user_name=f"N{n}"
    )


def intent(n: int, text: str, ts: float) -> Intent:
    return Intent(intent="order", items=[Item("OI-HOP", 1)], comment=comment(n, text, ts))


def event(
    seq: int, order_id: str, qty: int, kind: str = "confirmed", phone: str | None = PHONE
) -> OrderEvent:
    lines = [OrderLine(sku="OI-HOP", variant=None, qty=qty, unit_price=80_000)] if qty else []
    return OrderEvent(
        kind=kind,  # type: ignore[arg-type]
        stream=STREAM,
        order_id=order_id,
        customer=f"fb:{order_id}",
        customer_name=f"Khách {order_id}",
        lines=lines,
        total=80_000 * qty,
        phone=phone,
        comment_id=f"c{seq}",
        ts=T0 + seq,
        seq=seq,
    )


def stock(remaining: int, ts: float) -> StockLevels:
    """OI-HOP's stock, all of it a variant's own (the sink stores what it is given)."""
    return StockLevels(
        stream=STREAM,
        remaining={"OI-HOP": remaining},
        reserved={"OI-HOP": 150 - remaining},
        waiting={},
        ts=ts,
        variants=[
            VariantStock(
                sku="OI-HOP",
                variant="2kg",
                remaining=remaining,
                reserved=150 - remaining,
                waiting=0,
            )
        ],
    )


def metrics(start: float, size: int, comments: int, revenue: int) -> MetricsSnapshot:
    return MetricsSnapshot(
        stream=STREAM,
        window_start=start,
        window_s=size,
        comments=comments,
        commenters=comments,
        intents={"order": comments},
        orders=1,
        revenue=revenue,
        viewers=120,
        viewers_peak=130,
    )


SESSION: list[Record | Catalog] = [
    CATALOG,
    SetCurrent(stream=STREAM, code="A1", ts=T0),
    ViewerCount(stream=STREAM, viewers=100, ts=T0),
    ViewerCount(stream=STREAM, viewers=130, ts=T0 + 1),
    ViewerCount(stream=STREAM, viewers=120, ts=T0 + 2),
    intent(1, f"chốt 2 hộp {PHONE}", T0 + 1),
    intent(2, "lấy 1 hộp", T0 + 2),
    intent(3, "thêm 1 hộp nữa", T0 + 3),
    event(1, "o1", 2),
    event(2, "o2", 1),
    event(3, "o1", 3, "updated"),
    event(4, "o2", 0, "cancelled"),
    stock(147, T0 + 3),
    stock(145, T0 + 1),  # a late comment's ts: still the newest stock in partition order
    metrics(T0, 10, 2, 160_000),  # the open window at a checkpoint of the worker's
    metrics(T0, 10, 3, 240_000),
    metrics(T0 + 10, 10, 0, 0),
    metrics(T0, 60, 3, 240_000),
]


def text(values: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {as_text(k): as_text(v) for k, v in values.items()}


async def check_session(redis: Redis, keys: Keys) -> None:
    """What SESSION leaves in Redis."""
    feed = await redis.xrange(keys.of(STREAM, "feed"))
    assert feed is not None
    assert [entry_id for entry_id, _ in feed] == [b"1-0", b"2-0", b"3-0", b"4-0"]
    fields = feed[0][1]
    assert fields is not None
    first = decode(fields[b"event"])
    assert isinstance(first, OrderEvent) and first.phone == PHONE  # full: the page masks

    o1 = text(await redis.hgetall(keys.order(STREAM, "o1")))
    assert o1["seq"] == "3" and o1["kind"] == "updated" and o1["status"] == "confirmed"
    assert o1["total"] == "240000" and o1["phone"] == PHONE and o1["customer"] == "fb:o1"
    assert json.loads(o1["lines"])[0]["qty"] == 3
    assert decode(o1["event"]) == event(3, "o1", 3, "updated")
    o2 = text(await redis.hgetall(keys.order(STREAM, "o2")))
    assert o2["status"] == "cancelled" and o2["total"] == "0"
    assert await redis.zrange(keys.of(STREAM, "orders"), 0, -1, withscores=True) == [
        (b"o1", 3.0),
        (b"o2", 4.0),
    ]

    stock_hash = text(await redis.hgetall(keys.of(STREAM, "stock")))
    assert json.loads(stock_hash["remaining"]) == {"OI-HOP": 145}
    assert json.loads(stock_hash["variants"]) == [
        {"sku": "OI-HOP", "variant": "2kg", "remaining": 145, "reserved": 5, "waiting": 0}
    ]

    shown = await view_summary(redis, keys.prefix, CATALOG)  # derived from the orders
    assert shown["revenue"] == 240_000 and shown["orders"] == 1
    summary = text(await redis.hgetall(keys.of(STREAM, "summary")))
    assert "revenue" not in summary and "orders" not in summary
    assert summary["viewers"] == "120" and summary["viewers_peak"] == "130"
    assert summary["comments"] == "3" and summary["current"] == "A1"

    latest = text(await redis.hgetall(keys.metrics(STREAM, 10)))
    assert float(latest["window_start"]) == T0 + 10 and latest["comments"] == "0"
    windows = [decode(v) for v in (await redis.hgetall(keys.windows(STREAM, 10))).values()]
    assert sorted((w.window_start, w.comments) for w in windows) == [(T0, 3), (T0 + 10, 0)]  # type: ignore[union-attr]
    assert text(await redis.hgetall(keys.metrics(STREAM, 60)))["revenue"] == "240000"

    catalog = await redis.get(keys.of(STREAM, "catalog"))
    assert catalog is not None
    assert msgspec.json.decode(catalog, type=Catalog) == CATALOG
    assert await redis.smembers(keys.streams) == {STREAM.encode()}


async def test_sink_stores_the_session_and_a_redelivery_changes_nothing(
    kafka: str, prefix: str, redis: Redis
) -> None:
    keys = Keys(prefix)
    sent = await produce(kafka, prefix, SESSION)
    async with SinkRun(kafka, prefix) as run:
        await run.read(sent)
    await check_session(redis, keys)
    assert run.sink.stats.bad == 0
    before = await dump(redis, prefix)

    # a sink of another group reads every offset again: exactly what a crash before the
    # commit re-delivers
    async with SinkRun(kafka, prefix, group=f"{prefix}-again") as again:
        await again.read(sent)
    assert again.sink.stats.written == 0
    assert await dump(redis, prefix) == before  # versions included: nothing was announced

    # what Prometheus sees: every order event applied once, then seen again as a duplicate
    first, second = run.sink.metrics.registry, again.sink.metrics.registry
    events = {"record": "OrderEvent"}
    assert first.get_sample_value("chotdon_sink_applied_total", events) == 4
    assert first.get_sample_value("chotdon_order_latency_seconds_count") == 4
    assert first.get_sample_value("chotdon_sink_redis_up") == 1
    assert second.get_sample_value("chotdon_sink_duplicates_total", events) == 4
    assert second.get_sample_value("chotdon_sink_applied_total", events) is None
    lags = [
        m.value
        for metric in second.collect()
        if metric.name == "chotdon_sink_consumer_lag_records"
        for m in metric.samples
    ]
    assert lags and set(lags) == {0.0}  # read to the end of every partition it got records of


async def test_a_streams_comments_go_in_one_call_announced_each_once_in_order(
    prefix: str, redis: Redis
) -> None:
    """The comments of a stream in a batch are one script call: each is stored and announced
    once, in the stream's order and before the stream's order events; a comment seen before
    is a duplicate, and the other stream's records keep their own order."""
    keys, store = Keys(prefix), RedisStore(redis, prefix)
    other = "phu-xuyen-gom"

    def of(stream: str, n: int) -> Intent:
        made = intent(n, f"chốt {n} hộp", T0 + n)
        assert made.comment is not None
        return msgspec.structs.replace(
            made, comment=msgspec.structs.replace(made.comment, stream=stream)
        )

    first = await store.write([Entry(of(STREAM, 1))])
    assert len(first.applied) == 1
    pubsub = redis.pubsub()
    await pubsub.psubscribe(keys.notify_pattern)
    assert (await pubsub.get_message(timeout=5) or {}).get("type") == "psubscribe"
    batch = [
        Entry(of(STREAM, 2)),
        Entry(of(other, 7)),
        Entry(of(STREAM, 1)),  # stored by the first batch
        Entry(of(STREAM, 3)),
        Entry(of(other, 8)),
        Entry(event(1, "o1", 2)),
    ]
    result = await store.write(batch)
    assert sorted(map(batch.index, result.applied)) == [0, 1, 3, 4, 5]
    assert result.repeated == [batch[2]] and not result.refused and result.ignored == 0

    heard: dict[str, list[tuple[int, str]]] = {}
    while sum(len(v) for v in heard.values()) < 5:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None, heard
        body = json.loads(message["data"])
        stream = keys.stream_of(message["channel"].decode())
        assert stream is not None
        record = body["record"]
        said = record["comment"]["comment_id"] if record["type"] == "intent" else record["type"]
        heard.setdefault(stream, []).append((body["n"], said))
    await pubsub.aclose()
    assert heard == {STREAM: [(2, "c2"), (3, "c3"), (4, "order")], other: [(1, "c7"), (2, "c8")]}
    for stream, count in ((STREAM, b"3"), (other, b"2")):
        assert await redis.hget(keys.of(stream, "summary"), "comments") == count
        assert await redis.hlen(keys.of(stream, "comments")) == int(count)
    assert await redis.smembers(keys.streams) == {STREAM.encode(), other.encode()}


async def test_events_produced_again_or_older_change_nothing(
    kafka: str, prefix: str, redis: Redis
) -> None:
    keys = Keys(prefix)
    sent = await produce(kafka, prefix, SESSION)
    async with SinkRun(kafka, prefix) as run:
        await run.read(sent)
        before = await dump(redis, prefix)
        # a worker that crashed before its commit produces its output again; a stale event
        # of an order, a stale viewer count and a stale current product come late
        again: list[Record] = [r for r in SESSION if not isinstance(r, Catalog)]
        stale: list[Record] = [
            msgspec.structs.replace(event(2, "o1", 9), kind="updated"),
            ViewerCount(stream=STREAM, viewers=5, ts=T0 - 10),
            SetCurrent(stream=STREAM, code="A2", ts=T0 - 10),
        ]
        sent += await produce(kafka, prefix, again + stale)
        await run.read(sent)
    # whole states sent again are newer by position: the two stock levels and the two
    # snapshots of the window that changed are written again, ending as they were
    assert run.sink.stats.written == len(SESSION) + 4
    assert content(await dump(redis, prefix)) == content(before)
    await check_session(redis, keys)


def content(state: dict[str, Any]) -> dict[str, Any]:
    """A dump without the versions and the Kafka positions (the sink's applied offsets too)."""
    return {
        key: {f: v for f, v in value.items() if f != b"at"} if isinstance(value, dict) else value
        for key, value in state.items()
        if not key.endswith((":version", ":at")) and ":applied:" not in key
    }


async def test_the_hosts_current_product_wins_a_tie(kafka: str, prefix: str, redis: Redis) -> None:
    """The page stamps an action with the stream's latest ts, so the action came after a source
    record of that ts, whichever topic the sink reads first, and however often."""
    keys = Keys(prefix)
    host = SetCurrent(stream=STREAM, code="A3", ts=T0 + 5)
    source = SetCurrent(stream=STREAM, code="A2", ts=T0 + 5)
    sent = await produce(kafka, prefix, [CATALOG])
    sent += await produce_actions(kafka, prefix, [host])
    sent += await produce(kafka, prefix, [source])
    async with SinkRun(kafka, prefix) as run:
        await run.read(sent)
        sent += await produce(kafka, prefix, [source])
        await run.read(sent)
    assert await redis.hget(keys.of(STREAM, "summary"), "current") == b"A3"


async def produce_actions(kafka: str, prefix: str, actions: list[SetCurrent]) -> int:
    await produce_raw(
        kafka, topics.ACTIONS.name(prefix), [encode(a) for a in actions], STREAM.encode()
    )
    return len(actions)


async def test_bad_records_are_counted_and_skipped(kafka: str, prefix: str, redis: Redis) -> None:
    keys = Keys(prefix)
    garbage: list[bytes] = [
        b"\xff\xfe not json",
        b'{"type":"order","v":1,"stream":"kim-an-oi","seq":"one"}',  # wrong schema
        json.dumps({"type": "comment", "stream": STREAM, "text": PHONE}).encode(),  # wrong topic
    ]
    await produce_raw(kafka, topics.ORDERS.name(prefix), garbage, STREAM.encode())
    await produce_raw(kafka, topics.CATALOG.name(prefix), [b'{"stream": 1}'], STREAM.encode())
    sent = len(garbage) + 1 + await produce(kafka, prefix, [event(1, "o1", 1)])
    async with SinkRun(kafka, prefix) as run:
        await run.read(sent)
    assert run.sink.stats.bad == 4
    dead = {
        (m.labels["source"], m.labels["reason"]): m.value
        for metric in run.sink.metrics.registry.collect()
        if metric.name == "chotdon_dead_letters"
        for m in metric.samples
        if m.name.endswith("_total")
    }
    assert sum(dead.values()) == 4 and dead[("catalog", "undecodable")] == 1, dead
    assert await redis.hget(keys.order(STREAM, "o1"), "seq") == b"1"
    logged = "\n".join(run.log)
    assert PHONE not in logged and "orders" in logged


async def test_the_command_stops_on_sigterm_with_its_offsets_committed(
    kafka: str, prefix: str, redis: Redis
) -> None:
    keys = Keys(prefix)
    await produce(kafka, prefix, SESSION)
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sinks.redis_sink"),
        *("--bootstrap", kafka, "--redis", REDIS_URL, "--topic-prefix", prefix),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    try:

        async def all_written() -> bool:
            return await redis.get(keys.of(STREAM, "version")) == str(len(SESSION)).encode()

        await eventually(all_written)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert f"{len(SESSION)} ghi (written)" in stderr.decode()
    await check_session(redis, keys)

    # the same group goes on after what was committed
    async with SinkRun(kafka, prefix) as run:
        await produce(kafka, prefix, [event(5, "o5", 1)])
        await run.read(1)
    assert run.sink.stats.records == 1


async def test_nothing_is_committed_while_redis_is_away(
    kafka: str, prefix: str, redis: Redis
) -> None:
    keys = Keys(prefix)
    sent = await produce(kafka, prefix, SESSION)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        away = f"redis://127.0.0.1:{closed.getsockname()[1]}/0"
    async with SinkRun(kafka, prefix, redis=away) as run:

        async def retrying() -> bool:
            return sum("unreachable" in line for line in run.log) >= 2

        await eventually(retrying)
        away_up = run.sink.metrics.registry.get_sample_value
        assert away_up("chotdon_sink_redis_up") == 0
    assert run.sink.stats.batches == 0

    async with SinkRun(kafka, prefix) as run:  # the same group: every record comes again
        await run.read(sent)
        up = run.sink.metrics.registry.get_sample_value

        async def probed() -> bool:
            return up("chotdon_sink_kafka_up") == 1 and up("chotdon_sink_redis_up") == 1

        await eventually(probed)
    assert run.sink.stats.written == len(SESSION)
    await check_session(redis, keys)


async def forget(redis: Redis, prefix: str) -> None:
    """What a Redis restarted without persistence holds of the prefix: nothing."""
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


async def snapshot(redis: Redis, prefix: str) -> dict[bytes, bytes]:
    return {
        key: value
        async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)
        if (value := await redis.dump(key)) is not None
    }


async def restore(redis: Redis, prefix: str, state: dict[bytes, bytes]) -> None:
    """Redis back at an earlier state, as a replica promoted while behind would be."""
    await forget(redis, prefix)
    for key, value in state.items():
        await redis.restore(key, 0, value)


async def wait_for_session(redis: Redis, keys: Keys) -> None:
    async def stored() -> bool:
        try:
            await check_session(redis, keys)
        except (AssertionError, KeyError):  # not all there yet
            return False
        return True

    await eventually(stored)


async def test_a_redis_that_lost_data_or_went_back_is_rebuilt_from_kafka(
    kafka: str, prefix: str, redis: Redis
) -> None:
    keys = Keys(prefix)
    first, rest = SESSION[:10], SESSION[10:]
    async with SinkRun(kafka, prefix) as run:
        sent = await produce(kafka, prefix, first)
        await run.read(sent)
        earlier = await snapshot(redis, prefix)
        sent += await produce(kafka, prefix, rest)
        await run.read(sent)
        await check_session(redis, keys)

        await forget(redis, prefix)  # restarted without persistence, no record coming
        await wait_for_session(redis, keys)
        assert run.sink.stats.rebuilds == 1
        lost = [line for line in run.log if "lost data" in line]
        assert len(lost) == 1 and "orders[1] -/6" in lost[0], lost

        await restore(redis, prefix, earlier)  # a replica promoted while behind
        await wait_for_session(redis, keys)
        assert run.sink.stats.rebuilds == 2
        rebuilds = run.sink.metrics.registry.get_sample_value("chotdon_sink_redis_rebuilds_total")
        assert rebuilds == 2
        behind = [line for line in run.log if "lost data" in line][1]
        assert "orders[1] 2/6" in behind, behind  # read again from where Redis held it
    assert run.sink.stats.bad == 0

    # a sink started on a Redis emptied while no sink ran: its group's offsets are at the end
    await forget(redis, prefix)
    async with SinkRun(kafka, prefix) as again:
        await wait_for_session(redis, keys)
    assert again.sink.stats.rebuilds == 1


async def test_sinks_sharing_the_partitions_rebuild_what_each_holds(
    kafka: str, prefix: str, redis: Redis
) -> None:
    """A second sink of the group joins (a rebalance) and Redis then loses everything: each
    sink rebuilds the partitions it has, and together they bring back the whole session."""
    keys = Keys(prefix)
    first, rest = SESSION[:10], SESSION[10:]
    async with SinkRun(kafka, prefix) as one:
        sent = await produce(kafka, prefix, first)
        await one.read(sent)
        async with SinkRun(kafka, prefix) as two:

            async def shared() -> bool:
                return bool(one.sink._held) and bool(two.sink._held)

            await eventually(shared)
            await produce(kafka, prefix, rest)
            await wait_for_session(redis, keys)
            await forget(redis, prefix)
            await wait_for_session(redis, keys)
    rebuilds = one.sink.stats.rebuilds + two.sink.stats.rebuilds
    assert rebuilds >= 1 and one.sink.stats.bad == two.sink.stats.bad == 0
