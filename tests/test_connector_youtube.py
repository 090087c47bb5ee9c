"""The YouTube connector against a local fake of the Data API v3, driven by the shared runner."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, ViewerCount
from ingest.connectors.base import Backoff, Checkpoint, ConnectorRecord
from ingest.connectors.runner import Outcome, UsageError, run_connector
from ingest.connectors.tokens import RefreshingToken, TokenStore
from ingest.connectors.youtube import QuotaBudget, YouTubeConnector, google_refresh
from tests.fakes.youtube_api import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    OAUTH_TOKEN,
    REFRESH_TOKEN,
    FakeYouTube,
    chat_ended,
    deleted_message,
    moderator_message,
    owner_message,
    retracted_message,
    text_message,
    tombstone,
    user_banned,
)
from tests.redis_helpers import eventually

T0 = 1_714_560_000.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.close()


def connector(
    fake: FakeYouTube,
    *,
    api_key: str | None = API_KEY,
    oauth_token: str | None = None,
    live_chat_id: str | None = None,
    viewers_every: float = 3600.0,
    streaming: bool = False,
    **options: Any,
) -> YouTubeConnector:
    """A connector polling `list` (streamList: streaming=True), with a quota that never paces
    the test unless it passes its own."""
    return YouTubeConnector(
        fake.video_id,
        api_url=fake.url,
        api_key=api_key,
        oauth_token=oauth_token,
        live_chat_id=live_chat_id,
        viewers_every=viewers_every,
        streaming=streaming,
        **{"quota": 10**9, **options},
    )


class Run:
    """One run of the runner: what it emitted, its outcome and metrics."""

    def __init__(self) -> None:
        self.records: list[ConnectorRecord] = []
        self.metrics = ConnectorMetrics()
        self.stop = asyncio.Event()
        self.stop_after: int | None = None
        self.logs: list[str] = []

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)
        if self.stop_after is not None and len(self.comments) >= self.stop_after:
            self.stop.set()

    @property
    def comments(self) -> list[Comment]:
        return [r for r in self.records if isinstance(r, Comment)]

    def token(self, name: str) -> float:
        """chotdon_ingest_token_NAME (NaN: absent)."""
        value = self.metrics.registry.get_sample_value(
            f"chotdon_ingest_token_{name}", {"platform": "youtube", "stream": "vid123"}
        )
        return math.nan if value is None else value

    def errors(self, kind: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "chotdon_ingest_errors_total",
            {"platform": "youtube", "stream": "vid123", "kind": kind},
        )
        return value or 0.0

    async def __call__(
        self, conn: YouTubeConnector, checkpoint: Checkpoint | None = None
    ) -> Outcome:
        return await asyncio.wait_for(
            run_connector(
                conn,
                self.emit,
                stop=self.stop,
                metrics=self.metrics,
                checkpoint=checkpoint,
                log=self.logs.append,
                backoff=Backoff(base=0.001, cap=0.01),
            ),
            timeout=10,
        )


def chat(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        text_message(f"m{i}", f"A{i} 1 cái sđt 0912345{i:03d}", T0 + i, f"UC{i % 3}", f"Khách {i}")
        for i in range(start, start + n)
    ]


async def test_pages_are_followed_and_every_comment_arrives_once_in_order(
    fake: FakeYouTube,
) -> None:
    fake.messages = [*chat(8), chat_ended("end", T0 + 9)]
    run = Run()
    outcome = await run(connector(fake))
    assert outcome.reason == "ended" and "chatEndedEvent" in outcome.message
    assert [c.comment_id for c in run.comments] == [f"youtube:m{i}" for i in range(8)]
    first = run.comments[0]
    assert (first.stream, first.user_id, first.user_name, first.platform) == (
        "vid123",
        "UC0",
        "Khách 0",
        "youtube",
    )
    assert first.text == "A0 1 cái sđt 0912345000" and first.ts == T0
    # The first response is the chat's backlog; later pages are live.
    assert [c.history for c in run.comments] == [True] * 3 + [False] * 5
    requests = fake.requests
    assert [r.get("pageToken") for r in requests] == [None, "t3", "t6"]
    assert all(r["part"] == "id,snippet,authorDetails" for r in requests)
    assert all(r["liveChatId"] == "chat-abc" and r["key"] == API_KEY for r in requests)


async def test_viewers_come_from_video_details_as_a_number(fake: FakeYouTube) -> None:
    fake.messages = [*chat(1), chat_ended("end", T0 + 2)]
    fake.viewers = 1234
    run = Run()
    await run(connector(fake, viewers_every=0.0))
    viewers = [r for r in run.records if isinstance(r, ViewerCount)]
    assert viewers and all(v.viewers == 1234 and v.platform == "youtube" for v in viewers)
    assert isinstance(run.records[0], ViewerCount)  # read before the chat is polled


async def test_deleted_message_undoes_its_comment(fake: FakeYouTube) -> None:
    fake.messages = [*chat(3), deleted_message("d1", "m1", T0 + 5), chat_ended("end", T0 + 6)]
    run = Run()
    await run(connector(fake))
    assert [(c.comment_id, c.deleted) for c in run.comments] == [
        ("youtube:m0", False),
        ("youtube:m1", False),
        ("youtube:m2", False),
        ("youtube:m1", True),
    ]
    assert run.comments[-1].ts == T0 + 5 and run.comments[-1].text == ""


async def test_failures_and_overlapping_pages_lose_and_repeat_nothing(fake: FakeYouTube) -> None:
    fake.messages = [*chat(10), chat_ended("end", T0 + 11)]
    fake.failures.extend(["500", "ok", "drop", "overlap", "rate", "garbage", "overlap"])
    run = Run()
    outcome = await run(connector(fake))
    assert outcome.reason == "ended"
    assert [c.comment_id for c in run.comments] == [f"youtube:m{i}" for i in range(10)]
    assert run.errors("transient") == 3  # 500, dropped connection, HTML body
    assert run.errors("rate_limited") == 1
    duplicates = run.metrics.registry.get_sample_value(
        "chotdon_ingest_duplicates_total", {"platform": "youtube", "stream": "vid123"}
    )
    assert duplicates == 4  # two overlapping pages, two repeats each


@pytest.mark.parametrize(
    ("failure", "reason", "words"),
    [
        ("quota", "quota", "daily quota"),
        ("expired", "auth", "YOUTUBE_OAUTH_TOKEN"),
        ("not_found", "ended", "liveChatNotFound"),
    ],
)
async def test_errors_stop_with_a_clear_outcome(
    fake: FakeYouTube, failure: str, reason: str, words: str
) -> None:
    fake.messages = chat(2)
    fake.failures.append(failure)
    run = Run()
    outcome = await run(connector(fake, oauth_token=OAUTH_TOKEN, api_key=None))
    assert outcome.reason == reason and words in outcome.message
    assert run.comments == []
    assert len(fake.requests) == 1  # stopped, not a crash loop


@pytest.mark.parametrize("gone", ["liveChatEnded", "liveChatDisabled"])
async def test_chat_gone_ends_the_session(fake: FakeYouTube, gone: str) -> None:
    fake.chat_gone = gone
    outcome = await Run()(connector(fake))
    assert outcome.reason == "ended" and gone in outcome.message


async def test_invalid_api_key_stops_with_auth(fake: FakeYouTube) -> None:
    run = Run()
    outcome = await run(connector(fake, api_key="wrong"))
    assert outcome.reason == "auth" and "YOUTUBE_API_KEY" in outcome.message
    assert run.errors("auth") == 1


def test_a_credential_is_required() -> None:
    with pytest.raises(UsageError, match="YOUTUBE_API_KEY"):
        YouTubeConnector("vid123")


async def test_offline_broadcast_drains_then_ends(fake: FakeYouTube) -> None:
    fake.messages = chat(4)
    fake.ended_at = T0 + 100  # pages now carry offlineAt
    run = Run()
    outcome = await run(connector(fake, live_chat_id="chat-abc"))
    assert outcome.reason == "ended" and "offline" in outcome.message
    assert [c.comment_id for c in run.comments] == [f"youtube:m{i}" for i in range(4)]


async def test_ended_broadcast_has_no_chat_to_join(fake: FakeYouTube) -> None:
    fake.ended_at = T0 + 100
    outcome = await Run()(connector(fake))
    assert outcome.reason == "ended" and "ended at" in outcome.message
    assert fake.requests == []


async def test_malformed_messages_are_skipped_and_counted(fake: FakeYouTube) -> None:
    broken = text_message("bad", "x", T0)
    del broken["snippet"]["publishedAt"]
    fake.messages = [chat(1)[0], broken, *chat(1, start=1), chat_ended("end", T0 + 5)]
    run = Run()
    await run(connector(fake))
    assert [c.comment_id for c in run.comments] == ["youtube:m0", "youtube:m1"]
    malformed = run.metrics.registry.get_sample_value(
        "chotdon_ingest_malformed_total", {"platform": "youtube", "stream": "vid123"}
    )
    assert malformed == 1
    assert any("malformed" in line and "0912***000" not in line for line in run.logs)


async def test_restart_resumes_from_the_saved_page_token(fake: FakeYouTube, tmp_path: Path) -> None:
    fake.messages = [*chat(9), chat_ended("end", T0 + 10)]
    path = tmp_path / "youtube.json"
    first = Run()
    first.stop_after = 4  # stopped (SIGTERM) mid-session
    assert (await first(connector(fake), Checkpoint(path))).reason == "stopped"
    saved = json.loads(path.read_text())
    assert saved["live_chat_id"] == "chat-abc" and saved["page_token"] == "t6"
    emitted = len(first.comments)
    assert emitted == 6  # the whole second page was flushed before stopping

    second = Run()
    assert (await second(connector(fake), Checkpoint(path))).reason == "ended"
    assert fake.requests[-2].get("pageToken") == "t6"
    ids = [c.comment_id for c in first.comments + second.comments]
    assert ids == [f"youtube:m{i}" for i in range(9)]
    assert not any(c.history for c in second.comments)  # a resume is not a backlog


async def test_stream_list_reads_every_message_once_across_reconnects(fake: FakeYouTube) -> None:
    """streamList closes after a few responses; each reconnect resumes from the last token,
    a dropped stream and an overlapping one lose and repeat nothing."""
    fake.messages = [*chat(10), chat_ended("end", T0 + 11)]
    fake.failures.extend(["ok", "drop", "overlap", "500"])
    fake.stream_frames = 2
    run = Run()
    outcome = await run(connector(fake, streaming=True))
    assert outcome.reason == "ended" and "chatEndedEvent" in outcome.message
    assert [c.comment_id for c in run.comments] == [f"youtube:m{i}" for i in range(10)]
    assert [c.history for c in run.comments[:4]] == [True, True, True, False]
    assert fake.stream_requests >= 4 and fake.requests[0].get("pageToken") is None
    assert all(r.get("pageToken") for r in fake.requests[1:])
    assert run.errors("transient") == 2


async def test_without_stream_list_it_falls_back_to_polling(fake: FakeYouTube) -> None:
    fake.stream_supported = False
    fake.messages = [*chat(4), chat_ended("end", T0 + 5)]
    run = Run()
    assert (await run(connector(fake, streaming=True))).reason == "ended"
    assert len(run.comments) == 4 and fake.stream_requests == 1
    assert any("polling list instead" in line for line in run.logs)


@pytest.mark.parametrize("streaming", [True, False])
async def test_retracted_tombstoned_and_banned_messages_undo_their_comments(
    fake: FakeYouTube, streaming: bool
) -> None:
    fake.messages = [
        text_message("a", "chốt 2", T0, "UCa"),
        text_message("b", "chốt 1", T0 + 1, "UCb"),
        text_message("s1", "lấy 5", T0 + 2, "UCspam"),
        text_message("s2", "lấy 6", T0 + 3, "UCspam"),
        text_message("c", "chốt 3", T0 + 4, "UCc"),
        retracted_message("r1", "a", T0 + 5, "UCa"),
        tombstone("b", T0 + 6),
        user_banned("ban1", "UCspam", T0 + 7),
        chat_ended("end", T0 + 8),
    ]
    run = Run()
    assert (await run(connector(fake, streaming=streaming))).reason == "ended"
    deleted = [c.comment_id for c in run.comments if c.deleted]
    assert deleted == ["youtube:a", "youtube:b", "youtube:s1", "youtube:s2"]
    assert [c.comment_id for c in run.comments if not c.deleted][-1] == "youtube:c"


async def test_the_owner_is_not_a_buyer_and_moderators_optionally_not(fake: FakeYouTube) -> None:
    fake.messages = [
        owner_message("o1", "chốt đơn đi cả nhà, 2 hộp 150k", T0),
        moderator_message("mod1", "chốt 1 hộp", T0 + 1),
        text_message("v1", "chốt 2 hộp", T0 + 2),
        chat_ended("end", T0 + 3),
    ]
    run = Run()
    await run(connector(fake))
    assert [c.comment_id for c in run.comments] == ["youtube:mod1", "youtube:v1"]
    run = Run()
    await run(connector(fake, skip_moderators=True))
    assert [c.comment_id for c in run.comments] == ["youtube:v1"]


async def test_an_expiring_oauth_token_is_renewed_and_kept(
    fake: FakeYouTube, tmp_path: Path
) -> None:
    """Tokens live 0.5 s here (an hour at Google): renewed 0.35 s before expiry (a busy machine
    may hold a request back that long), and after a 401."""
    fake.token_lifetime = 0.5
    fake.messages = chat(40)
    fake.polling_interval_ms = 20
    store = TokenStore(tmp_path / "youtube.tokens")
    refresh = google_refresh(fake.url + "/token", CLIENT_ID, CLIENT_SECRET)
    oauth = RefreshingToken(None, REFRESH_TOKEN, refresh, store=store, margin=0.35)
    fake.page_size = 1
    run = Run()
    run.stop_after = 40
    conn = connector(fake, api_key=None, oauth=oauth, viewers_every=0.2)
    assert (await run(conn)).reason == "stopped"
    assert len(run.comments) == 40 and run.errors("auth") == 0
    assert fake.refreshes >= 3  # 40 polls of 20 ms outlive several tokens
    assert oauth.refreshes == fake.refreshes
    saved = store.load()
    assert saved is not None and saved.access_token == oauth.access_token
    assert (tmp_path / "youtube.tokens").stat().st_mode & 0o077 == 0  # the owner's only


async def test_the_token_metrics_show_its_expiry_and_a_failing_renewal(fake: FakeYouTube) -> None:
    """Tokens live 0.5 s here (an hour at Google). While Google's token endpoint is down the
    token runs out and the renewal is marked failed; once it answers again, both recover."""
    fake.token_lifetime = 0.5
    fake.messages = chat(3)
    fake.polling_interval_ms = 20
    refresh = google_refresh(fake.url + "/token", CLIENT_ID, CLIENT_SECRET)
    oauth = RefreshingToken(None, REFRESH_TOKEN, refresh, margin=0.35)
    run = Run()
    task = asyncio.create_task(run(connector(fake, api_key=None, oauth=oauth)))

    def token(expiring: Callable[[float], bool], failed: float) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return expiring(run.token("expiry_seconds")) and run.token("renewal_failed") == failed

        return check

    await eventually(token(lambda left: 0 < left <= 0.5, 0.0), timeout=10)
    fake.token_down = True
    await eventually(token(lambda left: left < 0, 1.0), timeout=10)
    assert run.errors("transient") > 0 and run.errors("auth") == 0  # retried, not stopped
    fake.token_down = False
    await eventually(token(lambda left: 0 < left <= 0.5, 0.0), timeout=10)
    run.stop.set()
    assert (await task).reason == "stopped"


async def test_a_revoked_refresh_token_stops_with_a_clear_message(fake: FakeYouTube) -> None:
    fake.messages = chat(2)
    refresh = google_refresh(fake.url + "/token", CLIENT_ID, CLIENT_SECRET)
    oauth = RefreshingToken(None, "1//revoked", refresh)
    run = Run()
    outcome = await run(connector(fake, api_key=None, oauth=oauth))
    assert outcome.reason == "auth" and "YOUTUBE_REFRESH_TOKEN" in outcome.message
    assert run.token("renewal_failed") == 1 and math.isnan(run.token("expiry_seconds"))


def test_the_quota_budget_spaces_calls_so_the_quota_lasts_the_live() -> None:
    budget = QuotaBudget(quota=10_000, hours=4, viewers_every=30)
    assert budget.chat_interval == pytest.approx(5 * 4 * 3600 / (10_000 - 480))
    assert budget.hours_at(budget.chat_interval) == pytest.approx(4)
    assert budget.hours_at(3.0) == pytest.approx(1.6, abs=0.05)  # the figure
    assert "1.6 h" in budget.plan(streaming=True)
    confirming = QuotaBudget(quota=10_000, hours=4, viewers_every=30, reply_share=0.25)
    assert confirming.chat_interval == pytest.approx(5 * 4 * 3600 / (7_500 - 480))
    assert confirming.hours_at(confirming.chat_interval) == pytest.approx(4)
    assert confirming.replies == 50
    assert "25% is kept for at most 50 confirmations" in confirming.plan(streaming=True)


async def test_calls_are_paced_by_the_budget_and_the_plan_is_said(fake: FakeYouTube) -> None:
    fake.messages = [*chat(3), chat_ended("end", T0 + 4)]
    fake.page_size = 1
    run = Run()
    # 20 units for 1/500 hour: a 5-unit call every 0.09 s at most (the viewers cost the rest)
    conn = connector(fake, quota=40, hours=1 / 500, viewers_every=3600)
    started = asyncio.get_running_loop().time()
    assert (await run(conn)).reason == "ended"
    assert asyncio.get_running_loop().time() - started >= 3 * conn.budget.chat_interval
    assert any("YouTube quota" in line for line in run.logs)
    assert conn.units == fake.units
    # what Prometheus sees: the share of the 40 units left after the last chat page
    left = run.metrics.registry.get_sample_value(
        "chotdon_ingest_quota_remaining_ratio", {"platform": "youtube", "stream": "vid123"}
    )
    assert left is not None and 1 - conn.units / 40 <= left < 1


@pytest.mark.parametrize("oauth", [False, True])
async def test_without_a_video_the_channels_live_is_found(fake: FakeYouTube, oauth: bool) -> None:
    fake.messages = [*chat(2), chat_ended("end", T0 + 3)]
    conn = YouTubeConnector(
        "kim-an-oi",
        channel_id="mine" if oauth else fake.channel_id,
        api_key=None if oauth else API_KEY,
        oauth_token=OAUTH_TOKEN if oauth else None,
        api_url=fake.url,
        streaming=False,
        quota=10**9,
    )
    run = Run()
    assert (await run(conn)).reason == "ended"
    assert conn.video_id == fake.video_id and len(run.comments) == 2
    fake.ended_at = T0
    off = YouTubeConnector(
        "kim-an-oi", channel_id=fake.channel_id, api_key=API_KEY, api_url=fake.url, quota=10**9
    )
    outcome = await Run()(off)
    assert outcome.reason == "ended" and "not live" in outcome.message
