"""A three-hour live per platform, compressed in time, against each platform's fake: realistic
pacing (YouTube's budgeted calls, Shopee's 10-second window, Facebook's usage headers rising,
TikTok reconnects replaying history), tokens expiring at their documented lifetime (compressed),
deletions, failures - nothing lost, nothing doubled, YouTube's quota within the day's budget.

Opt-in: CHOTDON_SOAK=1 (CHOTDON_SOAK_SECONDS, default 60: the real seconds one platform's three
hours take). Run with -s to see each platform's figures.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment
from ingest.connectors.base import Backoff, Checkpoint, ConnectorRecord
from ingest.connectors.facebook import FacebookLive
from ingest.connectors.runner import Connector, Outcome, run_connector
from ingest.connectors.shopee import ShopeeConnector
from ingest.connectors.tiktok import TikTokBridgeConnector
from ingest.connectors.tokens import RefreshingToken, TokenStore
from ingest.connectors.youtube import DAILY_QUOTA, YouTubeConnector, google_refresh
from tests.fakes import shopee_api, tiktok_bridge, youtube_api
from tests.fakes.facebook_graph import TOKEN, Failure, FakeGraph, comment

pytestmark = pytest.mark.skipif(
    not os.environ.get("CHOTDON_SOAK"),
    reason="soak test: CHOTDON_SOAK=1 (CHOTDON_SOAK_SECONDS, default 60 per platform)",
)
LIVE = 3 * 3600.0  # seconds of live
REAL = float(os.environ.get("CHOTDON_SOAK_SECONDS", "60"))
K = LIVE / REAL  # virtual seconds per real second
PER_SECOND = 0.5  # comments a virtual second: 5,400 in three hours
STREAM = "kim-an-oi"


SHOPEE_K = min(K, 30.0)  # Shopee's 10 s window must stay wider than a busy loop's stalls


class Clock:
    """Virtual unix time running `k` times faster than the wall clock."""

    def __init__(self, start: float = 1_795_737_600.0, k: float = K) -> None:
        self.start, self.origin, self.k = start, time.monotonic(), k

    def __call__(self) -> float:
        return self.start + (time.monotonic() - self.origin) * self.k

    @property
    def elapsed(self) -> float:
        return self() - self.start


@dataclass
class Soak:
    platform: str
    records: list[ConnectorRecord] = field(default_factory=list)
    metrics: ConnectorMetrics = field(default_factory=ConnectorMetrics)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    started: float = field(default_factory=time.monotonic)

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)

    async def run(self, connector: Connector, checkpoint: Path) -> Outcome:
        return await run_connector(
            connector,
            self.emit,
            stop=self.stop,
            metrics=self.metrics,
            checkpoint=Checkpoint(checkpoint),
            log=lambda _m: None,
            backoff=Backoff(base=0.01, cap=0.2),
        )

    def ids(self, deleted: bool = False) -> list[str]:
        return [
            r.comment_id for r in self.records if isinstance(r, Comment) and r.deleted == deleted
        ]

    def sample(self, name: str, stream: str = STREAM, **more: str) -> float:
        labels = {"platform": self.platform, "stream": stream, **more}
        return sum(
            s.value
            for metric in self.metrics.registry.collect()
            for s in metric.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def report(self, **figures: object) -> None:
        wall = time.monotonic() - self.started
        shown = ", ".join(f"{k} {v}" for k, v in figures.items())
        print(f"\nsoak {self.platform}: 3 h live in {wall:.0f} s: {shown}")

    def check_once(self, expected: list[str]) -> None:
        got = self.ids()
        assert len(got) == len(set(got)), "a comment was emitted twice"
        assert sorted(got) == sorted(expected), f"lost {len(set(expected) - set(got))}"


async def audience(clock: Clock, post: Callable[[int, float], None]) -> int:
    """A comment every 1/PER_SECOND virtual seconds for the live's three hours."""
    n = 0
    while clock.elapsed < LIVE:
        due = n / PER_SECOND
        if clock.elapsed < due:
            await asyncio.sleep((due - clock.elapsed) / clock.k)
            continue
        post(n, clock())
        n += 1
    return n


