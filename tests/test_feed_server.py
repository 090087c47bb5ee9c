"""The feed's HTTP API: masking, auth, server-sent events, host actions, CSV export, /metrics."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from chotdon.catalog import load_catalog
from chotdon.prometheus import PARSE_BUCKETS, PipelineMetrics, TallyCounter, TallyHistogram
from chotdon.records import (
    AdjustStock,
    Approve,
    Comment,
    HostAction,
    OrderEvent,
    OrderLine,
    Reject,
    SetCurrent,
    ViewerCount,
)
from sinks.feed.hub import FeedHub
from sinks.feed.server import STATIC, create_app
from sinks.feed.view import StreamView, Update
from stream_jobs import ActionError
from tests.browser_helpers import ROOT, MiniPipeline

TOKEN = "s3cret-host-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STREAM = "kim-an-oi"
T0 = 1_714_560_000.0  # 2024-05-01 10:40:00 UTC, 17:40 in Vietnam


def plain(actions: list[HostAction]) -> list[HostAction]:
    """The actions without their ids (random per request), for comparing."""
    assert all(getattr(a, "action_id", "x") for a in actions), "every action is named once"
    return [
        a if isinstance(a, SetCurrent) else msgspec.structs.replace(a, action_id="")
        for a in actions
    ]


class Recorder:
    """The hub's action sink: records what the server submits, or refuses like the book would."""

    def __init__(self) -> None:
        self.actions: list[HostAction] = []
        self.refuse: str | None = None

    async def __call__(self, action: HostAction) -> None:
        if self.refuse:
            raise ActionError(self.refuse)
        self.actions.append(action)


def comment(cid: str, user: str, text: str, ts: float = T0, name: str = "") -> Comment:
    return Comment(
        stream=STREAM, comment_id=cid, user_id=user, text=text, ts=ts, user_name=name or user
    )


def line(sku: str, qty: float, price: int, **kw: Any) -> OrderLine:
    return OrderLine(sku=sku, variant=None, qty=qty, unit_price=price, **kw)


