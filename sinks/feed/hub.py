"""The feed hub: the views of every stream, the pages listening to them, and where the host's
actions go. The embedded runner and the Redis reader both feed it; the web server reads it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

from chotdon.prometheus import FeedMetrics
from chotdon.records import AnyRecord, HostAction, StockLevels

from .view import StreamView, Update

ActionSink = Callable[[HostAction], Awaitable[object]]  # what it returns is not used
Key = tuple[str, str, str]  # stream, update kind, update key


class Subscription:
    """One open page's pending updates, registered from creation (so a snapshot taken right after
    misses nothing). Only the latest update of each (stream, kind, key) is kept: every update is
    a whole state, so a slow page skips intermediate states instead of falling behind, and what
    waits is bounded by the size of the views, not by the rate of comments."""

    def __init__(self, hub: FeedHub, stream: str | None) -> None:
        self._hub = hub
        self.stream = stream
        self._pending: dict[Key, tuple[str, Update]] = {}
        self._ready = asyncio.Event()
        self._buffer: list[tuple[str, Update]] = []
        self.closed = False

    def push(self, stream: str, update: Update) -> None:
        if self.closed or (self.stream is not None and stream != self.stream):
            return
        key = (stream, update.kind, update.key)
        self._pending.pop(key, None)  # re-inserted last: pages get updates in the order of change
        self._pending[key] = (stream, update)
        self._ready.set()

    async def batch(self) -> list[tuple[str, Update]]:
        """Everything pending, waiting for at least one update; [] once closed."""
        while not self._pending and not self.closed:
            self._ready.clear()
            await self._ready.wait()
        items = list(self._pending.values())
        self._pending.clear()
        if self._hub.metrics is not None:
            for _, update in items:
                self._hub.metrics.feed_events_of(update.kind).inc()
        return items

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
        self._ready.set()
        self._hub._subscribers.discard(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> tuple[str, Update]:
        if not self._buffer:
            self._buffer = await self.batch()
            self._buffer.reverse()
        if not self._buffer:
            raise StopAsyncIteration
        return self._buffer.pop()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FeedHub:
    def __init__(self, views: dict[str, StreamView], act: ActionSink) -> None:
        self.views = views
        self._act = act
        self._subscribers: set[Subscription] = set()
        self.metrics: FeedMetrics | None = None

    def observe(self, metrics: FeedMetrics) -> None:
        """Count in `metrics` the pages connecting and open, the events they are sent, and
        each stream's revenue as its summary changes and its stock as it is reported."""
        self.metrics = metrics
        metrics.track_feed_subscribers(lambda: self.subscribers)

    def apply(self, stream: str, *records: AnyRecord) -> None:
        """Apply durable records of a stream, in order, to its view and tell every open page
        (once per change: see `StreamView.apply`)."""
        view = self.views.get(stream)
        if view is None:
            return
        if self.metrics is not None:
            for record in records:
                if isinstance(record, StockLevels):
                    self.metrics.set_stock(record)
        for update in view.apply(*records):
            self.publish(stream, update)

    def publish(self, stream: str, update: Update) -> None:
        view = self.views.get(stream)
        if self.metrics is not None and update.kind == "summary" and view is not None:
            self.metrics.set_revenue(stream, view.revenue, view.target_revenue)
        for subscription in self._subscribers:
            subscription.push(stream, update)

    def subscribe(self, stream: str | None = None) -> Subscription:
        """Updates of one stream (or all), from now on. Iterate it with `async for`, or take
        `batch()`es; close it (or use it as `async with`) when the page goes."""
        subscription = Subscription(self, stream)
        self._subscribers.add(subscription)
        if self.metrics is not None:
            self.metrics.feed_connections.inc()
        return subscription

    def close(self) -> None:
        """End every subscription (the server is shutting down)."""
        for subscription in list(self._subscribers):
            subscription.close()

    async def act(self, action: HostAction) -> None:
        await self._act(action)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
