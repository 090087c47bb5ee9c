"""`chotdon feed`: the host's page of the embedded mode (server.py, unchanged) on the distributed
mode. Its views are rebuilt from Redis at start and kept up to date from the Redis sink's
notifications; the host's actions go to the Kafka ACTIONS topic for the workers to apply.

Each notification carries its stream's version (see sinks/redis_store.py). A view loaded at
version V applies only notifications above V, in order; a gap in the versions (a notification
lost while the connection was down) or a new catalog reloads the stream, and a periodic check
of the versions catches a loss that no later notification reveals.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec
from aiohttp import web
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog
from chotdon.config import add_flags
from chotdon.log_limits import limit_client_logs
from chotdon.prometheus import FeedMetrics
from chotdon.records import Comment, HostAction, SetCurrent, ViewerCount, decode, encode
from chotdon.stop_signals import install_stop_signals
from sinks.redis_store import RedisStore, StoredStream

from .hub import ActionSink, FeedHub
from .server import serve
from .view import StreamView, Update

CHECK_S = 5.0  # how often the versions are compared with Redis's
RECONNECT_S = 1.0

Log = Callable[[str], None]


class Notice(msgspec.Struct):
    n: int  # the stream's version after the change
    record: msgspec.Raw = msgspec.Raw()  # empty when the notice is of a catalog
    catalog: msgspec.Raw = msgspec.Raw()


def build_view(stored: StoredStream, catalog: Catalog) -> StreamView:
    """A stream's view as Redis holds it."""
    stream = stored.stream
    view = StreamView.for_catalog(catalog, stream)
    # the texts first: a review item shows its comment's text when its order is applied
    for comment_id, text in stored.texts.items():
        view.apply(Comment(stream=stream, comment_id=comment_id, user_id="", text=text, ts=0.0))
    for event in stored.events:
        view.apply(event)
    if stored.stock is not None:
        view.apply(stored.stock)
    view.apply(SetCurrent(stream=stream, code=stored.current, ts=0.0))
    view.apply(ViewerCount(stream=stream, viewers=stored.viewers_peak, ts=0.0))
    view.apply(ViewerCount(stream=stream, viewers=stored.viewers, ts=0.0))
    view.comments = stored.comments
    return view


class ActionProducer:
    """The host's actions to the ACTIONS topic, keyed by stream; returns once Kafka has them."""

    def __init__(self, kafka: str, prefix: str) -> None:
        self.topic = topics.ACTIONS.name(prefix)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=kafka,
            enable_idempotence=True,  # acks=all; a retried send is written once
            request_timeout_ms=10_000,  # the host waits on this: fail rather than hang
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def __call__(self, action: HostAction) -> None:
        if not isinstance(action, SetCurrent) and not action.action_id:
            action = msgspec.structs.replace(action, action_id=f"host-{uuid.uuid4().hex[:12]}")
        await self._producer.send_and_wait(self.topic, encode(action), key=action.stream.encode())