def order_event(
    seq: int,
    order_id: str,
    name: str,
    lines: list[OrderLine],
    phone: str | None = None,
    kind: str = "confirmed",
    ts: float = T0,
) -> OrderEvent:
    total = round(sum(x.qty * x.unit_price for x in lines if x.status == "confirmed"))
    return OrderEvent(
        kind=kind,  # type: ignore[arg-type]
        stream=STREAM,
        order_id=order_id,
        customer=f"file:{name}",
        customer_name=name,
        lines=lines,
        total=total,
        phone=phone,
        comment_id=f"c{seq}",
        ts=ts,
        seq=seq,
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def hub(recorder: Recorder) -> FeedHub:
    view = StreamView.for_catalog(load_catalog("kim-an"))
    hub = FeedHub({STREAM: view}, recorder)
    hub.apply(STREAM, comment("c1", "lan", "chốt 2 hộp ổi sdt 0912 345 678", name="Chị Lan"))
    hub.apply(
        STREAM,
        order_event(1, "o-lan", "Chị Lan", [line("OI-HOP", 2, 80000)], phone="0912345678"),
    )
    hub.apply(STREAM, comment("c2", "minh", "chốt 2 nhé, gọi 0987654321", T0 + 5, "Anh Minh"))
    review = line("", 0, 0, status="review", review_id="c2#0", missing="product")
    hub.apply(
        STREAM, order_event(2, "o-minh", "Anh Minh", [review], kind="needs_review", ts=T0 + 5)
    )
    return hub


@pytest.fixture
async def client(hub: FeedHub) -> AsyncIterator[TestClient[Any, Any]]:
    metrics = PipelineMetrics()
    async with TestClient(TestServer(create_app(hub, TOKEN, metrics.registry))) as client:
        yield client


async def read_event(response: ClientResponse) -> tuple[str, Any]:
    """The next server-sent event (kind, data), skipping comments and the retry hint."""
    kind, data = "message", ""
    while True:
        raw = await asyncio.wait_for(response.content.readline(), 5)
        assert raw, "the event stream ended"
        text = raw.decode().rstrip("\n")
        if text == "":
            if data:
                return kind, json.loads(data)
            continue
        if text.startswith(":") or text.startswith("retry:"):
            continue
        field, _, value = text.partition(": ")
        if field == "event":
            kind = value
        elif field == "data":
            data += value


# -- the page and read-only API -------------------------------------------------------------


async def test_page_is_vietnamese_and_served_locally(client: TestClient[Any, Any]) -> None:
    page = await client.get("/")
    assert page.status == 200
    html = await page.text()
    assert '<html lang="vi">' in html and 'name="viewport"' in html
    assert 'data-testid="order-feed"' in html and "Tải đơn hàng (CSV)" in html
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"  # the URL may hold the token
    for asset in ("app.js", "style.css"):
        response = await client.get(f"/static/{asset}")
        assert response.status == 200
    for path in STATIC.iterdir():  # no CDN: the host's laptop may be offline
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name


async def test_streams_and_unknown_stream(client: TestClient[Any, Any]) -> None:
    streams = await (await client.get("/api/streams")).json()
    assert streams == [{"id": STREAM, "title": "Phiên chợ điện tử Đoàn xã Kim An: ổi Kim An"}]
    missing = await client.get("/api/streams/nope/snapshot")
    assert missing.status == 404
    assert "nope" in (await missing.json())["vi"]


async def test_snapshot_is_masked_without_the_token(client: TestClient[Any, Any]) -> None:
    public = await (await client.get(f"/api/streams/{STREAM}/snapshot")).json()
    host = await (await client.get(f"/api/streams/{STREAM}/snapshot", headers=AUTH)).json()
    by_query = await (await client.get(f"/api/streams/{STREAM}/snapshot?token={TOKEN}")).json()
    wrong = await (await client.get(f"/api/streams/{STREAM}/snapshot?token=guess")).json()

    assert [o["customer_name"] for o in public["orders"]] == ["Anh Minh", "Chị Lan"]  # newest 1st
    lan = public["orders"][1]
    assert lan["phone"] == "0912***678" and lan["total"] == 160000 and lan["status"] == "confirmed"
    assert public["orders"][0]["status"] == "needs_review"
    assert public["reviews"][0]["text"] == "chốt 2 nhé, gọi 0987***321"
    assert public["reviews"][0]["missing"] == "product"
    assert public["summary"]["revenue"] == 160000 and public["summary"]["orders"] == 1
    assert public["summary"]["target_revenue"] == 3000000
    assert {p["code"] for p in public["products"]} == {"A1", "A2", "A3", "A4", "A5"}

    for full in (host, by_query):
        assert full["orders"][1]["phone"] == "0912345678"
        assert full["reviews"][0]["text"] == "chốt 2 nhé, gọi 0987654321"
    assert wrong == public
    assert (await (await client.get("/api/me", headers=AUTH)).json()) == {"host": True}
    assert (await (await client.get("/api/me")).json()) == {"host": False}


async def test_an_empty_token_signs_nobody_in(hub: FeedHub) -> None:
    app = create_app(hub, "", PipelineMetrics().registry)
    async with TestClient(TestServer(app)) as client:
        me = await client.get("/api/me", headers={"Authorization": "Bearer "})
        assert (await me.json()) == {"host": False}
        denied = await client.post(f"/api/streams/{STREAM}/current?token=", json={"code": "A1"})
        assert denied.status == 401


# -- server-sent events ---------------------------------------------------------------------


async def test_events_start_with_a_snapshot_then_push_orders(
    client: TestClient[Any, Any], hub: FeedHub
) -> None:
    public = await client.get(f"/api/streams/{STREAM}/events")
    host = await client.get(f"/api/streams/{STREAM}/events?token={TOKEN}")
    assert public.headers["Content-Type"].startswith("text/event-stream")
    for response in (public, host):
        kind, snapshot = await read_event(response)
        assert kind == "snapshot" and len(snapshot["orders"]) == 2
    assert hub.subscribers == 2

    hub.apply(STREAM, comment("c3", "hoa", "lấy 1 hộp quà sdt 0355 111 222", T0 + 9, "Hoa"))
    hub.apply(
        STREAM,
        order_event(3, "o-hoa", "Hoa", [line("QUA-OI", 1, 150000)], "0355111222", ts=T0 + 9),
    )
    seen: dict[str, Any] = {}
    while "order" not in seen:
        kind, data = await read_event(public)
        seen[kind] = data
    assert seen["order"]["customer_name"] == "Hoa" and seen["order"]["phone"] == "0355***222"
    assert seen["order"]["total"] == 150000

    while True:
        kind, data = await read_event(host)
        if kind == "order":
            break
    assert data["phone"] == "0355111222"

    public.close()
    host.close()


async def test_each_update_is_encoded_once_for_the_viewers_and_once_for_the_host(
    client: TestClient[Any, Any], hub: FeedHub
) -> None:
    pages = [
        await client.get(f"/api/streams/{STREAM}/events"),
        await client.get(f"/api/streams/{STREAM}/events"),
        await client.get(f"/api/streams/{STREAM}/events?token={TOKEN}"),
    ]
    for page in pages:
        assert (await read_event(page))[0] == "snapshot"
    watcher = hub.subscribe(STREAM)
    hub.apply(
        STREAM,
        order_event(3, "o-hoa", "Hoa", [line("QUA-OI", 1, 150000)], "0355111222", ts=T0 + 9),
    )
    phones = []
    for page in pages:
        while (event := await read_event(page))[0] != "order":
            pass
        phones.append(event[1]["phone"])
    assert phones == ["0355***222", "0355***222", "0355111222"]
    [order] = [u for _, u in await watcher.batch() if u.kind == "order"]
    assert set(order.sent) == {True, False}  # masked, once for both viewers; and the host's
    assert b"0355***222" in order.sent[True] and b"0355111222" in order.sent[False]
    for page in pages:
        page.close()
    watcher.close()


async def test_a_slow_page_gets_the_latest_state_not_every_step(hub: FeedHub) -> None:
    subscription = hub.subscribe(STREAM)
    for viewers in (10, 20, 30):
        hub.apply(STREAM, ViewerCount(stream=STREAM, viewers=viewers, ts=T0 + 20))
    hub.publish("other", Update("summary", {"viewers": 1}))  # not this page's stream
    batch = await subscription.batch()
    assert [(s, u.kind) for s, u in batch] == [(STREAM, "summary")]
    assert batch[0][1].data["viewers"] == 30 and batch[0][1].data["viewers_peak"] == 30

    hub.publish(STREAM, Update("order", None, "o1"))
    hub.publish(STREAM, Update("order", None, "o2"))
    hub.publish(STREAM, Update("order", None, "o1"))
    assert [u.key for _, u in await subscription.batch()] == ["o2", "o1"]

    subscription.close()
    assert hub.subscribers == 0 and await subscription.batch() == []


async def test_shutdown_ends_open_event_streams(hub: FeedHub) -> None:
    server = TestServer(create_app(hub, TOKEN, PipelineMetrics().registry))
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    response = await client.get(f"/api/streams/{STREAM}/events")
    await read_event(response)
    await asyncio.wait_for(client.close(), 10)  # would hang for the shutdown timeout otherwise
    assert hub.subscribers == 0


# -- host actions ---------------------------------------------------------------------------


async def test_actions_need_the_token(client: TestClient[Any, Any], recorder: Recorder) -> None:
    posts = [
        ("/current", {"code": "A2"}),
        ("/reviews/c2%230/approve", {"sku": "OI-HOP", "qty": 2}),
        ("/reviews/c2%230/reject", {}),
        ("/stock", {"sku": "OI-HOP", "delta": 10}),
    ]
    for path, body in posts:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await client.post(f"/api/streams/{STREAM}{path}", json=body, headers=headers)
            assert response.status == 401, path
            error = await response.json()
            assert error["error"] == "unauthorized" and error["vi"] and error["en"]
    assert recorder.actions == []


async def test_set_current(client: TestClient[Any, Any], recorder: Recorder) -> None:
    url = f"/api/streams/{STREAM}/current"
    assert (await client.post(url, json={"code": "a3"}, headers=AUTH)).status == 200
    assert (await client.post(f"{url}?token={TOKEN}", json={"code": None})).status == 200
    # stamped with the latest event time the view knows (the stream's clock, not the server's)
    assert recorder.actions == [
        SetCurrent(stream=STREAM, code="A3", ts=T0 + 5),
        SetCurrent(stream=STREAM, code=None, ts=T0 + 5),
    ]
    for bad in ({"code": "Z9"}, {"code": 7}):
        response = await client.post(url, json=bad, headers=AUTH)
        assert response.status == 400
        error = await response.json()
        assert error["error"] == "unknown_code"
        assert "Không có sản phẩm" in error["vi"] and "No product" in error["en"]
    not_json = await client.post(url, data=b"A3", headers=AUTH)
    assert not_json.status == 400 and (await not_json.json())["error"] == "bad_json"
    assert len(recorder.actions) == 2


async def test_approve_and_reject(client: TestClient[Any, Any], recorder: Recorder) -> None:
    base = f"/api/streams/{STREAM}/reviews"
    ok = await client.post(
        f"{base}/c2%230/approve", json={"sku": "OI-HOP", "variant": None, "qty": 2}, headers=AUTH
    )
    assert ok.status == 200
    kg = await client.post(
        f"{base}/c2%230/approve", json={"sku": "OI-KG", "qty": 1.5}, headers=AUTH
    )
    assert kg.status == 200
    assert (await client.post(f"{base}/c2%230/reject", headers=AUTH, json={})).status == 200
    assert plain(recorder.actions) == [
        Approve(stream=STREAM, review_id="c2#0", sku="OI-HOP", qty=2, ts=T0 + 5),
        Approve(stream=STREAM, review_id="c2#0", sku="OI-KG", qty=1.5, ts=T0 + 5),
        Reject(stream=STREAM, review_id="c2#0", ts=T0 + 5),
    ]

    refused = [
        ("c2#0", {"sku": "Z9", "qty": 1}, 400, "unknown_sku"),
        ("c2#0", {"sku": "OI-HOP", "qty": 1.5}, 400, "bad_qty"),  # half a box
        ("c2#0", {"sku": "OI-HOP", "qty": 0}, 400, "bad_qty"),
        ("c2#0", {"sku": "OI-HOP", "qty": "2"}, 400, "bad_qty"),
        ("c2#0", {"sku": "OI-HOP", "qty": 1, "variant": "XL"}, 400, "bad_variant"),
        ("c9#0", {"sku": "OI-HOP", "qty": 1}, 404, "unknown_review"),
    ]
    for rid, body, status, code in refused:
        response = await client.post(f"{base}/{rid.replace('#', '%23')}/approve", json=body,
                                     headers=AUTH)  # fmt: skip
        assert response.status == status, body
        assert (await response.json())["error"] == code
    assert len(recorder.actions) == 3


async def test_adjust_stock(client: TestClient[Any, Any], recorder: Recorder) -> None:
    url = f"/api/streams/{STREAM}/stock"
    assert (await client.post(url, json={"sku": "NUOC-OI", "delta": -5}, headers=AUTH)).ok
    assert plain(recorder.actions) == [
        AdjustStock(stream=STREAM, sku="NUOC-OI", delta=-5, ts=T0 + 5)
    ]
    for body in ({"sku": "XX", "delta": 1}, {"sku": "OI-HOP", "delta": 0}, {"sku": "OI-HOP"}):
        assert (await client.post(url, json=body, headers=AUTH)).status == 400


async def test_an_action_the_book_refuses_is_a_conflict(
    client: TestClient[Any, Any], recorder: Recorder
) -> None:
    recorder.refuse = "only 3 of OI-HOP is unreserved to remove"
    response = await client.post(
        f"/api/streams/{STREAM}/stock", json={"sku": "OI-HOP", "delta": -10}, headers=AUTH
    )
    assert response.status == 409
    assert "only 3 of OI-HOP" in (await response.json())["en"]


# -- CSV and metrics ------------------------------------------------------------------------


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.reader(io.StringIO(body[3:].decode("utf-8"))))


