"""One embedded session end to end: the store, the feed's views and web page, the runner, a source.

`chotdon run` and `chotdon demo` call `run_session`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import sqlite3
import sys
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry

from chotdon.catalog import Catalog
from chotdon.collector import young_generation
from chotdon.prometheus import PipelineMetrics
from chotdon.records import SetCurrent, ViewerCount
from ingest.sources import Source
from sinks.feed.hub import FeedHub
from sinks.feed.server import serve
from sinks.feed.view import StreamView
from sinks.sqlite_store import SQLiteStore

from .confirm import DRAIN_SECONDS, Confirmer
from .embedded import EmbeddedRunner, Log, PipelineError, RunStats
from .stages import stock_levels


@dataclass
class SessionOptions:
    catalogs: list[Catalog]
    db: str
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    serve: bool = True  # the feed page; off for batch runs
    keep_running: bool = False  # serve the feed after the source ends, until interrupted
    queue_size: int = 1024
    confirmer: Confirmer | None = None  # answers buyers on their platform (off by default)
    registry: CollectorRegistry | None = None  # /metrics of the session (live connectors' too)


def restore_views(store: SQLiteStore, runner: EmbeddedRunner) -> dict[str, StreamView]:
    """The feed as the last committed batch left it."""
    views = {}
    for stream, state in runner.streams.items():
        view = StreamView.for_catalog(state.catalog, stream)
        view.apply(*store.latest_orders(stream))
        view.apply(stock_levels(state.book, 0.0))
        view.apply(SetCurrent(stream=stream, code=state.current, ts=0.0))
        latest, peak = store.last_viewers(stream)
        view.apply(ViewerCount(stream=stream, viewers=peak, ts=0.0))
        view.apply(ViewerCount(stream=stream, viewers=latest, ts=0.0))
        view.comments = store.count("comments", stream)
        views[stream] = view
    return views


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class SessionError(Exception):
    """The session cannot start with these options (a file that is not a database, a port
    taken): said in one line, exit status 2."""


async def run_session(options: SessionOptions, source: Source, log: Log = _log) -> RunStats:
    with young_generation():
        return await _run_session(options, source, log)


async def _run_session(options: SessionOptions, source: Source, log: Log) -> RunStats:
    try:
        store = SQLiteStore(options.db)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise SessionError(f"--db {options.db}: {exc}") from None
    metrics = PipelineMetrics(options.registry)
    runner = EmbeddedRunner(
        options.catalogs, store, metrics=metrics, queue_size=options.queue_size, log=log
    )
    hub = FeedHub(restore_views(store, runner), runner.submit)
    runner.hub = hub
    hub.observe(metrics)
    gc.freeze()  # the catalogs, books and views as the session starts: collected at its end
    site_runner: web.AppRunner | None = None
    confirming: asyncio.Task[None] | None = None
    if options.confirmer is not None:
        runner.listeners.append(options.confirmer.offer)
        confirming = asyncio.create_task(options.confirmer.run())
    stop_on_sigterm()
    try:
        if options.serve:
            try:
                site_runner = await serve(
                    hub, options.token, metrics.registry, options.host, options.port
                )
            except OSError as exc:
                where = f"{options.host}:{options.port}"
                raise SessionError(f"--host/--port {where}: {exc.strerror or exc}") from None
        return await runner.run(source, keep_running=options.keep_running)
    finally:
        if confirming is not None and options.confirmer is not None:
            await options.confirmer.drain(DRAIN_SECONDS)
            confirming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await confirming
        if site_runner is not None:
            await site_runner.cleanup()
        store.close()


def stop_on_sigterm() -> None:
    """SIGTERM (Kubernetes, systemd, docker stop) stops the running task as Ctrl-C does: what was
    read is drained and committed (see EmbeddedRunner) before the process exits."""
    task = asyncio.current_task()
    if task is None:
        return
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def run(options: SessionOptions, source: Source) -> int:
    """Run a session; the exit status: 0 when it ended or was stopped (Ctrl-C, SIGTERM: drained
    first), 1 when a stage of the pipeline died, 2 when it could not start (said in one line)."""
    try:
        asyncio.run(run_session(options, source))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except PipelineError as exc:
        _log(f"chotdon: {exc}")
        return 1
    except SessionError as exc:
        _log(f"chotdon: {exc}")
        return 2
    return 0
