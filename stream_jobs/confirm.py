"""Confirm orders to buyers: a sink-like component that reads order events and answers each
buyer's comment on its platform (Facebook Private Reply or a reply under the comment, a YouTube
chat message, a Shopee live comment). TikTok has no API to answer: nothing is sent there.

Off by default, switched on per stream (`--confirm STREAM`). It takes the order events the
pipeline has committed - from the embedded runner (`offer` is a listener of its published
records) or from the orders topic (`chotdon confirm`, distributed mode) - builds the reply with
the host's templates (`confirm_messages`, pure), and sends it from its own task through a bounded
queue, so a slow platform never holds the pipeline: when the queue is full the oldest reply is
dropped and counted. One reply per comment (a Private Reply allows no more), across restarts:
the comments answered are kept in an `Answered` store (the session's SQLite in the embedded
mode, Redis in the distributed one), looked up before a reply goes and written as soon as it
went, so a restart answers nothing twice but in the windows below. Each platform is rate
limited (YouTube: each message costs 50 quota units). A refused token or a spent quota switches
that platform's replies off with one clear message; network errors are retried a few times,
then the reply is dropped and counted.

Where a buyer can be answered twice (at least once, not exactly once). The store is written
after the platform has accepted a reply, and looked up before one goes; no reply the connectors
send carries an idempotency key (YouTube's liveChatMessages.insert takes none: `part` and the
message), so in these three windows the platform is asked twice:

1. The process dies (SIGKILL, out of memory, power) after the platform accepted a reply and
   before `remember` stored it. `chotdon confirm` reads the orders again from its last commit,
   which waits for every reply read to be sent or given up, so it sends that reply again; the
   embedded mode offers only the events committed after its restart, so only a later event of
   the same comment (an order updated, a waiting line confirmed) is answered again.
2. A reply that timed out or lost its connection after it was sent is retried (`ATTEMPTS`): the
   platform may have posted the first. The connectors raise the same TransientError for a
   connection that never opened and for one that broke after the request went.
3. Two `chotdon confirm` with the same group, while Kafka moves a partition between them: both
   can read an event, find the comment unanswered and send (look-up and write are not atomic).

A Facebook Private Reply is never doubled: Graph sends one per comment (its documented limit)
and refuses a second, counted as a failure; public replies (`--confirm-public`), YouTube chat
messages and Shopee live comments can be. Each window lasts one request; SIGTERM and Ctrl-C
let the queued replies go for `DRAIN_SECONDS`, then cancel what is left, which can be a reply
in flight (window 1 again). Closing them means answering at most once instead: claiming the
comment in the store before the reply goes (an atomic add, which also closes 3), and neither
resending a claimed one after a restart nor retrying a reply whose request may have gone, at
the cost of a buyer left unanswered in the same windows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp
from redis.exceptions import RedisError

from chotdon.catalog import Catalog
from chotdon.phones import mask_phones_in
from chotdon.records import AnyRecord, OrderEvent
from ingest.connectors.base import (
    AuthError,
    Backoff,
    ConnectorError,
    Deduper,
    QuotaExceeded,
    RateLimited,
)
from ingest.connectors.facebook import FacebookLive
from ingest.connectors.runner import Connector
from ingest.connectors.shopee import ShopeeConnector
from ingest.connectors.youtube import YouTubeConnector

from .confirm_messages import DEFAULT_TEMPLATES, RateLimit, Reply, reply_for

DEFAULT_RATES = {"facebook": 1.0, "shopee": 0.5, "youtube": 1 / 60}  # replies a second
ATTEMPTS = 3
QUEUE_SIZE = 1_000
DRAIN_SECONDS = 5.0  # what the queued replies may still take when the run ends
STORE_ERRORS = (sqlite3.Error, RedisError, OSError)  # of the `Answered` stores

Log = Callable[[str], None]


class Replier(Protocol):
    """A connector that can answer on its platform (FacebookLive, YouTubeConnector,
    ShopeeConnector)."""

    platform: str
    stream: str

    async def reply(self, http: aiohttp.ClientSession, comment_id: str, text: str) -> None: ...


def repliers_of(connectors: Sequence[Connector], *, public_facebook: bool) -> list[Replier]:
    """The connectors that can answer on their platform (TikTok and webhooks cannot)."""
    repliers: list[Replier] = []
    for connector in connectors:
        if isinstance(connector, FacebookLive):
            connector.private_replies = not public_facebook
        if isinstance(connector, YouTubeConnector):
            connector.confirming()  # a share of the quota kept for the replies (50 units each)
        if isinstance(connector, FacebookLive | YouTubeConnector | ShopeeConnector):
            repliers.append(connector)
    return repliers


@dataclass
class ConfirmStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0  # the queue was full
    already: int = 0  # answered before a restart


class Answered(Protocol):
    """Where the comments answered are kept (sinks.sqlite_store.ConnectorStates,
    sinks.redis_store.RedisAnswered); `comment` is "<platform>:<the platform's comment id>"."""

    async def answered(self, stream: str, comment: str) -> bool: ...

    async def remember(self, stream: str, comment: str) -> None: ...


class Confirmer:
    def __init__(
        self,
        catalogs: Sequence[Catalog],
        repliers: Sequence[Replier],
        *,
        streams: set[str],
        answered: Answered | None = None,
        templates: Mapping[str, str] = DEFAULT_TEMPLATES,
        rates: Mapping[str, float] = DEFAULT_RATES,
        queue_size: int = QUEUE_SIZE,
        log: Log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.catalogs = {c.stream: c for c in catalogs}
        self.repliers = {(r.platform, r.stream): r for r in repliers}
        self.streams = streams
        self.answered = answered
        self.templates = templates
        self.limits = {name: RateLimit(rate) for name, rate in rates.items()}
        self.log = log
        self.clock = clock
        self.stats = ConfirmStats()
        self.off: set[str] = set()  # platforms whose replies were switched off
        self._queue: asyncio.Queue[Reply] = asyncio.Queue(queue_size)
        self._seen = Deduper(50_000)

    def offer(self, record: AnyRecord) -> None:
        """A committed record (never blocks): an order event switched on becomes a reply."""
        if not isinstance(record, OrderEvent) or record.stream not in self.streams:
            return
        catalog = self.catalogs.get(record.stream)
        reply = reply_for(record, catalog, self.templates) if catalog else None
        if reply is None or (reply.platform, reply.stream) not in self.repliers:
            return
        if reply.platform in self.off or not self._seen.first_time(
            f"{reply.platform}:{reply.comment_id}"
        ):
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.stats.dropped += 1
        self._queue.put_nowait(reply)

    async def run(self) -> None:
        """Send replies until cancelled."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
            while True:
                reply = await self._queue.get()
                try:
                    await self._send(http, reply)
                finally:
                    self._queue.task_done()

    async def drain(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) for the queued replies to go; whether they all went
        (or were given up)."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            return False
        return True

    async def _send(self, http: aiohttp.ClientSession, reply: Reply) -> None:
        if reply.platform in self.off:
            return
        comment = f"{reply.platform}:{reply.comment_id}"
        try:
            if self.answered is not None and await self.answered.answered(reply.stream, comment):
                self.stats.already += 1
                return
        except STORE_ERRORS as exc:  # not knowing whether it was answered: no reply
            self.stats.failed += 1
            self.log(f"{reply.platform}: reply not sent, answered comments unreadable: {exc}")
            return
        replier = self.repliers[(reply.platform, reply.stream)]
        limit = self.limits.get(reply.platform)
        backoff = Backoff(base=1.0, cap=30.0)
        for attempt in range(1, ATTEMPTS + 1):
            if limit is not None:
                while (wait := limit.delay(self.clock())) > 0:
                    await asyncio.sleep(wait)
            try:
                await replier.reply(http, reply.comment_id, reply.text)
            except (AuthError, QuotaExceeded) as exc:
                self.off.add(reply.platform)
                self.stats.failed += 1
                self.log(f"xác nhận đơn trên {reply.platform} đã tắt (replies off): {exc}")
                return
            except (ConnectorError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                retriable = getattr(exc, "retriable", True)
                if not retriable or attempt == ATTEMPTS:
                    self.stats.failed += 1
                    self.log(mask_phones_in(f"{reply.platform}: reply not sent: {exc}"))
                    return
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                await asyncio.sleep(backoff.next_delay(retry_after))
                continue
            self.stats.sent += 1
            try:
                if self.answered is not None:
                    await self.answered.remember(reply.stream, comment)
            except STORE_ERRORS as exc:
                self.log(f"{reply.platform}: reply sent but not recorded as answered: {exc}")
            return