async def test_csv_export(client: TestClient[Any, Any], hub: FeedHub) -> None:
    hub.apply(
        STREAM,
        order_event(
            3,
            "o-evil",
            "=HYPERLINK(1)",
            [line("OI-KG", 1.5, 30000), line("QUA-OI", 2, 150000, status="waitlisted")],
            ts=T0 + 7,
        ),
    )
    url = f"/api/streams/{STREAM}/orders.csv"
    public = await client.get(url)
    assert public.status == 200
    assert public.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in public.headers["Content-Disposition"]
    rows = read_csv(await public.read())
    assert rows[0] == [
        "Mã đơn", "Khách hàng", "SĐT", "Sản phẩm", "Phân loại", "Số lượng", "Đơn vị",
        "Đơn giá", "Thành tiền", "Trạng thái", "Thời gian",
    ]  # fmt: skip
    assert rows[1] == [
        "o-lan", "Chị Lan", "0912***678", "Ổi Kim An hộp 2kg", "", "2", "hộp",
        "80000", "160000", "Đã chốt", "2024-05-01 17:40:00",
    ]  # fmt: skip
    # the review-only order has no line to pack; the spreadsheet formula is defused
    assert [r[1] for r in rows[2:4]] == ["'=HYPERLINK(1)"] * 2
    assert rows[2][5:10] == ["1.5", "kg", "30000", "45000", "Đã chốt"]
    assert rows[3][8:10] == ["300000", "Chờ hàng"]
    assert rows[4][0] == "Tổng cộng (đã chốt)" and rows[4][8] == str(160000 + 45000)
    assert len(rows) == 5

    host = read_csv(await (await client.get(url, headers=AUTH)).read())
    assert host[1][2] == "0912 345 678"  # text, so a spreadsheet keeps the leading 0


