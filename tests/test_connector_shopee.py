"""The Shopee Live connector against a local fake of the Open Platform v2 livestream API (which
checks every request's signature), driven by the shared runner."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, SetCurrent, ViewerCount
from ingest.connectors.base import Backoff, Checkpoint, ConnectorRecord
from ingest.connectors.runner import Outcome, UsageError, run_connector
from ingest.connectors.shopee import ShopeeConnector, build
from ingest.connectors.tokens import RefreshingToken, TokenStore
from tests.fakes.shopee_api import (
    ACCESS_TOKEN,
    PARTNER_ID,
    PARTNER_KEY,
    REFRESH_TOKEN,
    USER_ID,
    FakeShopee,
    comment,
    sign,
)

T0 = 1_714_560_000
STREAM = "6236215"


@pytest.fixture
async def fake() -> AsyncIterator[FakeShopee]:
    fake = FakeShopee(clock=lambda: T0 + 9.5)  # every comment at T0..T0+9 is in the window
    await fake.start()
    yield fake
    await fake.close()


def connector(
    fake: FakeShopee,
    *,
    partner_key: str = PARTNER_KEY,
    access_token: str = ACCESS_TOKEN,
    metrics_every: float = 0.0,
) -> ShopeeConnector:
    return ShopeeConnector(
        STREAM,
        partner_id=str(PARTNER_ID),
        partner_key=partner_key,
        access_token=access_token,
        user_id=str(USER_ID),
        api_url=fake.url,
        poll_every=0.001,
        metrics_every=metrics_every,
    )


class Run:
    """One run of the runner; `then` is called after each emitted comment (the live stream
    going on, or a SIGTERM)."""

    def __init__(self) -> None:
        self.records: list[ConnectorRecord] = []
        self.metrics = ConnectorMetrics()
        self.stop = asyncio.Event()
        self.logs: list[str] = []
        self.stop_after: int | None = None

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)
        if self.stop_after is not None and len(self.comments) >= self.stop_after:
            self.stop.set()

    @property
    def comments(self) -> list[Comment]:
        return [r for r in self.records if isinstance(r, Comment)]

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(
            name, {"platform": "shopee", "stream": STREAM, **labels}
        )
        return value or 0.0

    async def __call__(
        self, conn: ShopeeConnector, checkpoint: Checkpoint | None = None
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


def comments(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        comment(i, f"chốt {i} áo sđt 0987654{i:03d}", T0 + i, 500 + i % 4, f"khach{i % 4}")
        for i in range(start, start + n)
    ]


def ids(records: list[Comment]) -> list[str]:
    return [c.comment_id for c in records]


def expected(n: int) -> list[str]:
    return [f"shopee:{273_887_000 + i}" for i in range(n)]


async def end_after(fake: FakeShopee, run: Run, n: int) -> None:
    """The host ends the session once `n` comments were read."""
    while len(run.comments) < n:
        await asyncio.sleep(0.001)
    fake.status = 2


async def test_pages_follow_next_offset_and_every_comment_arrives_once(fake: FakeShopee) -> None:
    fake.comments = comments(8)
    run = Run()
    ender = asyncio.create_task(end_after(fake, run, 8))
    outcome = await run(connector(fake))
    await ender
    assert outcome.reason == "ended" and "status 2" in outcome.message
    assert ids(run.comments) == expected(8)
    first = run.comments[0]
    assert (first.stream, first.user_id, first.user_name, first.text, first.ts) == (
        STREAM,
        "500",
        "khach0",
        "chốt 0 áo sđt 0987654000",
        float(T0),
    )
    offsets = [r["offset"] for r in fake.requests]
    assert offsets[:5] == ["0", "3", "6", "8", "0"]  # the window to its end, then again
    assert all(r["session_id"] == STREAM and r["user_id"] == str(USER_ID) for r in fake.requests)
    # The first window of a fresh start is what the last 10 seconds held: backlog.
    assert all(c.history for c in run.comments)


async def test_live_comments_after_the_first_poll_are_not_history(fake: FakeShopee) -> None:
    fake.comments = comments(2)
    run = Run()

    async def live() -> None:
        # once the first window is read to its end (the second poll has started)
        while sum(r["offset"] == "0" for r in fake.requests) < 2:
            await asyncio.sleep(0.001)
        fake.comments.extend(comments(3, start=2))
        await end_after(fake, run, 5)

    task = asyncio.create_task(live())
    await run(connector(fake))
    await task
    assert ids(run.comments) == expected(5)
    assert [c.history for c in run.comments] == [True, True, False, False, False]


async def test_viewers_and_session_status_come_from_their_apis(fake: FakeShopee) -> None:
    fake.ccu = 321
    fake.comments = comments(1)
    run = Run()
    ender = asyncio.create_task(end_after(fake, run, 1))
    outcome = await run(connector(fake, metrics_every=0.0))
    await ender
    viewers = [r for r in run.records if isinstance(r, ViewerCount)]
    assert viewers[0] == ViewerCount(STREAM, 321, viewers[0].ts, "shopee")
    assert fake.calls[:2] == ["get_session_detail", "get_session_metric"]
    assert outcome.reason == "ended"


async def test_an_ended_session_ends_after_its_last_window(fake: FakeShopee) -> None:
    fake.status = 2
    fake.comments = comments(2)
    run = Run()
    outcome = await run(connector(fake))
    assert outcome.reason == "ended" and STREAM in outcome.message
    assert [r["offset"] for r in fake.requests] == ["0", "2"] and ids(run.comments) == expected(2)


async def test_failures_and_overlaps_lose_and_repeat_nothing(fake: FakeShopee) -> None:
    fake.comments = comments(10)
    fake.failures.extend(["500", "ok", "drop", "overlap", "rate", "busy", "garbage", "overlap"])
    run = Run()
    ender = asyncio.create_task(end_after(fake, run, 10))
    assert (await run(connector(fake))).reason == "ended"
    await ender
    assert ids(run.comments) == expected(10)
    assert run.sample("chotdon_ingest_errors_total", kind="transient") == 3
    assert run.sample("chotdon_ingest_errors_total", kind="rate_limited") == 2
    assert run.sample("chotdon_ingest_duplicates_total") >= 4  # each poll rereads the window


@pytest.mark.parametrize(
    ("failure", "reason", "words"),
    [("expired", "auth", "SHOPEE_ACCESS_TOKEN"), ("quota", "quota", "daily API call limit")],
)
async def test_errors_stop_with_a_clear_outcome(
    fake: FakeShopee, failure: str, reason: str, words: str
) -> None:
    fake.comments = comments(2)
    fake.failures.append(failure)
    run = Run()
    outcome = await run(connector(fake))
    assert outcome.reason == reason and words in outcome.message
    assert len(fake.requests) == 1 and run.comments == []  # stopped, not a crash loop
    assert run.sample("chotdon_ingest_errors_total", kind=reason) == 1


async def test_a_wrong_partner_key_fails_the_signature_check(fake: FakeShopee) -> None:
    outcome = await Run()(connector(fake, partner_key="not-the-key"))
    assert outcome.reason == "auth" and "error_sign" in outcome.message


async def test_a_wrong_token_is_refused(fake: FakeShopee) -> None:
    outcome = await Run()(connector(fake, access_token="stale"))
    assert outcome.reason == "auth" and "invalid_acceess_token" in outcome.message


def test_signature_is_shopees_user_api_base_string() -> None:
    conn = ShopeeConnector(
        STREAM,
        partner_id=str(PARTNER_ID),
        partner_key=PARTNER_KEY,
        access_token=ACCESS_TOKEN,
        user_id=str(USER_ID),
    )
    path = "/api/v2/livestream/get_latest_comment_list"
    assert conn.sign(path, 1_610_000_000) == sign(path, 1_610_000_000)


async def test_malformed_comments_are_skipped_and_counted(fake: FakeShopee) -> None:
    broken = comment(99, "x", T0)
    broken["content"] = None
    fake.comments = [*comments(1), broken, *comments(1, start=1)]
    run = Run()
    ender = asyncio.create_task(end_after(fake, run, 2))
    await run(connector(fake))
    await ender
    assert ids(run.comments) == expected(2)
    assert run.sample("chotdon_ingest_malformed_total") == 1


async def test_restart_rereads_the_window_and_drops_what_it_emitted(
    fake: FakeShopee, tmp_path: Path
) -> None:
    fake.comments = comments(9)
    path = tmp_path / "shopee.json"
    first = Run()
    first.stop_after = 4  # SIGTERM mid-session: the page in hand is still flushed
    assert (await first(connector(fake), Checkpoint(path))).reason == "stopped"
    assert "offset" not in json.loads(path.read_text())  # a window start is no cursor
    assert len(first.comments) == 6

    second = Run()
    before = len(fake.requests)
    ender = asyncio.create_task(end_after(fake, second, 3))
    assert (await second(connector(fake), Checkpoint(path))).reason == "ended"
    await ender
    assert fake.requests[before]["offset"] == "0"
    assert ids(first.comments + second.comments) == expected(9)
    assert not any(c.history for c in second.comments)


async def test_the_window_moves_on_and_no_comment_is_skipped(fake: FakeShopee) -> None:
    """Comments leave the list after 10 s: the offset that ended one poll names nothing (or
    other comments) at the next, so each poll starts the window again."""
    now = [T0 + 9.5]
    fake.clock = lambda: now[0]
    fake.comments = comments(6)
    run = Run()

    async def live() -> None:
        while len(run.comments) < 6:
            await asyncio.sleep(0.001)
        now[0] = T0 + 16.5  # comments 0-6 have left the window
        fake.comments += [comment(6, "chốt 6", T0 + 16), comment(7, "chốt 7", T0 + 16)]
        await end_after(fake, run, 8)

    task = asyncio.create_task(live())
    assert (await run(connector(fake))).reason == "ended"
    await task
    assert ids(run.comments) == expected(8)


async def test_the_streamers_own_comments_are_not_orders(fake: FakeShopee) -> None:
    fake.comments = [comment(0, "chốt đơn nha cả nhà", T0, USER_ID, "shop"), *comments(1, 1)]
    fake.status = 2
    run = Run()
    await run(connector(fake))
    assert ids(run.comments) == [f"shopee:{273_887_001}"]


async def test_an_expiring_access_token_is_renewed_and_the_new_refresh_token_kept(
    fake: FakeShopee, tmp_path: Path
) -> None:
    """Access tokens live 0.5 s here (4 hours at Shopee), renewed 0.35 s before expiry (a busy
    machine may hold a request back that long); each refresh replaces the refresh token, and a
    restart must use the newest one, not the spent one in the environment."""
    fake.clock = time.time
    fake.token_lifetime = 0.5
    fake.access_tokens[ACCESS_TOKEN] = time.monotonic() + 0.5
    store = TokenStore(tmp_path / "shopee.tokens")
    run = Run()
    seen: list[tuple[float, float]] = []  # (seconds left, renewal failed) as scraped

    async def live() -> None:
        for n in range(30):
            fake.post(n, f"chốt {n}")
            await asyncio.sleep(0.04)
            left = run.sample("chotdon_ingest_token_expiry_seconds")
            seen.append((left, run.sample("chotdon_ingest_token_renewal_failed")))
        await end_after(fake, run, 30)

    conn = connector(fake)
    conn.token = RefreshingToken(ACCESS_TOKEN, REFRESH_TOKEN, conn.refresher(), store=store)
    conn.token.margin = 0.35
    task = asyncio.create_task(live())
    assert (await run(conn)).reason == "ended"
    await task
    assert ids(run.comments) == expected(30)
    assert run.sample("chotdon_ingest_errors_total", kind="auth") == 0
    assert fake.refreshes >= 3 and REFRESH_TOKEN not in fake.refresh_tokens
    # the metric follows each renewed token: never more than its lifetime, never failed (NaN:
    # scraped before the first renewal, the environment's token of unknown lifetime)
    lefts = [left for left, _ in seen if not math.isnan(left)]
    assert all(left <= 0.5 for left in lefts) and max(lefts) > 0  # a live token seen
    assert all(failed == 0 for _, failed in seen)
    saved = store.load()
    assert saved is not None and saved.refresh_token in fake.refresh_tokens

    again = RefreshingToken(ACCESS_TOKEN, REFRESH_TOKEN, conn.refresher(), store=store)
    assert again.credentials.refresh_token == saved.refresh_token  # not the spent one


def test_credentials_come_from_the_environment() -> None:
    args = argparse.Namespace(stream=STREAM, poll_every=2.0, metrics_every=10.0, session=None)
    with pytest.raises(UsageError, match="SHOPEE_PARTNER_KEY, SHOPEE_ACCESS_TOKEN"):
        build(args, {"SHOPEE_PARTNER_ID": "1", "SHOPEE_USER_ID": "2"})
    env = {
        "SHOPEE_PARTNER_ID": "1",
        "SHOPEE_PARTNER_KEY": "k",
        "SHOPEE_ACCESS_TOKEN": "t",
        "SHOPEE_USER_ID": "2",
        "CHOTDON_SHOPEE_API_URL": "http://127.0.0.1:9",
    }
    assert build(args, env).api_url == "http://127.0.0.1:9"


def test_polling_must_stay_inside_the_ten_second_window() -> None:
    with pytest.raises(UsageError, match="at most 8s"):
        ShopeeConnector(
            STREAM, partner_id="1", partner_key="k", access_token="t", user_id="2", poll_every=9
        )


async def test_a_pause_longer_than_the_window_is_counted_as_a_gap(fake: FakeShopee) -> None:
    """Shopee keeps 10 s of comments (1 s here): a connector that could not read for longer
    says how much may be lost instead of pretending nothing was."""
    fake.comments = comments(2)
    conn = ShopeeConnector(
        STREAM, partner_id=str(PARTNER_ID), partner_key=PARTNER_KEY, access_token=ACCESS_TOKEN,
        user_id=str(USER_ID), api_url=fake.url, poll_every=0.1, window=1.0,
    )  # fmt: skip
    batches = conn.batches()
    errors: list[tuple[str, str]] = []
    while not (await anext(batches)).wait:  # the first window, read to its end
        pass
    await asyncio.sleep(1.6)  # the process was stopped, or the network was down
    while not (batch := await anext(batches)).wait:
        errors.extend(batch.errors)
    errors.extend(batch.errors)
    await batches.aclose()  # type: ignore[attr-defined]
    assert [kind for kind, _ in errors] == ["gap"]
    assert "may be lost" in errors[0][1]


async def test_the_pinned_catalog_product_becomes_the_current_one(fake: FakeShopee) -> None:
    """Each new pin of a catalog product is one SetCurrent; the same pin read again, an unpinned
    screen, an item outside the catalog (said once) and a refused read change nothing."""
    fake.comments = comments(2)
    conn = connector(fake)
    conn.pinned = {"22512345678": "A1", "22512345679": "A2"}
    conn.show_every = 0.0
    run = Run()

    async def reads(n: int) -> None:
        target = fake.calls.count("get_show_item") + n
        while fake.calls.count("get_show_item") < target:
            await asyncio.sleep(0.001)

    async def host() -> None:
        for pinned in (22512345678, None, 999, 22512345678):
            fake.show_item = pinned
            await reads(3)
        fake.show_failures.append("offline")
        await reads(2)
        fake.show_item = 22512345679
        await reads(2)
        fake.status = 2

    task = asyncio.create_task(host())
    assert (await run(conn)).reason == "ended"
    await task
    current = [r for r in run.records if isinstance(r, SetCurrent)]
    assert [(r.stream, r.code) for r in current] == [(STREAM, "A1"), (STREAM, "A1"), (STREAM, "A2")]
    assert sum("item 999" in line for line in run.logs) == 1
    assert run.sample("chotdon_ingest_errors_total", kind="show_item") == 1
    assert ids(run.comments) == expected(2)


async def test_without_catalog_item_ids_the_pinned_product_is_never_read(
    fake: FakeShopee,
) -> None:
    fake.comments = comments(1)
    fake.show_item = 22512345678
    run = Run()
    task = asyncio.create_task(end_after(fake, run, 1))
    assert (await run(connector(fake))).reason == "ended"
    await task
    assert "get_show_item" not in fake.calls
    assert not any(isinstance(r, SetCurrent) for r in run.records)
