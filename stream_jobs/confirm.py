"""Confirm orders to buyers: a sink-like component that reads order events and answers each
buyer's comment on its platform (Facebook Private Reply or a reply under the comment, a YouTube
chat message, a Shopee live comment). TikTok has no API to answer: nothing is sent there.

Off by default, switched on per stream (`--confirm STREAM`). It takes the order events the
pipeline has committed - from the embedded runner (`offer` is a listener of its published
records) or from the orders topic (`chotdon confirm`, distributed mode) - builds the reply with
the host's templates (`confirm_messages`, pure), and sends it from its own task through a bounded
queue, so a slow platform never holds the pipeline: when the queue is full the oldest reply is
dropped and counted. Each platform is rate limited (YouTube: each message costs 50 quota
units). A refused token or a spent quota switches that platform's replies off with one clear
message; a network error that kept a reply from the platform is retried a few times, then the
reply is dropped and counted.

One reply per comment, across restarts and replicas: the comments answered are kept in an
`Answered` store (the session's SQLite in the embedded mode, Redis in the distributed one, where
several `chotdon confirm` may meet the same event while Kafka moves a partition between them).
No reply the connectors send carries an idempotency key (YouTube's liveChatMessages.insert
takes none: `part` and the message), so where the platform itself would post a second reply
the comment is claimed in the store - an atomic add - before its reply goes, and a claimed
comment is never answered again: at most once. A crash (SIGKILL, out of memory, power) or the
drain's end (`DRAIN_SECONDS`) while a reply is on its way leaves that buyer unanswered rather
than answered twice, and a reply whose post may have reached the platform (it timed out, or its
connection broke once open) is not retried. A reply known not to have gone (a request before
its post failed - a token refresh, a lookup -, refused, its retries spent) gives its claim back:
a later event, a restart or a replica may answer the comment. That is public replies
(`--confirm-public`), YouTube chat messages and Shopee live comments. A Facebook Private Reply
needs none of this: Graph sends one per comment (its documented limit) and refuses a second, so
it is looked up before it goes, retried freely and written once it went: at least once, and
never doubled.
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
    TransientError,
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
    already: int = 0  # answered, or claimed, before: by the run before a restart, or a replica


class Answered(Protocol):
    """Where the comments answered are kept (sinks.sqlite_store.ConnectorStates,
    sinks.redis_store.RedisAnswered); `comment` is "<platform>:<the platform's comment id>"."""

    async def answered(self, stream: str, comment: str) -> bool: ...

    async def claim(self, stream: str, comment: str) -> bool:
        """Keep the comment as answered; whether this call added it (atomic: of two claims of
        one comment, from two processes too, one is True)."""
        ...

    async def release(self, stream: str, comment: str) -> None:
        """Forget a claim whose reply is known not to have been posted."""
        ...


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
        replier = self.repliers[(reply.platform, reply.stream)]
        once = refuses_a_second(replier)
        try:
            if not await self._ours(reply.stream, comment, claim=not once):
                self.stats.already += 1
                return
        except STORE_ERRORS as exc:  # not knowing whether it was answered: no reply
            self.stats.failed += 1
            self.log(f"{reply.platform}: reply not sent, answered comments unreadable: {exc}")
            return
        posted = await self._post(http, replier, reply, resend=once)
        if posted is None:  # it may have reached the platform: the claim stays
            return
        if not posted:  # a later event, a restart or a replica may answer it
            if not once and self.answered is not None:
                try:
                    await self.answered.release(reply.stream, comment)
                except STORE_ERRORS as exc:
                    self.log(f"{reply.platform}: reply not sent, its claim kept: {exc}")
            return
        self.stats.sent += 1
        if once and self.answered is not None:
            try:
                await self.answered.claim(reply.stream, comment)
            except STORE_ERRORS as exc:  # Graph refuses a second Private Reply anyway
                self.log(f"{reply.platform}: reply sent but not recorded as answered: {exc}")

    async def _ours(self, stream: str, comment: str, *, claim: bool) -> bool:
        """Whether to answer the comment: nobody has; with `claim`, kept as answered now."""
        if self.answered is None:
            return True
        if claim:
            return await self.answered.claim(stream, comment)
        return not await self.answered.answered(stream, comment)

    async def _post(
        self, http: aiohttp.ClientSession, replier: Replier, reply: Reply, *, resend: bool
    ) -> bool | None:
        """Post the reply, retrying a failure that kept it from the platform (with `resend`, any
        failure: the platform refuses a second); whether it went, None when it may have (its
        post timed out or broke once sent)."""
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
                return False
            except (ConnectorError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                unknown = not resend and may_have_gone(exc)
                if unknown or not getattr(exc, "retriable", True) or attempt == ATTEMPTS:
                    self.stats.failed += 1
                    why = "may have been posted, not retried" if unknown else "not sent"
                    self.log(mask_phones_in(f"{reply.platform}: reply {why}: {exc}"))
                    return None if unknown else False
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                await asyncio.sleep(backoff.next_delay(retry_after))
                continue
            return True
        return False


def refuses_a_second(replier: Replier) -> bool:
    """Whether the platform itself posts one reply per comment: a Facebook Private Reply."""
    return isinstance(replier, FacebookLive) and replier.private_replies


def may_have_gone(exc: BaseException) -> bool:
    """Whether a failed reply may still have reached the platform: the request that posts it
    timed out, or its connection broke once open. The connectors raise a TransientError from
    the aiohttp error, saying whether that request posts (not a request before it: a token
    refresh, a lookup); an error the platform answered, or a connection never opened, means
    it did not."""
    if isinstance(exc, ConnectorError) and not (isinstance(exc, TransientError) and exc.posting):
        return False
    cause = exc.__cause__ if isinstance(exc, ConnectorError) else exc
    if isinstance(cause, aiohttp.ClientConnectorError):
        return False
    return isinstance(cause, TimeoutError | aiohttp.ClientError | OSError)