def test_metrics_looked_up_once_count_every_update() -> None:
    metrics = PipelineMetrics()
    for kind in ("order", "other", "order"):
        metrics.observe_comment(STREAM)
        metrics.observe_intent(STREAM, kind, 1e-4, failed=kind == "other")
    metrics.set_queue_depth("inbox", 5)
    metrics.set_queue_depth("inbox", 2)
    value = metrics.registry.get_sample_value
    assert value("chotdon_comments_total", {"stream": STREAM}) == 3
    assert value("chotdon_intents_total", {"stream": STREAM, "intent": "order"}) == 2
    assert value("chotdon_parse_errors_total", {"stream": STREAM}) == 1
    assert value("chotdon_parse_latency_seconds_count") == 3
    assert value("chotdon_queue_depth", {"queue": "inbox"}) == 2


def test_tallies_expose_what_the_library_metrics_would() -> None:
    """The per-comment counters and the parse-latency histogram, kept in plain values, read on a
    scrape as prometheus-client's own Counter and Histogram fed the same (a bucket counts up to
    and including its bound; `_created` samples aside)."""
    tallied, library = CollectorRegistry(), CollectorRegistry()
    counter = TallyCounter("chotdon_x", "X", ["stream", "kind"], tallied)
    histogram = TallyHistogram("chotdon_x_seconds", "Time", PARSE_BUCKETS, tallied)
    counter_ = Counter("chotdon_x", "X", ["stream", "kind"], registry=library)
    histogram_ = Histogram("chotdon_x_seconds", "Time", buckets=PARSE_BUCKETS, registry=library)
    counter.keep("b", "order")
    counter_.labels("b", "order")
    for stream, kind in [("a", "order"), ("a", "other"), ("a", "order"), ("b", "order")]:
        counter.add(stream, kind)
        counter_.labels(stream, kind).inc()
    for seconds in (0.0, 20e-6, 20.5e-6, 1e-3, 0.011, 7.0, 3e-4):  # on, beside and above bounds
        histogram.observe(seconds)
        histogram_.observe(seconds)

    def exposed(registry: CollectorRegistry) -> list[str]:
        lines = generate_latest(registry).decode().splitlines()
        return [line for line in lines if "_created" not in line]

    assert exposed(tallied) == exposed(library)
    assert tallied.get_sample_value("chotdon_x_total", {"stream": "a", "kind": "order"}) == 2
    assert tallied.get_sample_value("chotdon_x_seconds_bucket", {"le": "2e-05"}) == 2


