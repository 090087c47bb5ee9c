"""Confirming orders to buyers: the messages (pure), the rate limit, and the replies sent to each
platform's local fake - and `chotdon run --source facebook:... --confirm` end to end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from redis.asyncio import Redis

from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.records import OrderEvent, OrderLine, encode
from ingest.connectors.facebook import FacebookLive
from ingest.connectors.shopee import ShopeeConnector
from ingest.connectors.tokens import RefreshingToken
from ingest.connectors.youtube import YouTubeConnector
from sinks.redis_store import RedisAnswered
from sinks.sqlite_store import ConnectorStates
from stream_jobs.confirm import Answered, Confirmer, repliers_of
from stream_jobs.confirm_messages import (
    DEFAULT_TEMPLATES,
    RateLimit,
    TemplateError,
    reply_for,
    templates_from,
)
from tests.commands import chotdon
from tests.fakes import shopee_api
from tests.fakes.facebook_graph import (  # noqa: F401  (fixtures)
    TOKEN,
    Failure,
    FakeGraph,
    comment,
    graph_fixture,
)
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.youtube_api import API_KEY, OAUTH_TOKEN, FakeYouTube
from tests.redis_helpers import (  # noqa: F401  (fixtures)
    REDIS_URL,
    kafka_fixture,
    prefix_fixture,
    redis_fixture,
)

CATALOG = load_catalog("kim-an")
STREAM = CATALOG.stream
T0 = 1_795_737_600


def event(
    kind: str = "confirmed",
    comment_id: str = "facebook:c1",
    lines: list[OrderLine] | None = None,
    name: str = "Lan",
    phone: str | None = "0912345678",
) -> OrderEvent:
    lines = (
        lines
        if lines is not None
        else [OrderLine(sku="OI-HOP", variant=None, qty=2, unit_price=80_000)]
    )
    return OrderEvent(
        kind=kind,  # type: ignore[arg-type]
        stream=STREAM,
        order_id="o1",
        customer="facebook:1001",
        customer_name=name,
        lines=lines,
        total=sum(int(line.qty * line.unit_price) for line in lines if line.status == "confirmed"),
        phone=phone,
        comment_id=comment_id,
        ts=T0,
        seq=1,
    )


def test_each_kind_gets_its_vietnamese_message_without_the_phone() -> None:
    reply = reply_for(event(name="Lan 0912345678"), CATALOG, DEFAULT_TEMPLATES)
    assert reply is not None and (reply.platform, reply.comment_id) == ("facebook", "c1")
    assert reply.text == (
        "Cảm ơn Lan 0912***678! Shop đã chốt đơn: 2 hộp Ổi Kim An hộp 2kg. Tổng 160.000 ₫."
    )
    waiting = [OrderLine(sku="OI-HOP", variant=None, qty=1, unit_price=80_000, status="waitlisted")]
    reply = reply_for(event("waitlisted", lines=waiting), CATALOG, DEFAULT_TEMPLATES)
    assert reply is not None and "1 hộp Ổi Kim An hộp 2kg tạm hết hàng" in reply.text
    review = [
        OrderLine(
            sku="",
            variant=None,
            qty=0,
            unit_price=0,
            status="review",
            review_id="r1",
            missing="product",
        )
    ]
    reply = reply_for(event("needs_review", lines=review), CATALOG, DEFAULT_TEMPLATES)
    assert reply is not None and "xin thêm tên sản phẩm" in reply.text
    for text in (r.text for r in [reply] if r):
        assert "0912345678" not in text


def test_no_reply_for_host_actions_cancels_or_tiktok() -> None:
    assert reply_for(event(comment_id="host-abc123"), CATALOG, DEFAULT_TEMPLATES) is None
    assert reply_for(event("cancelled"), CATALOG, DEFAULT_TEMPLATES) is None
    assert reply_for(event(comment_id="tiktok:1"), CATALOG, DEFAULT_TEMPLATES) is None


def test_the_hosts_templates_are_checked() -> None:
    own = templates_from(json.dumps({"confirmed": "Dạ {ten}, chốt {hang} = {tong} ạ"}))
    assert own["confirmed"] == "Dạ {ten}, chốt {hang} = {tong} ạ"
    assert own["waitlisted"] == DEFAULT_TEMPLATES["waitlisted"]
    for bad, why in [
        ('{"confirmed": "Dạ {sdt}"}', "unknown placeholder"),
        ('{"chao": "x"}', "unknown kind"),
        ('{"confirmed": ""}', "1 to 300"),
        ('{"confirmed": "{ten"}', "confirmed"),
        ("[1]", "object"),
    ]:
        with pytest.raises(TemplateError, match=why):
            templates_from(bad, "mau.json")


def test_the_rate_limit_spaces_replies_after_a_burst() -> None:
    limit = RateLimit(rate=0.5, burst=2)
    assert [limit.delay(100.0), limit.delay(100.0)] == [0.0, 0.0]
    assert limit.delay(100.0) == pytest.approx(2.0)
    assert limit.delay(102.0) == 0.0


async def confirm(confirmer: Confirmer, *events: OrderEvent) -> None:
    task = asyncio.create_task(confirmer.run())
    for e in events:
        confirmer.offer(e)
    await confirmer.drain(10)
    task.cancel()


async def test_facebook_private_replies_once_per_comment(graph: FakeGraph) -> None:
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    logs: list[str] = []
    confirmer = Confirmer(
        [CATALOG], [live], streams={STREAM}, log=logs.append, rates={"facebook": 100.0}
    )
    await confirm(confirmer, event(), event("updated"), event(comment_id="facebook:c2"))
    assert [(kind, cid) for kind, cid, _ in graph.replies] == [("private", "c1"), ("private", "c2")]
    assert graph.replies[0][2].startswith("Cảm ơn Lan!")
    assert confirmer.stats.sent == 2 and logs == []

    live.private_replies = False
    other = Confirmer([CATALOG], [live], streams={STREAM}, log=logs.append)
    await confirm(other, event(comment_id="facebook:c3"))
    assert graph.replies[-1][:2] == ("public", "c3")


async def test_replies_are_off_unless_the_stream_is_switched_on(graph: FakeGraph) -> None:
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    confirmer = Confirmer([CATALOG], [live], streams=set(), log=print)
    await confirm(confirmer, event())
    assert graph.replies == []


async def test_a_refused_token_switches_the_platform_off(graph: FakeGraph) -> None:
    live = FacebookLive(STREAM, graph.video_id, "wrong", graph_url=graph.base_url)
    logs: list[str] = []
    confirmer = Confirmer(
        [CATALOG], [live], streams={STREAM}, log=logs.append, rates={"facebook": 100.0}
    )
    await confirm(confirmer, event(), event(comment_id="facebook:c2"))
    assert confirmer.off == {"facebook"} and confirmer.stats.failed == 1
    assert graph.replies == [] and "replies off" in logs[0]


async def test_youtube_inserts_a_chat_message_with_oauth_only() -> None:
    fake = FakeYouTube()
    await fake.start()
    try:
        connector = YouTubeConnector(
            STREAM, video_id=fake.video_id, oauth_token=OAUTH_TOKEN, api_url=fake.url
        )
        confirmer = Confirmer(
            [CATALOG],
            repliers_of([connector], public_facebook=False),
            streams={STREAM},
            log=print,
            rates={"youtube": 100.0},
        )
        await confirm(confirmer, event(comment_id="youtube:m1"))
        assert fake.posted == [
            "Cảm ơn Lan! Shop đã chốt đơn: 2 hộp Ổi Kim An hộp 2kg. Tổng 160.000 ₫."
        ]
        assert connector.units == fake.units  # 1 (videos) + 50 (insert)
        keyed = YouTubeConnector(STREAM, video_id=fake.video_id, api_key=API_KEY, api_url=fake.url)
        keyed.confirming()
        logs: list[str] = []
        confirmer = Confirmer([CATALOG], [keyed], streams={STREAM}, log=logs.append)
        await confirm(confirmer, event(comment_id="youtube:m2"))
        assert len(fake.posted) == 1 and "OAuth" in logs[0]
    finally:
        await fake.close()


async def test_youtube_replies_stop_when_their_share_of_the_quota_is_spent() -> None:
    """A quarter of a 200-unit quota pays for one reply (50 units); the second is refused with
    one message and switches YouTube replies off - the reading keeps the rest."""
    fake = FakeYouTube()
    await fake.start()
    try:
        connector = YouTubeConnector(
            STREAM, video_id=fake.video_id, oauth_token=OAUTH_TOKEN, api_url=fake.url, quota=200
        )
        logs: list[str] = []
        confirmer = Confirmer(
            [CATALOG],
            repliers_of([connector], public_facebook=False),
            streams={STREAM},
            log=logs.append,
            rates={"youtube": 100.0},
        )
        assert connector.budget.reading_quota == 150
        events = [event(comment_id=f"youtube:m{n}", name=f"Khách {n}") for n in range(3)]
        await confirm(confirmer, *events)
        assert len(fake.posted) == 1 and fake.posted[0].startswith("Cảm ơn Khách 0!")
        assert confirmer.off == {"youtube"} and (confirmer.stats.sent, confirmer.stats.failed) == (
            1,
            1,
        )
        assert len(logs) == 1 and "kept for confirmations (1 replies" in logs[0]
        assert connector.units == fake.units
    finally:
        await fake.close()


def shopee_connector(fake: FakeShopee) -> ShopeeConnector:
    return ShopeeConnector(
        STREAM,
        session_id=str(fake.session_id),
        partner_id=str(shopee_api.PARTNER_ID),
        partner_key=shopee_api.PARTNER_KEY,
        access_token=shopee_api.ACCESS_TOKEN,
        user_id=str(shopee_api.USER_ID),
        api_url=fake.url,
    )


async def test_shopee_posts_the_streamers_comment() -> None:
    fake = FakeShopee()
    await fake.start()
    try:
        confirmer = Confirmer(
            [CATALOG],
            [shopee_connector(fake)],
            streams={STREAM},
            log=print,
            rates={"shopee": 100.0},
        )
        await confirm(confirmer, event(comment_id="shopee:273887000"))
        assert fake.posted and fake.posted[0].startswith("Cảm ơn Lan!")
    finally:
        await fake.close()


async def test_a_reply_whose_token_refresh_broke_is_tried_again(tmp_path: Path) -> None:
    """The connection of the token refresh before the post broke: the reply had not gone (it
    is not one that "may have been posted"), so it is tried again and the buyer answered."""
    fake = FakeShopee()
    await fake.start()
    states = ConnectorStates(tmp_path / "s.db")
    try:
        connector = shopee_connector(fake)
        connector.token = RefreshingToken(
            shopee_api.ACCESS_TOKEN, shopee_api.REFRESH_TOKEN, connector.refresher()
        )  # of unknown age: renewed before the first call
        fake.refresh_failures.append("drop")
        logs: list[str] = []
        confirmer = Confirmer(
            [CATALOG],
            [connector],
            streams={STREAM},
            answered=states,
            log=logs.append,
            rates={"shopee": 100.0},
        )
        await confirm(confirmer, event(comment_id="shopee:273887000"))
        assert fake.posted and fake.posted[0].startswith("Cảm ơn Lan!"), logs
        assert (fake.refreshes, confirmer.stats.sent, confirmer.stats.failed) == (1, 1, 0)
        assert await states.answered(STREAM, "shopee:273887000")
    finally:
        states.close()
        await fake.close()


async def test_chotdon_run_confirms_orders_on_facebook(graph: FakeGraph, tmp_path: Path) -> None:
    graph.add(
        comment("c1", "chốt 2 hộp ổi sđt 0912345678", T0, user="1001", name="Lan"),
        comment("c2", "ổi ngon quá", T0 + 1, user="1002", name="Hoa"),
        comment("c3", "lấy 1 chai nước ép", T0 + 2, user="1003", name="Minh"),
    )
    graph.end_at(1)
    env = {
        **os.environ,
        "FACEBOOK_ACCESS_TOKEN": TOKEN,
        "CHOTDON_FACEBOOK_GRAPH_URL": graph.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        *chotdon("run", "--catalog", "kim-an", f"--source=facebook:{graph.video_id}"),
        "--confirm",
        STREAM,
        "--db",
        str(tmp_path / "s.db"),
        "--no-serve",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert [(kind, cid) for kind, cid, _ in graph.replies] == [("private", "c1"), ("private", "c3")]
    assert all("0912345678" not in text for _, _, text in graph.replies)


@pytest.fixture(name="opened", params=["session", "redis"])
def opened_fixture(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], Answered]]:
    """Opens the comments answered again, as a restart does: the session's SQLite file, or
    Redis (`chotdon confirm --redis`)."""
    if request.param == "redis":
        redis, prefix = request.getfixturevalue("redis"), request.getfixturevalue("prefix")
        yield lambda: RedisAnswered(redis, prefix)
        return
    states: list[ConnectorStates] = []

    def opened() -> ConnectorStates:
        states.append(ConnectorStates(tmp_path / "s.db"))
        return states[-1]

    try:
        yield opened
    finally:
        for s in states:
            s.close()


async def test_a_restart_answers_each_comment_once(
    graph: FakeGraph, opened: Callable[[], Answered]
) -> None:
    """Public replies (the fake refuses nothing twice there): c1 answered, then a restart meets
    c1 again (a later event of the same comment) and c2; then a run dies while c3's reply is on
    its way (the platform may have posted it), and the next one does not send it again."""
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    live.private_replies = False
    first = Confirmer([CATALOG], [live], streams={STREAM}, answered=opened(), log=print)
    await confirm(first, event(comment_id="facebook:c1"))
    restarted = Confirmer([CATALOG], [live], streams={STREAM}, answered=opened(), log=print)
    await confirm(
        restarted, event("updated", comment_id="facebook:c1"), event(comment_id="facebook:c2")
    )
    assert [cid for _, cid, _ in graph.replies] == ["c1", "c2"]
    assert (restarted.stats.sent, restarted.stats.already) == (1, 1)

    graph.fail(Failure("stall", path="reply", comment="c3"))
    dying = Confirmer([CATALOG], [live], streams={STREAM}, answered=opened(), log=print)
    running = asyncio.create_task(dying.run())
    dying.offer(event(comment_id="facebook:c3"))
    while "stall" not in graph.errors_served:  # c3's request is at the platform
        await asyncio.sleep(0.01)
    running.cancel()  # the process dies
    with contextlib.suppress(asyncio.CancelledError):
        await running
    again = Confirmer([CATALOG], [live], streams={STREAM}, answered=opened(), log=print)
    await confirm(again, event(comment_id="facebook:c3"), event(comment_id="facebook:c4"))
    assert [cid for _, cid, _ in graph.replies] == ["c1", "c2", "c4"]  # c3: at most once
    assert (again.stats.sent, again.stats.already) == (1, 1)


async def test_unposted_replies_are_answered_after_a_restart(
    graph: FakeGraph, opened: Callable[[], Answered]
) -> None:
    """Replies refused before they were posted - a 401 of the platform, YouTube's local "needs
    OAuth" and its share of the quota spent - leave their comments unclaimed: once the fault
    is mended (a restart with a good token), those buyers are answered."""
    refused = FacebookLive(STREAM, graph.video_id, "wrong", graph_url=graph.base_url)
    refused.private_replies = False
    first = Confirmer([CATALOG], [refused], streams={STREAM}, answered=opened(), log=print)
    await confirm(first, event(comment_id="facebook:c1"))
    assert first.off == {"facebook"} and graph.replies == []
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    live.private_replies = False
    restarted = Confirmer([CATALOG], [live], streams={STREAM}, answered=opened(), log=print)
    await confirm(restarted, event("updated", comment_id="facebook:c1"))
    assert [cid for _, cid, _ in graph.replies] == ["c1"] and restarted.stats.sent == 1

    def replying(connector: YouTubeConnector) -> Confirmer:  # a run of its own
        repliers = repliers_of([connector], public_facebook=False)
        rates = {"youtube": 100.0}
        return Confirmer(
            [CATALOG], repliers, streams={STREAM}, answered=opened(), log=print, rates=rates
        )

    fake = FakeYouTube()
    await fake.start()
    try:
        keyed = YouTubeConnector(STREAM, video_id=fake.video_id, api_key=API_KEY, api_url=fake.url)
        oauth = YouTubeConnector(
            STREAM, video_id=fake.video_id, oauth_token=OAUTH_TOKEN, api_url=fake.url, quota=200
        )  # a quarter of the quota kept for replies: one
        for connector, events in ((keyed, ["m1"]), (oauth, ["m2", "m3"])):
            confirmer = replying(connector)
            await confirm(confirmer, *(event(comment_id=f"youtube:{m}") for m in events))
            assert confirmer.off == {"youtube"}
        assert len(fake.posted) == 1  # m2
        mended = YouTubeConnector(
            STREAM, video_id=fake.video_id, oauth_token=OAUTH_TOKEN, api_url=fake.url
        )
        again = replying(mended)
        await confirm(again, *(event(comment_id=f"youtube:{m}") for m in ("m1", "m2", "m3")))
        assert len(fake.posted) == 3 and (again.stats.sent, again.stats.already) == (2, 1)
    finally:
        await fake.close()


async def test_a_reply_whose_answer_broke_is_not_sent_again(graph: FakeGraph) -> None:
    """The platform began to answer (it had the reply) and the connection broke: a public reply
    is not retried (a second request would post it twice); a refused one is."""
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    live.private_replies = False
    logs: list[str] = []
    confirmer = Confirmer(
        [CATALOG], [live], streams={STREAM}, log=logs.append, rates={"facebook": 100.0}
    )
    graph.fail(Failure("drop", path="reply", comment="c1"))
    graph.fail(Failure("502", path="reply", comment="c2"))
    await confirm(confirmer, event(comment_id="facebook:c1"), event(comment_id="facebook:c2"))
    assert graph.errors_served == ["drop", "502"]
    assert [cid for _, cid, _ in graph.replies] == ["c2"]  # c1 asked once, c2 again after a 502
    assert (confirmer.stats.sent, confirmer.stats.failed) == (1, 1)
    assert "reply may have been posted, not retried" in logs[0]


async def test_two_confirmers_on_one_store_answer_a_comment_once(
    graph: FakeGraph, redis: Redis, prefix: str
) -> None:
    """Two `chotdon confirm` meet the same events (Kafka moving a partition between them): the
    claim in Redis is atomic, so each comment is answered by one of them."""
    live = FacebookLive(STREAM, graph.video_id, TOKEN, graph_url=graph.base_url)
    live.private_replies = False
    replicas = [
        Confirmer(
            [CATALOG], [live], streams={STREAM}, answered=RedisAnswered(redis, prefix), log=print
        )
        for _ in range(2)
    ]
    events = [event(comment_id=f"facebook:c{n}") for n in range(5)]
    await asyncio.gather(*(confirm(r, *events) for r in replicas))
    assert sorted(cid for _, cid, _ in graph.replies) == [f"c{n}" for n in range(5)]
    assert sum(r.stats.sent for r in replicas) == 5
    assert sum(r.stats.already for r in replicas) == 5


async def test_redis_keeps_the_comments_answered_a_week(redis: Redis, prefix: str) -> None:
    assert await RedisAnswered(redis, prefix).claim(STREAM, "facebook:c1")
    assert await redis.ttl(f"{prefix}:{{{STREAM}}}:answered") > 7 * 24 * 3600


async def test_chotdon_confirm_answers_from_the_orders_topic(
    kafka: str, redis: Redis, prefix: str, graph: FakeGraph
) -> None:
    """Distributed mode: order events on <prefix>.orders become replies under the comments. The
    first run is killed while c2's reply is at the platform, unanswered (its offsets never
    committed); the restart reads c0-c2 again and answers none of them again (c2's may have
    been posted: at most once), then c3, sent after. A SIGTERM then stops it cleanly."""
    orders = [event(comment_id=f"facebook:c{n}", name=f"Khách {n}") for n in range(4)]

    async def send(*events: OrderEvent) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=kafka)
        await producer.start()
        try:
            for e in events:
                await producer.send(topics.ORDERS.name(prefix), encode(e), key=STREAM.encode())
            await producer.flush()
        finally:
            await producer.stop()

    # one batch: the first run reads all of them before it can commit any
    await send(*orders[:3], event(comment_id="host-xyz"))
    graph.fail(Failure("stall", path="reply", comment="c2"))
    env = {
        **os.environ,
        "FACEBOOK_ACCESS_TOKEN": TOKEN,
        "CHOTDON_FACEBOOK_GRAPH_URL": graph.base_url,
    }
    args = chotdon(
        "confirm", "--catalog", "kim-an", f"--source=facebook:{graph.video_id}",
        "--confirm", "all", "--confirm-public", "--bootstrap", kafka, "--topic-prefix", prefix,
        "--redis", REDIS_URL,
    )  # fmt: skip

    async def replied(wanted: set[str]) -> None:
        for _ in range(600):  # a minute at most
            if wanted <= {cid for _, cid, _ in graph.replies} | set(graph.errors_served):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"no replies to {wanted}: {graph.replies}")

    first = await asyncio.create_subprocess_exec(*args, env=env)
    try:
        await replied({"c0", "c1", "stall"})  # c2's reply is on its way, unanswered
    finally:
        first.kill()
        await first.wait()
    restarted = await asyncio.create_subprocess_exec(*args, env=env, stderr=asyncio.subprocess.PIPE)
    await send(orders[3])
    await replied({"c3"})  # replies go in order: c0-c2 were met before it
    restarted.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(restarted.communicate(), 30)
    assert restarted.returncode == 0, err.decode()
    assert [cid for _, cid, _ in graph.replies] == ["c0", "c1", "c3"]
    assert graph.replies[0][2].startswith("Cảm ơn Khách 0!")
    assert "1 sent, 3 answered before" in err.decode()