async def test_youtube_three_hours(tmp_path: Path) -> None:
    fake = youtube_api.FakeYouTube(page_size=2000, stream_frames=5)
    fake.token_lifetime = 3599 / K  # Google's access tokens last an hour
    fake.polling_interval_ms = max(1, int(3000 / K))
    await fake.start()
    clock, soak = Clock(), Soak("youtube")
    deleted: list[str] = []

    def post(n: int, ts: float) -> None:
        fake.messages.append(
            youtube_api.text_message(f"m{n}", f"chốt {n % 7 + 1} hộp", ts, f"UC{n % 311}")
        )
        if n % 50 == 49:  # a moderator removes one; a buyer takes one back
            fake.messages.append(youtube_api.deleted_message(f"d{n}", f"m{n - 10}", ts))
            fake.messages.append(
                youtube_api.retracted_message(f"r{n}", f"m{n - 20}", ts, f"UC{(n - 20) % 311}")
            )
            deleted.extend([f"youtube:m{n - 10}", f"youtube:m{n - 20}"])
        if n % 1500 == 0 and n:
            fake.failures.extend(["drop", "500"])

    refresh = google_refresh(fake.url + "/token", youtube_api.CLIENT_ID, youtube_api.CLIENT_SECRET)
    oauth = RefreshingToken(
        None,
        youtube_api.REFRESH_TOKEN,
        refresh,
        store=TokenStore(tmp_path / "yt.tokens"),
        margin=300 / K,
    )
    connector = YouTubeConnector(
        fake.video_id,
        oauth=oauth,
        api_url=fake.url,
        hours=LIVE / 3600 / K,
        viewers_every=30 / K,
        quota=DAILY_QUOTA,
    )
    run = asyncio.create_task(soak.run(connector, tmp_path / "yt.json"))
    posted = await audience(clock, post)
    fake.messages.append(youtube_api.chat_ended("end", clock()))
    outcome = await asyncio.wait_for(run, 60)
    await fake.close()
    assert outcome.reason == "ended"
    soak.check_once([f"youtube:m{n}" for n in range(posted)])
    assert sorted(soak.ids(deleted=True)) == sorted(deleted)
    assert fake.units <= DAILY_QUOTA and connector.units == fake.units
    assert fake.refreshes >= 3  # three hours of one-hour tokens
    soak.report(
        comments=posted,
        deletions=len(deleted),
        quota_units=fake.units,
        calls=fake.stream_requests,
        token_refreshes=fake.refreshes,
        duplicates_dropped=int(soak.sample("chotdon_ingest_duplicates_total", fake.video_id)),
    )


async def test_shopee_three_hours(tmp_path: Path) -> None:
    k = SHOPEE_K
    clock = Clock(k=k)
    fake = shopee_api.FakeShopee(page_size=20, clock=clock)
    fake.token_lifetime = 4 * 3600 / k
    fake.access_tokens[shopee_api.ACCESS_TOKEN] = time.monotonic() + 3600 / k  # 1 h left
    await fake.start()
    soak = Soak("shopee")

    def post(n: int, ts: float) -> None:
        fake.comments.append(shopee_api.comment(n, f"chốt {n % 5 + 1}", int(ts), 500 + n % 211))
        if n % 1200 == 0 and n:
            fake.failures.extend(["500", "overlap"])

    connector = ShopeeConnector(
        str(fake.session_id),
        partner_id=str(shopee_api.PARTNER_ID),
        partner_key=shopee_api.PARTNER_KEY,
        access_token=shopee_api.ACCESS_TOKEN,
        user_id=str(shopee_api.USER_ID),
        api_url=fake.url,
        window=10 / k,
        poll_every=2 / K,
        metrics_every=10 / K,
    )
    connector.token = RefreshingToken(
        shopee_api.ACCESS_TOKEN,
        shopee_api.REFRESH_TOKEN,
        connector.refresher(),
        store=TokenStore(tmp_path / "sp.tokens"),
        margin=300 / k,
    )
    run = asyncio.create_task(soak.run(connector, tmp_path / "sp.json"))
    posted = await audience(clock, post)
    await asyncio.sleep(20 / k)  # the last window is read
    fake.status = 2
    outcome = await asyncio.wait_for(run, 60)
    await fake.close()
    assert outcome.reason == "ended"
    soak.check_once([f"shopee:{273_887_000 + n}" for n in range(posted)])
    assert fake.refreshes >= 1
    assert soak.sample("chotdon_ingest_errors_total", str(fake.session_id)) >= 2  # retried
    soak.report(
        comments=posted,
        polls=len(fake.requests),
        token_refreshes=fake.refreshes,
        gaps=int(soak.sample("chotdon_ingest_errors_total", str(fake.session_id), kind="gap")),
        duplicates_dropped=int(
            soak.sample("chotdon_ingest_duplicates_total", str(fake.session_id))
        ),
    )