async def test_metrics_exposition(hub: FeedHub) -> None:
    metrics = PipelineMetrics()
    metrics.observe_comment(STREAM)
    metrics.observe_intent(STREAM, "order", 80e-6)
    metrics.observe_order_event(order_event(1, "o", "x", [line("OI-HOP", 1, 80000)]))
    metrics.set_revenue(STREAM, 80000, 3_000_000)
    metrics.set_queue_depth("parse", 3)
    metrics.dead_letter("stdin", "bad_json")
    hub.observe(metrics)
    async with TestClient(TestServer(create_app(hub, TOKEN, metrics.registry))) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    for sample in (
        'chotdon_comments_total{stream="kim-an-oi"} 1.0',
        'chotdon_intents_total{intent="order",stream="kim-an-oi"} 1.0',
        'chotdon_orders_total{status="confirmed",stream="kim-an-oi"} 1.0',
        'chotdon_revenue_vnd{stream="kim-an-oi"} 80000.0',
        'chotdon_revenue_target_vnd{stream="kim-an-oi"} 3e+06',
        'chotdon_parse_latency_seconds_bucket{le="0.0001"} 1.0',
        'chotdon_queue_depth{queue="parse"} 3.0',
        'chotdon_dead_letters_total{reason="bad_json",source="stdin"} 1.0',
        "chotdon_feed_subscribers 0.0",
    ):
        assert sample in text, sample


