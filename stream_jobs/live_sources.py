"""Live platforms as sources of `chotdon run`: one process takes a live from comments to the feed.

    chotdon run --catalog kim-an --source facebook:LIVE_VIDEO_ID --source youtube:VIDEO_ID

A source is `PLATFORM:TARGET[@STREAM]`:

    facebook:LIVE_VIDEO_ID    facebook:page=PAGE_ID (the Page's current live)
    youtube:VIDEO_ID          youtube:channel=CHANNEL_ID (the channel's live now)
    shopee:SESSION_ID
    tiktok:listen             tiktok:HOST:PORT (where the bridge posts; listen = 127.0.0.1:8091)

`@STREAM` names the catalog's stream the records belong to (default: the only catalog's), so
several platforms of one multi-platform live sell from one stock. Each connector is built by its
platform's own builder (flags at their defaults, credentials from the environment) and run by
the shared run loop; all of them feed one source of the embedded runner.

Shopee's pinned product (get_show_item) becomes the stream's current product for the products
whose catalog entry names their Shopee item (`platform_ids: {"shopee": "ITEM_ID"}`, see
`show_pinned_products`).

Each connector's checkpoint lives in the session's SQLite (table connector_states) and is saved
only as far as the runner has committed the records it covers: a crash replays at most the last
uncommitted records, which the order book drops by comment id - nothing lost, nothing doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from chotdon.catalog import Catalog
from chotdon.prometheus import ConnectorMetrics
from ingest.connectors.base import Checkpoint, ConnectorRecord
from ingest.connectors.cli import platforms
from ingest.connectors.runner import (
    Connector,
    Log,
    Outcome,
    UsageError,
    run_connector,
)
from ingest.connectors.shopee import PLATFORM as SHOPEE
from ingest.connectors.shopee import ShopeeConnector
from sinks.sqlite_store import ConnectorStates

SOURCE_NAME = "live"  # the runner's position of the merged live sources
TIKTOK_LISTEN = "127.0.0.1:8091"
LIVE_PLATFORMS = ("facebook", "youtube", "shopee", "tiktok")


class LiveSourceError(ValueError):
    """A `--source PLATFORM:...` that cannot be built (unknown platform, missing credential)."""


def is_live(spec: str) -> bool:
    return spec.split(":", 1)[0] in LIVE_PLATFORMS and ":" in spec


def _platform_flags(platform: str, target: str) -> list[str]:
    if platform == "facebook":
        page = target.removeprefix("page=")
        return ["--page-id", page] if page != target else ["--video", target]
    if platform == "youtube":
        channel = target.removeprefix("channel=")
        return ["--channel", channel] if channel != target else ["--video-id", target]
    if platform == "shopee":
        return ["--session", target]
    return ["--listen", TIKTOK_LISTEN if target == "listen" else target]


def build_connector(spec: str, streams: Sequence[str], env: Mapping[str, str]) -> Connector:
    """The connector a `--source PLATFORM:TARGET[@STREAM]` names."""
    platform, _, rest = spec.partition(":")
    target, _, stream = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if not stream:
        if len(streams) != 1:
            raise LiveSourceError(f"{spec}: name the stream (@STREAM): {', '.join(streams)}")
        stream = streams[0]
    if stream not in streams:
        raise LiveSourceError(f"{spec}: no catalog for stream {stream!r}")
    if not target:
        raise LiveSourceError(f"{spec}: what to read is missing after '{platform}:'")
    p = argparse.ArgumentParser(prog=f"--source {platform}:", add_help=False, exit_on_error=False)
    spec_ = platforms()[platform]
    spec_.add_arguments(p)
    try:
        args = p.parse_args(_platform_flags(platform, target))
    except (argparse.ArgumentError, SystemExit) as exc:
        raise LiveSourceError(f"{spec}: {exc}") from None
    args.stream = stream
    try:
        return spec_.build(args, env)
    except (UsageError, ValueError) as exc:  # a missing credential, a bad id
        raise LiveSourceError(f"{spec}: {exc}") from exc


def show_pinned_products(connectors: Sequence[Connector], catalogs: Sequence[Catalog]) -> None:
    """Each Shopee connector learns its catalog's Shopee item ids, so the product pinned on
    screen becomes the stream's current one."""
    by_stream = {c.stream: c for c in catalogs}
    for connector in connectors:
        if isinstance(connector, ShopeeConnector) and connector.stream in by_stream:
            connector.pinned = by_stream[connector.stream].platform_codes(SHOPEE)


