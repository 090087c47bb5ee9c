"""The feed under many viewers: capacity kept for the host, a cap per address, slots freed when a
page goes, names other than the server's refused (DNS rebinding), review texts bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from chotdon.catalog import load_catalog
from chotdon.prometheus import PipelineMetrics
from chotdon.records import Comment, OrderEvent, OrderLine, ViewerCount
from sinks.feed import server
from sinks.feed.hub import FeedHub
from sinks.feed.server import create_app
from sinks.feed.view import REVIEW_TEXT_CHARS, REVIEWS_SENT, VIEWER_ORDERS, StreamView
from tests.test_feed_server import AUTH, STREAM, TOKEN, Recorder

EVENTS = f"/api/streams/{STREAM}/events"


@pytest.fixture
async def feed() -> AsyncIterator[TestServer]:
    hub = FeedHub({STREAM: StreamView.for_catalog(load_catalog("kim-an"))}, Recorder())
    app = create_app(hub, TOKEN, PipelineMetrics().registry, hosts=["shop.example"])
    test_server = TestServer(app)
    async with test_server:
        yield test_server


async def open_page(
    http: aiohttp.ClientSession, feed: TestServer, headers: dict[str, str] | None = None
) -> aiohttp.ClientResponse | int:
    """An open event stream (its snapshot read), or the status it was refused with."""
    response = await http.get(feed.make_url(EVENTS), headers=headers or {})
    if response.status != 200:
        status = response.status
        response.release()
        return status
    await response.content.readuntil(b"\n\n")  # retry:
    return response


async def test_viewers_cannot_take_the_hosts_capacity(
    feed: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "MAX_PAGES", 5)
    monkeypatch.setattr(server, "HOST_PAGES", 2)
    monkeypatch.setattr(server, "PAGES_PER_ADDRESS", 10)
    async with aiohttp.ClientSession() as http:
        viewers = [await open_page(http, feed) for _ in range(4)]
        assert [isinstance(v, aiohttp.ClientResponse) for v in viewers] == [True] * 3 + [False]
        assert viewers[3] == 503
        hosts = [await open_page(http, feed, AUTH) for _ in range(3)]
        assert [isinstance(h, aiohttp.ClientResponse) for h in hosts] == [True, True, False]
        for page in [*viewers, *hosts]:
            if isinstance(page, aiohttp.ClientResponse):
                page.close()


async def test_one_address_has_a_cap_and_a_page_gone_frees_its_slot_at_once(
    feed: TestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "PAGES_PER_ADDRESS", 2)
    async with aiohttp.ClientSession() as http:
        pages = [await open_page(http, feed) for _ in range(3)]
        assert pages[2] == 503
        first = pages[0]
        assert isinstance(first, aiohttp.ClientResponse)
        first.close()  # a hit-and-run client: gone without a word
        started = time.monotonic()
        while not isinstance(again := await open_page(http, feed), aiohttp.ClientResponse):
            assert time.monotonic() - started < 5, "the slot waited for the next ping"
            await asyncio.sleep(0.1)
        assert time.monotonic() - started < server.PING_S
        for page in (pages[1], again):
            assert isinstance(page, aiohttp.ClientResponse)
            page.close()


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 421),
        ("evil.example:8080", 421),
        ("127.0.0.1:8080", 200),
        ("[::1]:8080", 200),
        ("localhost:8080", 200),
        ("shop.example", 200),
    ],
)
async def test_only_the_servers_own_names_are_answered(
    feed: TestServer, host: str, status: int
) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.get(feed.make_url("/api/streams"), headers={"Host": host})
        assert response.status == status


def test_review_texts_and_the_queue_sent_are_bounded() -> None:
    view = StreamView.for_catalog(load_catalog("kim-an"), STREAM)
    for i in range(REVIEWS_SENT + 50):
        cid = f"c{i}"
        view.apply(
            Comment(stream=STREAM, comment_id=cid, user_id=f"u{i}", text="ổi " * 5000, ts=float(i))
        )
        line = OrderLine(
            sku="", variant=None, qty=0, unit_price=0, status="review", review_id=f"{cid}#0",
            missing="product",
        )  # fmt: skip
        view.apply(
            OrderEvent(
                kind="needs_review",
                stream=STREAM,
                order_id=f"o{i}",
                customer=f"file:u{i}",
                customer_name="Lan",
                lines=[line],
                total=0,
                phone=None,
                comment_id=cid,
                ts=float(i),
                seq=i + 1,
            )
        )
    sent: list[dict[str, Any]] = view.snapshot(masked=True)["reviews"]
    assert len(sent) == REVIEWS_SENT
    assert sent[0]["review_id"] == "c0#0"  # the oldest first: the host settles those
    assert all(len(r["text"]) <= REVIEW_TEXT_CHARS for r in sent)


async def test_half_open_requests_are_bounded_and_timed_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 6)
    monkeypatch.setattr(server, "HEADERS_S", 0.5)
    hub = FeedHub({STREAM: StreamView.for_catalog(load_catalog("kim-an"))}, Recorder())
    runner = await server.serve(hub, TOKEN, PipelineMetrics().registry, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        held = []
        for _ in range(10):  # slow-loris: a request line, never the end of the headers
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /api/streams HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held.append((reader, writer))
        await asyncio.sleep(0.1)
        closed = [r.at_eof() or (await asyncio.wait_for(r.read(), 0.2)) == b"" for r, _ in held[6:]]
        assert all(closed)  # beyond the cap: closed at once
        started = time.monotonic()
        for reader, _ in held[:6]:  # the others: closed once HEADERS_S has passed
            assert await asyncio.wait_for(reader.read(), 5) == b""
        assert time.monotonic() - started < 3
        url = f"http://127.0.0.1:{port}/api/streams"  # and the server still answers
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            assert response.status == 200
        for _, writer in held:
            writer.close()
    finally:
        await runner.cleanup()


async def test_a_crowd_of_viewers_costs_one_snapshot_of_the_newest_orders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    view = StreamView.for_catalog(load_catalog("kim-an"), STREAM)
    line = OrderLine(sku="OI-HOP", variant=None, qty=1, unit_price=80_000)
    for i in range(VIEWER_ORDERS * 3):
        event = OrderEvent(
            kind="confirmed", stream=STREAM, order_id=f"o{i}", customer=f"file:u{i}",
            customer_name=f"Khách {i}", lines=[line], total=80_000, phone=None,
            comment_id=f"c{i}", ts=float(i), seq=i + 1,
        )  # fmt: skip
        view.apply(event)
    builds = 0
    snapshot = view.snapshot

    def counted(masked: bool) -> dict[str, Any]:
        nonlocal builds
        builds += 1
        return snapshot(masked)

    monkeypatch.setattr(view, "snapshot", counted)
    hub = FeedHub({STREAM: view}, Recorder())
    app = create_app(hub, TOKEN, PipelineMetrics().registry)
    async with TestServer(app) as feed, aiohttp.ClientSession() as http:
        url = feed.make_url(f"/api/streams/{STREAM}/snapshot")
        bodies = await asyncio.gather(*(http.get(url) for _ in range(50)))
        first = await bodies[0].json()
        assert builds == 1
        assert len(first["orders"]) == VIEWER_ORDERS
        assert first["orders"][0]["order_id"] == f"o{VIEWER_ORDERS * 3 - 1}"  # newest first
        host = await (await http.get(url, headers=AUTH)).json()
        assert len(host["orders"]) == VIEWER_ORDERS * 3 and builds == 2
        hub.apply(STREAM, ViewerCount(stream=STREAM, viewers=9, ts=1.0))  # a change: rebuilt
        assert (await (await http.get(url)).json())["summary"]["viewers"] == 9
        assert builds == 3
        for response in bodies:
            response.release()


def test_the_review_queue_changes_by_deltas() -> None:
    view = StreamView.for_catalog(load_catalog("kim-an"), STREAM)

    def review_event(seq: int, order: str, review_ids: list[str]) -> OrderEvent:
        lines = [
            OrderLine(sku="", variant=None, qty=0, unit_price=0, status="review", review_id=r,
                      missing="product")
            for r in review_ids
        ]  # fmt: skip
        return OrderEvent(
            kind="needs_review", stream=STREAM, order_id=order, customer=f"file:{order}",
            customer_name="Lan 0912 345 999", lines=lines, total=0, phone=None,
            comment_id=f"c{seq}", ts=float(seq), seq=seq,
        )  # fmt: skip

    view.apply(review_event(1, "o1", ["c1#0"]))
    updates = view.apply(review_event(2, "o2", ["c2#0"]))
    sent = [
        (u.kind, u.key, view.update_json(u, masked=True)) for u in updates if "review" in u.kind
    ]
    assert [(kind, key) for kind, key, _ in sent] == [("review", "c2#0")]  # not the whole queue
    assert sent[0][2]["customer_name"] == "Lan 0912***999"
    settled = view.apply(review_event(3, "o1", []))
    assert [(u.kind, u.data) for u in settled if "review" in u.kind] == [
        ("review", {"review_id": "c1#0", "gone": True})
    ]