async def test_facebook_three_hours(tmp_path: Path) -> None:
    graph, clock, soak = FakeGraph(), Clock(), Soak("facebook")
    await graph.start()

    def post(n: int, ts: float) -> None:
        graph.add(comment(f"7712_{n}", f"chốt {n % 4 + 1} hộp", int(ts), user=f"u{n % 997}"))
        graph.usage = min(85, int(clock.elapsed / LIVE * 100))  # rising towards the limit
        if n % 1500 == 0 and n:
            graph.fail(Failure("502"))
            graph.fail(Failure("graph", code=4, http_status=403))

    connector = FacebookLive(
        STREAM,
        graph.video_id,
        TOKEN,
        graph_url=graph.base_url,
        interval=2 / K,
        status_every=10 / K,
        clock=clock,
    )
    run = asyncio.create_task(soak.run(connector, tmp_path / "fb.json"))
    posted = await audience(clock, post)
    graph.end_at(graph.polls + 1)
    outcome = await asyncio.wait_for(run, 120)
    await graph.stop()
    assert outcome.reason == "ended"
    soak.check_once([f"facebook:7712_{n}" for n in range(posted)])
    soak.report(
        comments=posted,
        polls=graph.polls,
        usage_at_end=f"{graph.usage}%",
        duplicates_dropped=int(soak.sample("chotdon_ingest_duplicates_total")),
    )


async def test_tiktok_three_hours(tmp_path: Path) -> None:
    connector = TikTokBridgeConnector(STREAM, "127.0.0.1", 0)
    soak, clock = Soak("tiktok"), Clock()
    run = asyncio.create_task(soak.run(connector, tmp_path / "tt.json"))
    await asyncio.wait_for(connector.started.wait(), 10)
    bridge = tiktok_bridge.FakeBridge(f"http://127.0.0.1:{connector.port}")
    await bridge.connect()
    deleted: list[str] = []
    pending: list[int] = []

    def post(n: int, ts: float) -> None:
        pending.append(n)

    async def forward() -> None:
        reconnects = 0
        while True:
            while pending:
                n = pending.pop(0)
                await bridge.send(
                    tiktok_bridge.chat(n, f"chốt {n % 3 + 1}", user=n % 401, ms=int(clock() * 1000))
                )
                if n % 100 == 99:
                    await bridge.send(tiktok_bridge.im_delete(n - 5))
                    deleted.append(tiktok_bridge.msg_id(n - 5))
                if n % 900 == 899:  # the bridge's connection drops; it reconnects
                    await bridge.drop()
                    bridge.history = bridge.history[-50:]  # TikTok replays the recent chat
                    await bridge.connect()
                    reconnects += 1
            await asyncio.sleep(0.001)

    forwarding = asyncio.create_task(forward())
    posted = await audience(clock, post)
    while pending:
        await asyncio.sleep(0.01)
    forwarding.cancel()
    await bridge.send(tiktok_bridge.stream_end())
    outcome = await asyncio.wait_for(run, 60)
    await bridge.drop()
    assert outcome.reason == "ended"
    soak.check_once([tiktok_bridge.msg_id(n) for n in range(posted)])
    assert sorted(soak.ids(deleted=True)) == sorted(deleted)
    soak.report(
        comments=posted,
        deletions=len(deleted),
        reconnects=math.floor(posted / 900),
        duplicates_dropped=int(soak.sample("chotdon_ingest_duplicates_total")),
    )