class CommittedCheckpoint(Checkpoint):
    """A connector's checkpoint in the session's SQLite, written only once the runner has
    committed every record it covers (`position` says how far the source has gone)."""

    def __init__(self, states: ConnectorStates, key: str, position: Callable[[], int]) -> None:
        super().__init__(None)
        self.states = states
        self.key = key
        self.position = position
        self.state = states.load(key)
        self._pending: deque[tuple[int, dict[str, Any]]] = deque(maxlen=10_000)

    def save(self, **values: Any) -> None:
        self.state.update(values)
        self._pending.append((self.position(), dict(self.state)))
        self.flush()

    def flush(self) -> None:
        committed = self.states.committed(SOURCE_NAME)
        newest = None
        while self._pending and self._pending[0][0] <= committed:
            newest = self._pending.popleft()[1]
        if newest is not None:
            self.states.save(self.key, newest)


class LiveSources:
    """Several connectors as one source of the embedded runner, in arrival order."""

    name = SOURCE_NAME
    resumable = True  # positions go on from the stored one; each connector resumes by itself

    def __init__(
        self,
        connectors: Sequence[Connector],
        states: ConnectorStates,
        *,
        log: Log,
        metrics: ConnectorMetrics | None = None,
        stop: asyncio.Event | None = None,
    ) -> None:
        self.connectors = list(connectors)
        self.states = states
        self.log = log
        self.metrics = metrics or ConnectorMetrics()
        self.stop = stop or asyncio.Event()
        self.position = 0
        self.outcomes: dict[str, Outcome] = {}
        self.checkpoints = [
            CommittedCheckpoint(states, f"{c.platform}:{c.stream}:{_target(c)}", self._at)
            for c in self.connectors
        ]

    def _at(self) -> int:
        return self.position

    async def records(self, start: int = 0) -> AsyncIterator[tuple[int, ConnectorRecord]]:
        # Each emit waits until the runner has taken its record: a checkpoint never covers a
        # record still waiting here.
        queue: asyncio.Queue[tuple[ConnectorRecord, asyncio.Future[None]]] = asyncio.Queue(1)
        self.position = start

        async def emit(record: ConnectorRecord) -> None:
            taken = asyncio.get_running_loop().create_future()
            await queue.put((record, taken))
            await taken

        async def drive(connector: Connector, checkpoint: CommittedCheckpoint) -> None:
            name = f"{connector.platform}:{connector.stream}"
            outcome = await run_connector(
                connector,
                emit,
                stop=self.stop,
                metrics=self.metrics,
                checkpoint=checkpoint,
                log=self.log,
            )
            self.outcomes[name] = outcome
            if outcome.message:
                self.log(f"{name}: {outcome.reason}: {outcome.message}")

        tasks = [
            asyncio.create_task(drive(c, cp))
            for c, cp in zip(self.connectors, self.checkpoints, strict=True)
        ]
        ended = asyncio.ensure_future(asyncio.gather(*tasks))
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait((getter, ended), return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                record, taken = getter.result()
                self.position += 1
                yield self.position, record
                taken.set_result(None)
            await ended
        finally:
            self.stop.set()
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            ended.cancel()

    def flush(self) -> None:
        """After the runner's last commit: save what it covers."""
        for checkpoint in self.checkpoints:
            checkpoint.flush()


def _target(connector: Connector) -> str:
    for name in ("video_id", "session_id", "port"):
        value = getattr(connector, name, None)
        if value:
            return str(value)
    return ""
