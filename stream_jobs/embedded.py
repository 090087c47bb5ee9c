"""The embedded runner: the whole pipeline in one asyncio process, with no services.

    source ─▶ [inbox] ──┬─▶ parse + resolve ─▶ [outbox] ─▶ SQLite, then the feed and metrics
    host ──▶ [actions] ─┘ (first)

The queues are bounded, so a fast source waits for a slow stage instead of filling memory.
The host's actions (from the feed, in this process) have a queue of their own, taken before the
source's: under a backlog of thousands of comments, an approval or a stock change applies after
the comment in hand, not after the backlog, and is committed and shown at once. They apply in
the order the host sent them, where the host saw the stream: the feed stamps an action with the
time of the latest record on the host's page (`server._now`), so a replay, which merges the
switches with the comments by time, puts a switch before the comments that were waiting too.
The process stage runs the same pure stage code as the distributed mode (the parser, the order
book); the sink commits each batch to SQLite — with the books' state and the source position —
before the host's page sees it, so what the page shows survives a restart.

Nothing fails silently: a record the stages cannot handle is a counted dead letter, and a stage
that dies (the store cannot write) stops the whole run with `PipelineError` instead of leaving
the source counting into a queue nobody empties. Stopping (Ctrl-C, SIGTERM, the source's end)
drains what was already read, for `DRAIN_SECONDS` at most.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from chotdon.catalog import Catalog
from chotdon.figures import Figures
from chotdon.formatting import format_vnd
from chotdon.phones import mask_phones_in
from chotdon.prometheus import PipelineMetrics, reason_kind, source_kind
from chotdon.records import (
    AnyRecord,
    Comment,
    HostAction,
    OrderEvent,
    SetCurrent,
    ViewerCount,
    encode,
    record_stream,
)
from ingest.sources import JsonLinesSource, Source, SourceRecord
from sinks.feed.hub import FeedHub
from sinks.feed.view import StreamView
from sinks.sqlite_store import Batch, SQLiteStore

from .actions import ActionError
from .book_rows import has_changes, restore_book, take_changes
from .order_book import new_book
from .processor import StreamProcessor

# records per commit at most. Live, a batch is what arrived during the last one (a few); a
# backlog commits every 1,024 (~0.15 s), which spreads a commit's ~1.3 ms over more comments
BATCH_SIZE = 1024
PROGRESS_EVERY = 2.0  # seconds between progress lines
MAX_STREAMS = 1000  # streams one run serves (and unknown ones it names) at most
DERIVED_STREAM = re.compile(r"(.+)-([2-9]|[1-9][0-9]+)")  # what `chotdon simulate` names them
DRAIN_SECONDS = 20.0  # on stop, what was read is committed within this, else given up
ACTIONS_QUEUED = 256  # the host's actions waiting at most (the feed waits for each it sends)

Log = Callable[[str], None]


@dataclass(eq=False)
class StreamState(StreamProcessor):
    current_changed: bool = False  # since the last commit


@dataclass
class RunStats:
    records: int = 0
    comments: int = 0
    figures: Figures = field(default_factory=Figures)  # of the session so far, restarts included
    dead_letters: int = 0
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Item:
    position: int  # in the source; 0 for the host's actions
    record: SourceRecord
    done: asyncio.Future[list[OrderEvent]] | None = None


_END = object()
_WAKE = object()  # in the inbox: a host action waits in the actions queue


class PipelineError(RuntimeError):
    """A stage of the pipeline died: the run stops rather than go on without it."""


class EmbeddedRunner:
    def __init__(
        self,
        catalogs: list[Catalog],
        store: SQLiteStore,
        *,
        hub: FeedHub | None = None,
        metrics: PipelineMetrics | None = None,
        queue_size: int = 1024,
        log: Log | None = None,
    ) -> None:
        self.store = store
        self.hub = hub
        self.metrics = metrics
        self.log = log or (lambda _msg: None)
        self.listeners: list[Callable[[AnyRecord], None]] = []  # told each committed record
        self.stats = RunStats()
        store.put_catalogs(catalogs)
        self.streams: dict[str, StreamState] = {}
        self._catalogs = {c.stream: c for c in catalogs}  # the streams others derive from
        derived = [c for c in store.stored_catalogs() if self._base_of(c.stream) is not None]
        for catalog in [*catalogs, *derived]:
            stored = store.book(catalog.stream)
            book = restore_book(stored[0]) if stored else new_book(catalog)
            current = stored[1] if stored else None
            self.streams[catalog.stream] = StreamState(catalog, book, current)
            for event in store.latest_orders(catalog.stream):
                self.stats.figures.apply(event)
        self._inbox: asyncio.Queue[_Item | object] = asyncio.Queue(queue_size)
        self._actions: asyncio.Queue[_Item] = asyncio.Queue(ACTIONS_QUEUED)
        self._outbox: asyncio.Queue[Batch | object] = asyncio.Queue(max(2, queue_size // 64))
        self._pending_errors: list[tuple[int, str, str]] = []
        self._source_name = ""
        self._failure: BaseException | None = None
        self._draining = False
        self._unknown: set[str] = set()  # streams without a catalog, said once each

    # -- the host's actions -------------------------------------------------------------------

    async def submit(self, action: HostAction) -> list[OrderEvent]:
        """Apply a host action after the comment in hand, before those waiting, in the order the
        host's actions came; raises what the book refused."""
        if self._failure is not None:
            raise PipelineError("the pipeline has stopped") from self._failure
        if not isinstance(action, SetCurrent) and not action.action_id:
            action = msgspec.structs.replace(action, action_id=f"host-{uuid.uuid4().hex[:12]}")
        done: asyncio.Future[list[OrderEvent]] = asyncio.get_running_loop().create_future()
        await self._actions.put(_Item(0, action, done))
        if self._inbox.empty():  # the process stage may be waiting for the source: wake it
            self._inbox.put_nowait(_WAKE)
        return await done

    # -- running ------------------------------------------------------------------------------

    def report_bad_line(self, position: int, reason: str, raw: str, *, say: bool = True) -> None:
        """A malformed source line: said with its line number and reason, counted, skipped."""
        self.stats.dead_letters += 1
        self._pending_errors.append((position, reason, raw))
        if say:
            self.log(
                f"dòng {position} bị bỏ qua (line {position} skipped): {mask_phones_in(reason)}"
            )
        if self.metrics:
            self.metrics.dead_letter(source_kind(self._source_name), reason_kind(reason))

    async def run(self, source: Source, *, keep_running: bool = False) -> RunStats:
        """Run until the source ends (and, with keep_running, until cancelled: the feed stays
        up and the host's actions still apply). Raises PipelineError if a stage died."""
        if source.resumable:
            self._source_name = source.name
            start = self.store.position(source.name)
        else:  # new input each run: its line numbers name this run's lines only
            self._source_name = f"{source.name}@{time.strftime('%Y-%m-%dT%H:%M:%S')}"
            start = 0
        if isinstance(source, JsonLinesSource) and source.on_error is None:
            source.on_error = self.report_bad_line
        if start:
            self.log(f"tiếp tục phiên từ vị trí {start} (resuming at position {start})")
        reader = asyncio.current_task()
        process = asyncio.create_task(self._process(self._source_name))
        sink = asyncio.create_task(self._sink())
        for stage in (process, sink):
            stage.add_done_callback(lambda task: self._stage_done(task, reader))
        progress = asyncio.create_task(self._progress())
        try:
            async for position, record in source.records(start):
                await self._inbox.put(_Item(position, record))
            if keep_running:
                await asyncio.Event().wait()
        except asyncio.CancelledError:
            if self._failure is None or reader is None:
                raise  # stopped from outside: drain below, then go on stopping
            reader.uncancel()  # cancelled by _stage_done: PipelineError below says why
        finally:
            progress.cancel()
            await self._drain(process, sink)
            self._print_progress()
        if self._failure is not None:
            raise PipelineError(f"a pipeline stage failed: {self._failure!r}") from self._failure
        return self.stats

    def _stage_done(self, stage: asyncio.Task[None], reader: asyncio.Task[object] | None) -> None:
        if stage.cancelled() or stage.exception() is None:
            return
        self._failure = stage.exception()
        self.log(f"dừng: lỗi trong pipeline (stopped: a stage failed): {self._failure!r}")
        if reader is not None and not self._draining:
            reader.cancel()

    async def _drain(self, process: asyncio.Task[None], sink: asyncio.Task[None]) -> None:
        """Let the stages finish what was read, within DRAIN_SECONDS; cancel what is left."""
        self._draining = True
        stages = (process, sink)
        if self._failure is None:
            end = asyncio.ensure_future(self._inbox.put(_END))
            await asyncio.wait(stages, timeout=DRAIN_SECONDS)
            end.cancel()
        if not all(stage.done() for stage in stages):
            if self._failure is None:
                self.log("dừng: hết thời gian ghi (stopped before everything was saved)")
            for stage in stages:
                stage.cancel()
            await asyncio.wait(stages)

    async def _process(self, source_name: str) -> None:
        batch = Batch(source_name)
        actions, inbox = self._actions, self._inbox
        while True:
            item = actions.get_nowait() if actions.qsize() else await inbox.get()
            if item is _END:
                break
            if item is _WAKE:
                continue
            assert isinstance(item, _Item)
            try:
                self._handle(item, batch)
            except Exception as exc:  # a record no stage can handle: dead letter, not a stop
                self._unhandled(item, exc)
            if item.done or inbox.empty() or len(batch.records) >= BATCH_SIZE:
                await self._flush(batch)
                batch = Batch(source_name)
                await asyncio.sleep(0)  # the feed's pages and the host get the loop between batches
        await self._flush(batch)
        await self._outbox.put(_END)

    def _handle(self, item: _Item, batch: Batch) -> None:
        record = item.record
        if item.position:
            batch.position = item.position
            self.stats.records += 1
        state = self.streams.get(record.stream) or self._derive(record.stream, batch)
        if state is None:
            error = f"unknown stream '{record.stream}'"
            if item.done:
                item.done.set_exception(ValueError(error))
            else:
                self._unknown_stream(item.position, record.stream, error)
            return
        events: list[OrderEvent] = []
        if isinstance(record, Comment):
            events = self._comment(state, record, batch)
        elif isinstance(record, ViewerCount):
            batch.records.append(record)
        elif isinstance(record, SetCurrent):
            state.current, state.current_changed = record.code, True
            batch.records.append(record)
        else:
            try:
                events = state.action(record)
            except ActionError as exc:
                if item.done:
                    item.done.set_exception(exc)
                return
            batch.records.append(record)
        batch.records.extend(events)
        if item.done:
            item.done.set_result(events)

    def _base_of(self, stream: str) -> Catalog | None:
        """The catalog a simulated stream sells: "kim-an-oi-2" is a second "kim-an-oi"."""
        m = DERIVED_STREAM.fullmatch(stream)
        return self._catalogs.get(m.group(1)) if m else None

    def _derive(self, stream: str, batch: Batch) -> StreamState | None:
        base = self._base_of(stream)
        if base is None or len(self.streams) >= MAX_STREAMS:
            return None
        catalog = msgspec.structs.replace(base, stream=stream)
        state = self.streams[stream] = StreamState(catalog, new_book(catalog))
        batch.catalogs.append(catalog)  # stored with the batch: a restart finds it
        if self.hub is not None:
            self.hub.views[stream] = StreamView.for_catalog(catalog, stream)
        self.log(f"luồng {stream} bán theo danh mục {base.stream} (stream sells that catalog)")
        return state

    def _unknown_stream(self, position: int, stream: str, error: str) -> None:
        """Every line of a stream with no catalog is a dead letter; the fix is said once."""
        if stream in self._unknown or len(self._unknown) >= MAX_STREAMS:
            self.report_bad_line(position, error, "", say=False)
            return
        self._unknown.add(stream)
        self.report_bad_line(position, error, "")
        known = ", ".join(sorted(self._catalogs))
        self.log(
            f"luồng '{stream}' chưa có danh mục: thêm --catalog cho nó (stream '{stream}' has no "
            f"catalog: add a --catalog whose stream is '{stream}'; known: {known}); "
            "các dòng sau của luồng này được đếm, không báo lại (later lines counted, not said)"
        )

    def _unhandled(self, item: _Item, exc: Exception) -> None:
        if item.done is not None:
            if not item.done.done():
                item.done.set_exception(exc)
            return
        raw = encode(item.record).decode("utf-8", errors="replace")
        self.report_bad_line(item.position, f"internal error: {exc!r}", raw)

    def _comment(self, state: StreamState, comment: Comment, batch: Batch) -> list[OrderEvent]:
        self.stats.comments += 1
        metrics = self.metrics
        intent = metrics.observe_parse(state.parse, comment) if metrics else state.parse(comment)
        batch.records.append(intent)
        return state.resolve(intent)

    async def _flush(self, batch: Batch) -> None:
        batch.dead_letters, self._pending_errors = self._pending_errors, []
        for stream, state in self.streams.items():
            levels = state.take_stock()
            if levels is not None:
                batch.records.append(levels)
            if state.current_changed or has_changes(state.book):
                batch.books[stream] = (take_changes(state.book), state.current)
                state.current_changed = False
        if batch:
            await self._outbox.put(batch)
        if self.metrics:
            self.metrics.set_queue_depth("inbox", self._inbox.qsize())
            self.metrics.set_queue_depth("outbox", self._outbox.qsize())

    async def _sink(self) -> None:
        while True:
            batch = await self._outbox.get()
            if batch is _END:
                return
            assert isinstance(batch, Batch)
            await asyncio.to_thread(self.store.write, batch)
            self._published(batch.records)

    def _published(self, records: list[AnyRecord]) -> None:
        """A committed batch: told to the listeners, counted, and on the host's page."""
        events: list[OrderEvent] = []
        by_stream: dict[str, list[AnyRecord]] = {}
        for record in records:
            for listener in self.listeners:
                listener(record)
            if isinstance(record, OrderEvent):
                events.append(record)
                self.stats.figures.apply(record)
            stream = record_stream(record)
            if stream is not None:
                by_stream.setdefault(stream, []).append(record)
        if self.hub is not None:
            for stream, of_stream in by_stream.items():
                self.hub.apply(stream, *of_stream)
        if self.metrics:
            now = time.time()  # on the host's page from now
            for event in events:
                self.metrics.observe_order_event(event)
                if self.hub is not None:
                    self.metrics.observe_visible(event, now)

    async def _progress(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            self._print_progress()

    def _print_progress(self) -> None:
        s = self.stats
        elapsed = time.monotonic() - s.started
        rate = f"{s.comments / max(elapsed, 1e-9):,.0f}".replace(",", ".")
        orders = f"{s.figures.orders:,}".replace(",", ".")
        self.log(
            f"{s.comments:,} bình luận ({rate}/s) · {orders} đơn chốt · ".replace(",", ".")
            + f"doanh thu {format_vnd(s.figures.revenue)} · {s.dead_letters} dòng lỗi"
        )
