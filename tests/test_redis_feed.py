"""The host's page on Redis (`chotdon feed`) with the real Redis sink and Kafka: the views rebuilt
from Redis, kept live by the notifications, and the host's actions sent to the ACTIONS topic."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from chotdon import topics
from chotdon.catalog import Catalog
from chotdon.phones import mask_phone
from chotdon.records import (
    Approve,
    HostAction,
    OrderEvent,
    OrderLine,
    Record,
    SetCurrent,
    ViewerCount,
)
from sinks.feed.redis_feed import ActionProducer, RedisFeed
from sinks.feed.server import create_app
from sinks.redis_store import Entry, RedisStore
from tests.redis_helpers import (  # noqa: F401  (fixtures)
    REDIS_URL,
    ROOT,
    SinkRun,
    consume_all,
    eventually,
    kafka_fixture,
    prefix_fixture,
    produce,
    redis_fixture,
)
from tests.test_redis_sink import CATALOG, PHONE, STREAM, T0, event, intent, stock

TOKEN = "host-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REVIEW_ID = "c9#0"


def needs_review(seq: int) -> OrderEvent:
    line = OrderLine(
        sku="",
        variant=None,
        qty=0,
        unit_price=0,
        status="review",
        review_id=REVIEW_ID,
        missing="product",
    )
    return OrderEvent(
        kind="needs_review",
        stream=STREAM,
        order_id="o9",
        customer="fb:u9",
        customer_name="Khách o9",
        lines=[line],
        total=0,
        phone=None,
        comment_id="c9",
        ts=T0 + seq,
        seq=seq,
    )


SESSION: list[Record | Catalog] = [
    CATALOG,
    ViewerCount(stream=STREAM, viewers=40, ts=T0),
    intent(1, f"chốt 2 hộp {PHONE}", T0 + 1),
    intent(9, f"cho mình cái kia nhé {PHONE}", T0 + 2),
    event(1, "o1", 2),
    needs_review(2),
    stock(148, T0 + 2),
]


@asynccontextmanager
async def feed_app(kafka: str, prefix: str) -> AsyncIterator[TestClient[Any, Any]]:
    redis = Redis.from_url(REDIS_URL)
    producer = ActionProducer(kafka, prefix)
    await producer.start()
    log: list[str] = []
    feed = RedisFeed(RedisStore(redis, prefix), producer, [], log.append)
    await feed.start()
    client = TestClient(TestServer(create_app(feed.hub, TOKEN, CollectorRegistry())))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await feed.close()
        await producer.stop()
        await redis.aclose()
    assert log == []  # every change came by its notification: none was lost or unreadable


async def snapshot(client: TestClient[Any, Any], host: bool) -> dict[str, Any]:
    response = await client.get(f"/api/streams/{STREAM}/snapshot", headers=AUTH if host else {})
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_page_shows_what_redis_holds_and_follows_it(
    kafka: str, prefix: str, redis: Redis
) -> None:
    sent = await produce(kafka, prefix, SESSION)
    async with SinkRun(kafka, prefix) as run:
        await run.read(sent)
        async with feed_app(kafka, prefix) as client:
            streams = await (await client.get("/api/streams")).json()
            assert streams == [{"id": STREAM, "title": CATALOG.title}]

            public = await snapshot(client, host=False)
            assert [o["order_id"] for o in public["orders"]] == ["o9", "o1"]
            assert public["orders"][1]["phone"] == mask_phone(PHONE)
            assert PHONE not in str(public)
            assert public["reviews"][0]["review_id"] == REVIEW_ID
            assert public["summary"]["comments"] == 2 and public["summary"]["viewers"] == 40
            oi = next(p for p in public["products"] if p["sku"] == "OI-HOP")
            assert oi["remaining"] == 148

            host = await snapshot(client, host=True)
            assert host["orders"][1]["phone"] == PHONE
            assert host["reviews"][0]["text"] == f"cho mình cái kia nhé {PHONE}"

            # live: the sink writes, the page follows
            sent += await produce(
                kafka, prefix, [intent(3, "lấy 1 hộp", T0 + 3), event(3, "o3", 1)]
            )

            async def has_o3() -> bool:
                return any(o["order_id"] == "o3" for o in (await snapshot(client, True))["orders"])

            await eventually(has_o3)

            # the host's actions go to Kafka, come back through the sink
            response = await client.post(
                f"/api/streams/{STREAM}/current", json={"code": "a2"}, headers=AUTH
            )
            assert response.status == 200
            refused = await client.post(f"/api/streams/{STREAM}/current", json={"code": "A2"})
            assert refused.status == 401
            response = await client.post(
                f"/api/streams/{STREAM}/reviews/{quote(REVIEW_ID, safe='')}/approve",
                json={"sku": "OI-KG", "qty": 1.5},
                headers=AUTH,
            )
            assert response.status == 200

            actions = await consume_all(kafka, topics.ACTIONS.name(prefix), 2)
            assert isinstance(actions[0], SetCurrent) and actions[0].code == "A2"
            approve = actions[1]
            assert isinstance(approve, Approve) and approve.action_id
            assert (approve.review_id, approve.sku, approve.qty) == (REVIEW_ID, "OI-KG", 1.5)

            async def shows_a2() -> bool:
                return bool((await snapshot(client, False))["summary"]["current"] == "A2")

            await eventually(shows_a2)
            live = await snapshot(client, host=True)

        # a feed started now rebuilds the same page from Redis alone
        async with feed_app(kafka, prefix) as client:
            rebuilt = await snapshot(client, host=True)
    for page in (live, rebuilt):
        del page["summary"]["comments_per_minute"]  # the last minute's comments are not stored
    assert rebuilt == live


async def no_actions(action: HostAction) -> None:
    raise AssertionError(f"no action expected: {action}")


async def test_a_lost_notification_or_a_late_catalog_reloads_the_stream(
    prefix: str, redis: Redis
) -> None:
    """Without Kafka: the store writes as the sink would; the feed follows."""
    store = RedisStore(redis, prefix)
    keys = store.keys
    await store.write([Entry(r) for r in (ViewerCount(stream=STREAM, viewers=7, ts=T0),)])
    log: list[str] = []
    feed = RedisFeed(RedisStore(redis, prefix), no_actions, [], log.append)
    await feed.start()
    try:
        assert feed.hub.views == {}  # no catalog yet: nothing to show
        await store.write([Entry(CATALOG), Entry(event(1, "o1", 1))])
        await eventually(lambda: has_order(feed, "o1"))
        assert feed.hub.views[STREAM].viewers == 7

        view = feed.hub.views[STREAM]
        # many live changes: the view's version is past what a rebuild from Redis counts
        await store.write([Entry(ViewerCount(stream=STREAM, viewers=v, ts=T0)) for v in range(30)])
        await eventually(lambda: viewers_are(feed, 29))
        seen = view.version
        await redis.incr(keys.of(STREAM, "version"))  # as if a notification went missing
        await store.write([Entry(event(2, "o2", 1))])
        await eventually(lambda: has_order(feed, "o2"))
        # reloaded in place, its version moved on: no snapshot cached before is served again
        assert feed.hub.views[STREAM] is view and view.version > seen
    finally:
        await feed.close()
    assert log == []


async def viewers_are(feed: RedisFeed, viewers: int) -> bool:
    return feed.hub.views[STREAM].viewers == viewers


async def has_order(feed: RedisFeed, order_id: str) -> bool:
    view = feed.hub.views.get(STREAM)
    return view is not None and order_id in view.orders


async def test_the_feed_command_prints_its_page_and_serves_it(
    kafka: str, prefix: str, redis: Redis
) -> None:
    await RedisStore(redis, prefix).write([Entry(CATALOG), Entry(event(1, "o1", 2))])
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "sinks.feed.redis_feed", "--port", "0", "--token", TOKEN),
        *("--bootstrap", kafka, "--redis", REDIS_URL, "--topic-prefix", prefix),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in range(3)]
        host_url = lines[1].split(": ", 1)[1].strip()
        assert lines[0].startswith("Trang đơn hàng (xem): http://127.0.0.1:")
        assert host_url.endswith(f"?token={TOKEN}") and lines[2].startswith("Prometheus: ")
        base = host_url.split("?", 1)[0]
        async with aiohttp.ClientSession() as session:
            url = f"{base}api/streams/{STREAM}/snapshot"
            async with session.get(url, headers=AUTH) as response:
                orders = (await response.json())["orders"]
        assert [(o["order_id"], o["phone"]) for o in orders] == [("o1", PHONE)]
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