# -- through a real pipeline ------------------------------------------------------------------


async def test_a_comment_becomes_a_live_order_and_the_host_settles_a_review() -> None:
    pipeline = MiniPipeline(load_catalog("kim-an"))
    app = create_app(pipeline.hub, TOKEN, pipeline.metrics.registry)
    async with TestClient(TestServer(app)) as client:
        events = await client.get(f"/api/streams/{STREAM}/events")
        await read_event(events)
        pipeline.comment(comment("c1", "lan", "chốt 2 hộp ổi sdt 0912 345 678", T0, "Chị Lan"))
        kind, order = await read_event(events)
        while kind != "order":
            kind, order = await read_event(events)
        assert order["phone"] == "0912***678" and order["total"] == 160000

        pipeline.comment(comment("c2", "minh", "chốt 2 nhé", T0 + 1, "Anh Minh"))
        snapshot = await (await client.get(f"/api/streams/{STREAM}/snapshot")).json()
        [review] = snapshot["reviews"]
        assert review["text"] == "chốt 2 nhé" and review["missing"] == "product"

        approve = await client.post(
            f"/api/streams/{STREAM}/reviews/{review['review_id'].replace('#', '%23')}/approve",
            json={"sku": "NUOC-OI", "qty": 2},
            headers=AUTH,
        )
        assert approve.status == 200
        snapshot = await (await client.get(f"/api/streams/{STREAM}/snapshot")).json()
        assert snapshot["reviews"] == [] and snapshot["summary"]["revenue"] == 160000 + 50000
        stock = {p["sku"]: p for p in snapshot["products"]}
        assert stock["NUOC-OI"]["remaining"] == 98 and stock["NUOC-OI"]["reserved"] == 2

        again = await client.post(
            f"/api/streams/{STREAM}/reviews/{review['review_id'].replace('#', '%23')}/reject",
            headers=AUTH,
        )
        assert again.status == 404  # settled already
        events.close()


def test_the_view_keeps_revenue_and_comment_rate_as_orders_change() -> None:
    view = StreamView.for_catalog(load_catalog("kim-an"))
    for i in range(3):
        view.apply(comment(f"c{i}", "lan", "chốt", T0 + i))
    view.apply(order_event(1, "o1", "Lan", [line("OI-HOP", 2, 80000)]))
    view.apply(order_event(2, "o2", "Hoa", [line("OI-KG", 1.5, 30000)]))
    view.apply(order_event(3, "o1", "Lan", [line("OI-HOP", 3, 80000)], kind="updated"))
    view.apply(order_event(2, "o2", "Hoa", [], kind="cancelled"))  # seen already: dropped
    summary = view.summary()
    assert (summary["revenue"], summary["orders"]) == (240000 + 45000, 2)
    assert summary["comments_per_minute"] == 3 and summary["comments"] == 3

    view.apply(order_event(4, "o2", "Hoa", [], kind="cancelled"))
    view.apply(ViewerCount(stream=STREAM, viewers=50, ts=T0 + 62.5))  # a minute on, no comments
    summary = view.summary()
    assert (summary["revenue"], summary["orders"]) == (240000, 1)
    assert summary["comments_per_minute"] == 0 and view.last_ts == T0 + 62.5
    assert view.snapshot(masked=True)["orders"][0]["status"] == "cancelled"