class RedisFeed:
    """A FeedHub whose views follow Redis."""

    def __init__(
        self, store: RedisStore, act: ActionSink, catalogs: list[Catalog], log: Log
    ) -> None:
        self.store = store
        self.hub = FeedHub({}, act)
        self.log = log
        self._catalogs = {c.stream: c for c in catalogs}  # used until Redis has the stream's
        self._versions: dict[str, int] = {}
        self._no_catalog: set[str] = set()  # seen, but no catalog to build a view from yet
        self._pubsub: PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # loading a stream and applying its notifications take turns, or a load finishing after
        # newer notifications were applied would take the view back
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Subscribe, then load: a change made in between is both loaded and notified, and its
        version tells the notification to skip."""
        await self._subscribe()
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._check())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        self.hub.close()

    async def _subscribe(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()
        self._pubsub = self.store.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(self.store.keys.notify_pattern)
        for stream in sorted(set(await self.store.streams()) | set(self._catalogs)):
            await self._load(stream)

    async def _load(self, stream: str) -> None:
        stored = await self.store.load(stream)
        catalog = stored.catalog or self._catalogs.get(stream)
        if catalog is None:
            self._no_catalog.add(stream)
            return
        self._no_catalog.discard(stream)
        fresh = build_view(stored, catalog)
        self._versions[stream] = stored.version
        view = self.hub.views.get(stream)
        if view is None:
            self.hub.views[stream] = fresh
            return
        # open pages hold on to the view: refresh it in place and send them its whole state; its
        # version moves on (never back), so nothing cached from the old state is served again
        fresh.version = view.version + 1
        for f in dataclasses.fields(StreamView):
            setattr(view, f.name, getattr(fresh, f.name))
        for row in view.orders.values():
            self.hub.publish(stream, Update("order", row, row.order_id))
        products = msgspec.to_builtins(list(view.products.values()))
        self.hub.publish(stream, Update("stock", products))
        self.hub.publish(stream, Update("reviews", None))
        self.hub.publish(stream, Update("summary", view.summary()))

    async def _listen(self) -> None:
        while True:
            try:
                assert self._pubsub is not None
                message = await self._pubsub.get_message(timeout=None)
                if message is not None and message["type"] == "pmessage":
                    async with self._lock:
                        await self._notice(_text(message["channel"]), message["data"])
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                self.log(f"feed: mất kết nối Redis (lost Redis): {exc}; kết nối lại")
                await asyncio.sleep(RECONNECT_S)
                try:
                    async with self._lock:
                        await self._subscribe()
                except (RedisConnectionError, RedisTimeoutError, OSError):
                    continue

    async def _notice(self, channel: str, data: bytes) -> None:
        stream = self.store.keys.stream_of(channel)
        if stream is None:
            return
        try:
            notice = msgspec.json.decode(data, type=Notice)
            record = decode(bytes(notice.record)) if notice.record else None
        except (msgspec.DecodeError, ValueError) as exc:
            self.log(f"feed: bỏ qua thông báo (skipped notification) on {channel}: {exc}")
            return
        known = self._versions.get(stream)
        if known is None:
            if notice.catalog or stream not in self._no_catalog:
                await self._load(stream)
            return
        if notice.n <= known:
            return  # already in the view it was loaded with
        if notice.n > known + 1 or notice.catalog:
            await self._load(stream)
            return
        self._versions[stream] = notice.n
        if record is not None:
            self.hub.apply(stream, record)

    async def _check(self) -> None:
        """Reload a stream still behind the version Redis had one check ago: its notifications
        should have come by now (a busy stream is always a little behind; that is no loss)."""
        seen: dict[str, int] = {}
        while True:
            await asyncio.sleep(CHECK_S)
            streams = sorted(self._versions)
            try:
                async with self.store.redis.pipeline(transaction=False) as pipe:
                    for stream in streams:
                        pipe.get(self.store.keys.of(stream, "version"))
                    versions = await pipe.execute()
                async with self._lock:
                    for stream in streams:
                        if self._versions[stream] < seen.get(stream, 0):
                            self.log(f"feed: tải lại (reloading) {stream}: notifications lost")
                            await self._load(stream)
                seen = {s: int(v or 0) for s, v in zip(streams, versions, strict=True)}
            except (RedisConnectionError, RedisTimeoutError, OSError):
                continue  # the listener reconnects and reloads


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class FeedOptions:
    kafka: str
    redis: str
    prefix: str
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    catalogs: list[Catalog] = field(default_factory=list)


async def run_feed(options: FeedOptions, stop: asyncio.Event) -> None:
    """Serve the feed until `stop` is set."""
    redis = Redis.from_url(options.redis)
    producer = ActionProducer(options.kafka, options.prefix)
    await producer.start()
    feed = RedisFeed(RedisStore(redis, options.prefix), producer, options.catalogs, _stderr)
    site_runner: web.AppRunner | None = None
    try:
        await feed.start()
        metrics = FeedMetrics()
        feed.hub.observe(metrics)
        site_runner = await serve(
            feed.hub, options.token, metrics.registry, options.host, options.port
        )
        await stop.wait()
    finally:
        if site_runner is not None:
            await site_runner.cleanup()
        await feed.close()
        await producer.stop()
        await redis.aclose()


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_flags(p, "host", "port", "host_token", "kafka", "redis", "topic_prefix")
    p.add_argument(
        "--catalog",
        action="append",
        default=[],
        help="catalog file or bundled name, for a stream whose catalog is not in Redis yet; "
        "repeat for several",
    )


def cmd_feed(args: argparse.Namespace) -> int:
    """`chotdon feed` from parsed `add_arguments` flags."""
    options = FeedOptions(
        kafka=args.bootstrap,
        redis=args.redis,
        prefix=args.topic_prefix,
        host=args.host,
        port=args.port,
        catalogs=[load_catalog(c) for c in args.catalog],
    )
    if args.token:
        options.token = args.token

    limit_client_logs()  # the host's actions go to Kafka

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_feed(options, stop)

    asyncio.run(main())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m sinks.feed.redis_feed`: the same as `chotdon feed`."""
    p = argparse.ArgumentParser(prog="python -m sinks.feed.redis_feed", description=__doc__)
    add_arguments(p)
    return cmd_feed(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
