"""A live feed for the feed tests: the real `chotdon run` in a subprocess when the CLI has it, else
a tiny in-process pipeline (real Parser, real order book, real FeedHub and web app)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import msgspec
from aiohttp import web
from prometheus_client import CollectorRegistry

from chotdon.catalog import Catalog, load_catalog
from chotdon.prometheus import PipelineMetrics
from chotdon.records import (
    Comment,
    HostAction,
    OrderEvent,
    Record,
    SetCurrent,
    ViewerCount,
    encode,
)
from parsers import Parser
from sinks.feed.hub import FeedHub
from sinks.feed.server import create_app
from sinks.feed.view import StreamView
from stream_jobs import apply, apply_action, new_book
from stream_jobs.stages import stock_levels

ROOT = Path(__file__).resolve().parent.parent
URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/")


class MiniPipeline:
    """Comment -> parse -> resolve -> feed, in process and in order, for one catalog's stream.
    Host actions are recorded (`actions`) and applied to the book like the runner does."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.stream = catalog.stream
        self.parser = Parser(catalog)
        self.book = new_book(catalog)
        self.view = StreamView.for_catalog(catalog)
        self.hub = FeedHub({self.stream: self.view}, self.act)
        self.metrics = PipelineMetrics()
        self.hub.observe(self.metrics)
        self.current: str | None = None
        self.actions: list[HostAction] = []

    def feed(self, record: Record) -> None:
        if isinstance(record, Comment):
            self.comment(record)
        elif isinstance(record, ViewerCount):
            self.hub.apply(self.stream, record)
        elif isinstance(record, SetCurrent):
            self._set_current(record)
        else:
            raise TypeError(f"not a source record: {record!r}")

    def comment(self, comment: Comment) -> None:
        self.metrics.observe_comment(comment.stream)
        self.hub.apply(self.stream, comment)  # first: the view keeps its text for review items
        intent = self.parser.parse(comment.text, self.current)
        self.metrics.observe_intent(comment.stream, intent.intent, 50e-6)
        intent = msgspec.structs.replace(intent, comment=comment)
        self.book, events = apply(self.book, intent, self.catalog)
        self._publish(events, comment.ts)

    async def act(self, action: HostAction) -> None:
        self.actions.append(action)
        if isinstance(action, SetCurrent):
            self._set_current(action)
            return
        self.book, events = apply_action(self.book, action, self.catalog)  # ActionError: unchanged
        self._publish(events, action.ts)

    def _set_current(self, action: SetCurrent) -> None:
        self.current = action.code
        self.hub.apply(self.stream, action)

    def _publish(self, events: list[OrderEvent], ts: float) -> None:
        for event in events:
            self.hub.apply(self.stream, event)
            self.metrics.observe_order_event(event)
        if events:
            self.hub.apply(self.stream, stock_levels(self.book, ts))


class LiveFeed(Protocol):
    url: str  # http://127.0.0.1:PORT/
    stream: str
    how: str  # what runs the pipeline, for the test's report

    async def send(self, record: Record) -> None: ...

    async def close(self) -> None: ...


class InProcessFeed:
    how = "in-process pipeline (tests/browser_helpers.MiniPipeline)"

    def __init__(self, pipeline: MiniPipeline, runner: web.AppRunner, url: str) -> None:
        self.pipeline, self._runner, self.url = pipeline, runner, url
        self.stream = pipeline.stream

    @classmethod
    async def start(cls, catalog: str, token: str) -> InProcessFeed:
        pipeline = MiniPipeline(load_catalog(catalog))
        registry: CollectorRegistry = pipeline.metrics.registry
        runner = web.AppRunner(create_app(pipeline.hub, token, registry), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return cls(pipeline, runner, f"http://127.0.0.1:{port}/")

    async def send(self, record: Record) -> None:
        self.pipeline.feed(record)

    async def close(self) -> None:
        await self._runner.cleanup()


class SubprocessFeed:
    """`chotdon run` reading records on stdin: the real embedded pipeline."""

    how = "chotdon run (subprocess, records on stdin)"

    def __init__(self, proc: asyncio.subprocess.Process, url: str, stream: str) -> None:
        self._proc, self.url, self.stream = proc, url, stream
        self.output: list[str] = []
        self._reader = asyncio.create_task(self._drain())

    @classmethod
    async def start(cls, catalog: str, token: str, db: Path, *source: str) -> SubprocessFeed:
        """`source`: the records' flags (default `--source -`, records sent with `send`)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chotdon",
            "run",
            "--catalog",
            catalog,
            *(source or ("--source", "-")),
            "--port",
            "0",
            "--token",
            token,
            "--db",
            str(db),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(30):
                while True:
                    raw = await proc.stdout.readline()
                    if not raw:
                        raise RuntimeError("chotdon run ended before serving:\n" + "".join(seen))
                    seen.append(raw.decode(errors="replace"))
                    if m := URL_RE.search(seen[-1]):
                        break
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise
        feed = cls(proc, m.group(0), load_catalog(catalog).stream)
        feed.output.extend(seen)
        return feed

    async def _drain(self) -> None:
        # keep reading so a chatty runner never blocks on a full pipe
        assert self._proc.stdout is not None
        async for raw in self._proc.stdout:
            self.output.append(raw.decode(errors="replace"))

    async def send(self, record: Record) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(encode(record) + b"\n")
        await self._proc.stdin.drain()

    async def close(self) -> None:
        if self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()
        if self._proc.returncode is None:
            self._proc.terminate()
        try:
            async with asyncio.timeout(10):
                await self._proc.wait()
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()
        self._reader.cancel()


def has_run_command() -> bool:
    """Whether the CLI has `chotdon run` yet (the lead writes it alongside these tests)."""
    probe = subprocess.run(
        [sys.executable, "-m", "chotdon", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0 and "--token" in probe.stdout


async def start_feed(catalog: str, token: str, db: Path) -> LiveFeed:
    if has_run_command():
        return await SubprocessFeed.start(catalog, token, db)
    return await InProcessFeed.start(catalog, token)