async def test_feed_metrics_count_pages_and_the_events_they_are_sent(hub: FeedHub) -> None:
    metrics = PipelineMetrics()
    hub.observe(metrics)
    async with TestClient(TestServer(create_app(hub, TOKEN, metrics.registry))) as client:
        page = await client.get(f"/api/streams/{STREAM}/events")
        assert (await read_event(page))[0] == "snapshot"
        hub.apply(STREAM, order_event(3, "o-hoa", "Hoa", [line("QUA-OI", 1, 150000)], ts=T0 + 9))
        while (await read_event(page))[0] != "order":
            pass
        text = await (await client.get("/metrics")).text()
        page.close()

    assert "chotdon_feed_connections_total 1.0" in text
    assert "chotdon_feed_subscribers 1.0" in text
    assert 'chotdon_feed_events_total{kind="order"} 1.0' in text


async def test_the_host_changes_a_variants_own_stock_and_the_page_shows_each_variant() -> None:
    catalog = load_catalog(str(ROOT / "tests" / "data" / "variants" / "dac-san.json"))
    pipeline = MiniPipeline(catalog)
    stream, url = catalog.stream, f"/api/streams/{catalog.stream}/stock"
    app = create_app(pipeline.hub, TOKEN, pipeline.metrics.registry)
    async with TestClient(TestServer(app)) as client:
        body = {"sku": "CHE-SHAN", "variant": "200g", "delta": 3}
        assert (await client.post(url, json=body, headers=AUTH)).ok
        for bad in ("100g", "1kg"):  # shares the product's stock; not a variant of it
            body = {"sku": "CHE-SHAN", "variant": bad, "delta": 1}
            response = await client.post(url, json=body, headers=AUTH)
            assert response.status == 400
            assert (await response.json())["error"] == "bad_variant"
        pipeline.comment(
            Comment(stream=stream, comment_id="c1", user_id="lan", text="chốt 2 túi chè", ts=T0)
        )
        [review] = (await (await client.get(f"/api/streams/{stream}/snapshot")).json())["reviews"]
        approve = await client.post(
            f"/api/streams/{stream}/reviews/{review['review_id'].replace('#', '%23')}/approve",
            json={"sku": "CHE-SHAN", "variant": "200g", "qty": 2},
            headers=AUTH,
        )
        assert approve.status == 200
        snapshot = await (await client.get(f"/api/streams/{stream}/snapshot")).json()
        metrics = await (await client.get("/metrics")).text()
    assert snapshot["summary"]["revenue"] == 2 * 170_000
    tea_stock = f'chotdon_stock{{sku="CHE-SHAN",state="remaining",stream="{stream}",variant='
    assert f'{tea_stock}"200g"}} 3.0' in metrics and f'{tea_stock}""}} 13.0' in metrics
    products = {p["sku"]: p for p in snapshot["products"]}
    tea = products["CHE-SHAN"]
    assert (tea["remaining"], tea["reserved"], tea["initial"]) == (13, 2, 12)
    assert tea["options"] == [
        {
            "variant": "200g",
            "price": 170_000,
            "own_stock": True,
            "initial": 2,
            "remaining": 3,
            "reserved": 2,
            "waiting": 0,
        }
    ]
    [half_kilo] = products["THIT-TRAU"]["options"]  # its own price, the product's stock
    assert half_kilo == {
        "variant": "500g",
        "price": 480_000,
        "own_stock": False,
        "initial": 0,
        "remaining": 0,
        "reserved": 0,
        "waiting": 0,
    }


async def test_the_operations_api_gives_every_streams_health_without_customers(
    client: TestClient[Any, Any], hub: FeedHub
) -> None:
    ops = await (await client.get("/api/ops")).json()
    (line,) = ops
    assert line["stream"] == STREAM and line["orders"] == 1 and line["revenue"] == 160000
    assert line["target_revenue"] == 3000000 and line["reviews"] == 1
    assert line["last_seen_s"] > 0  # the fixture's comments are from the past
    assert "0912" not in json.dumps(ops)
    assert not [v for v in line.values() if isinstance(v, list | dict)]  # no orders, no people
    page = await client.get("/ops")
    assert page.status == 200 and "Mọi phiên live" in await page.text()
