"""The run loop every connector shares, and the adapters that put its records somewhere.

A connector holds only its platform's wire format. It is an object with `platform`, `stream`,
`restore(state)` and an async generator `batches()` yielding `Batch`es: the records of one poll
(or one pushed request, or one streamed frame), the checkpoint state after them, and how long to
wait before the next poll. `run_connector` drives it:

- drops duplicates by comment id (bounded `Deduper`, its last ids kept in the checkpoint so a
  restart that re-reads its last window drops them) and makes every `comment_id`
  "<platform>:<id>", so downstream dedupes again;
- retries `TransientError` (and raw network errors) with `Backoff`, calling `batches()` again:
  that is the reconnect, from the connector's own position; `RateLimited.retry_after` wins when
  longer;
- stops with an `Outcome` on `SessionEnded`, `AuthError`, `QuotaExceeded` or the `stop` event,
  saving the checkpoint: a dead token is a clear message and a metric, not a crash loop;
- logs malformed payloads (phones masked), counts and skips them, and so every record out of
  its bounds (`chotdon.records.checked`); half an emoji (a lone surrogate) becomes U+FFFD;
- once `stop` is set, gives the connector STOP_GRACE seconds to finish (a stalled reader of
  its output cannot keep it from stopping; what was not surely written is not checkpointed);
- keeps the metrics: comments, duplicates, polls, errors by kind, lag, session state.

A platform is plugged into `chotdon ingest PLATFORM` by a `Platform` (flags + a builder), listed
in `ingest.connectors.cli.PLATFORM_MODULES`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import queue
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal, Protocol

import aiohttp
import msgspec

from chotdon.phones import mask_phones_in
from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, RecordError, checked, encode

from .base import (
    AuthError,
    Backoff,
    Checkpoint,
    ConnectorError,
    ConnectorRecord,
    Deduper,
    Emit,
    QuotaExceeded,
    RateLimited,
    SessionEnded,
    TransientError,
)
from .tokens import RefreshingToken

Log = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]
RECENT_KEY = "_recent_ids"  # the checkpoint entry the runner owns
RECENT_KEEP = 2_000
MALFORMED_RAW_CHARS = 300
STOP_GRACE = 5.0  # seconds a stopped connector has to emit what it holds
# Errors a connector's HTTP client may leak unconverted: retried like TransientError.
NETWORK_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, OSError, TimeoutError)
RETRIABLE: tuple[type[Exception], ...] = (TransientError, *NETWORK_ERRORS)


@dataclass(frozen=True, slots=True)
class Malformed:
    """A payload (or one item of it) the connector could not read: why, and the raw text."""

    reason: str
    raw: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the runner did with one batch (a push connector answers its client with it)."""

    emitted: int
    duplicates: int


@dataclass
class Batch:
    records: Sequence[ConnectorRecord] = ()
    state: Mapping[str, Any] | None = None  # checkpoint after these records; None: unchanged
    wait: float = 0.0  # seconds before the next batch is pulled: the platform's polling interval
    malformed: Sequence[Malformed] = ()
    requests: int = 0  # polls or connections this batch took
    errors: Sequence[tuple[str, str]] = ()  # (kind, message) counted and logged, no retry
    notes: Sequence[str] = ()  # said to the person running it (a quota plan, a fallback)
    ack: asyncio.Future[Accepted] | None = None  # set once the records are emitted
    quota_left: float | None = None  # share of the platform's rate limit or quota free, 0..1


class Connector(Protocol):
    platform: str
    stream: str  # the metrics' label; a push connector serving many streams names itself

    def restore(self, state: Mapping[str, Any]) -> None:
        """Resume from a checkpoint's state (empty on the first run)."""

    def batches(self) -> AsyncIterator[Batch]:
        """Batches until the session ends (raise SessionEnded after the last one). Called again
        after a TransientError: continue from the position the last batch reached."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    reason: Literal["ended", "stopped", "auth", "quota", "error"]
    message: str = ""

    @property
    def exit_code(self) -> int:
        """0 done; 78 (EX_CONFIG) needs a person (token, quota): a supervisor should not
        restart it (systemd RestartPreventExitStatus=78); 1 anything else."""
        if self.reason in ("ended", "stopped"):
            return 0
        return 78 if self.reason in ("auth", "quota") else 1


class EmitError(Exception):
    """Records could not be put where they go (Kafka, stdout...): the run stops, no retry."""


class UsageError(Exception):
    """A connector cannot be built from these flags and environment (missing credential...)."""


@dataclass(frozen=True)
class Platform:
    """How `chotdon ingest NAME` builds a connector: its flags and a builder from the parsed
    flags and the environment (credentials come only from there)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build: Callable[[argparse.Namespace, Mapping[str, str]], Connector]
    description: str = ""
    needs_stream: bool = True  # --stream ID; a push connector gets the stream in each record


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Runner:
    def __init__(
        self,
        connector: Connector,
        emit: Emit,
        *,
        stop: asyncio.Event,
        metrics: ConnectorMetrics | None = None,
        checkpoint: Checkpoint | None = None,
        log: Log = _stderr,
        backoff: Backoff | None = None,
        deduper: Deduper | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.time,
        checkpoint_every: float = 1.0,
    ) -> None:
        self.connector = connector
        self.emit = emit
        self.stop = stop
        self.metrics = metrics or ConnectorMetrics()
        self.checkpoint = checkpoint or Checkpoint(None)
        self._log = log
        self.backoff = backoff or Backoff()
        self.deduper = deduper or Deduper()
        self._sleep = sleep
        self.clock = clock
        self.checkpoint_every = checkpoint_every
        self._state: dict[str, Any] = {}
        self._dirty = False
        self._emit_failed = False
        self._saved_at = 0.0
        labels = (connector.platform, connector.stream)
        self._comments = self.metrics.comments.labels(*labels)
        self._duplicates = self.metrics.duplicates.labels(*labels)
        self._polls = self.metrics.polls.labels(*labels)
        self._malformed = self.metrics.malformed.labels(*labels)
        self._lag = self.metrics.lag.labels(*labels)
        self._session = self.metrics.state.labels(*labels)
        self._last_comment = self.metrics.last_comment.labels(*labels)
        self._quota_left = self.metrics.quota_left.labels(*labels)
        # A connector renewing its access token holds it as `token` (YouTube OAuth, Shopee).
        token = getattr(connector, "token", None)
        if isinstance(token, RefreshingToken):
            self.metrics.track_token(*labels, token.seconds_left, lambda: token.renewal_failed)

    def log(self, message: str) -> None:
        self._log(mask_phones_in(f"{self.connector.platform} {self.connector.stream}: {message}"))

    async def run(self) -> Outcome:
        state = dict(self.checkpoint.state)
        self.deduper.remember(list(state.pop(RECENT_KEY, [])))
        self._state = state
        self.connector.restore(state)
        self._session.set(1)
        work = asyncio.ensure_future(self._run())
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((work, stopped), return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                await asyncio.wait((work,), timeout=STOP_GRACE)
            if not work.done():
                work.cancel()
                await asyncio.wait((work,))
                message = f"output stalled for {STOP_GRACE:.0f}s after stop: last records unsaved"
                self.log(f"stopped: {message}")
                return Outcome("error", message)
            return work.result()
        finally:
            stopped.cancel()
            if not work.done():
                work.cancel()
            self._session.set(0)
            self._save()

    async def _run(self) -> Outcome:
        while not self.stop.is_set():
            try:
                if await self._drain(self.connector.batches()):
                    break
                return self._ended("the connector has no more records")
            except SessionEnded as exc:
                return self._ended(str(exc))
            except (AuthError, QuotaExceeded) as exc:
                self.metrics.errors.labels(*self._labels, exc.kind).inc()
                reason: Literal["auth", "quota"] = "auth" if isinstance(exc, AuthError) else "quota"
                self.log(f"stopped: {exc}")
                return Outcome(reason, str(exc))
            except RETRIABLE as exc:
                kind = exc.kind if isinstance(exc, ConnectorError) else "transient"
                self.metrics.errors.labels(*self._labels, kind).inc()
                retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
                delay = self.backoff.next_delay(retry_after)
                self._session.set(-1)
                self.log(f"{kind}: {exc or type(exc).__name__}; retrying in {delay:.1f}s")
                self._save()
                await self._pause(delay)
            except ConnectorError as exc:
                self.metrics.errors.labels(*self._labels, exc.kind).inc()
                self.log(f"stopped: {exc}")
                return Outcome("error", str(exc))
        self.log("stopped")
        return Outcome("stopped")

    @property
    def _labels(self) -> tuple[str, str]:
        return (self.connector.platform, self.connector.stream)

    def _ended(self, message: str) -> Outcome:
        self.log(f"session ended: {message}")
        return Outcome("ended", message)

    async def _drain(self, batches: AsyncIterator[Batch]) -> bool:
        """Apply batches until the iterator ends (False) or `stop` is set (True)."""
        try:
            while True:
                batch = await self._next(batches)
                if batch is None:
                    return True
                await self._apply(batch)
                self.backoff.reset()
                self._session.set(1)
                if batch.wait > 0:
                    await self._pause(batch.wait)
                if self.stop.is_set():
                    return True
        except StopAsyncIteration:
            return False
        finally:
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _next(self, batches: AsyncIterator[Batch]) -> Batch | None:
        """The next batch, or None when `stop` is set first (a stream may block for long)."""
        pull = asyncio.ensure_future(anext(batches))
        stopped = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait((pull, stopped), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not pull.done():
                pull.cancel()
                await asyncio.wait((pull,))
        if pull.cancelled():
            return None
        return pull.result()  # a batch that beat the cancel is still applied

    async def _apply(self, batch: Batch) -> None:
        if batch.requests:
            self._polls.inc(batch.requests)
        if batch.quota_left is not None:
            self._quota_left.set(min(1.0, max(0.0, batch.quota_left)))
        for kind, message in batch.errors:
            self.metrics.errors.labels(*self._labels, kind).inc()
            self.log(message)
        for note in batch.notes:
            self.log(note)
        for bad in batch.malformed:
            self._malformed.inc()
            self.log(f"malformed payload skipped: {bad.reason}: {bad.raw[:MALFORMED_RAW_CHARS]}")
        emitted = duplicates = 0
        for given in batch.records:
            try:
                record = checked(given)
            except RecordError as exc:
                self._malformed.inc()
                self.log(f"record out of bounds skipped: {exc}")
                continue
            if isinstance(record, Comment):
                record = stable_comment(record)
                key = f"{record.comment_id}#deleted" if record.deleted else record.comment_id
                if not self.deduper.first_time(key):
                    duplicates += 1
                    self._duplicates.inc()
                    continue
                await self._emit(record, batch)
                self._comments.inc()
                self._last_comment.set(self.clock())
                if not record.history:
                    self._lag.set(max(0.0, self.clock() - record.ts))
            else:
                await self._emit(record, batch)
            emitted += 1
        if batch.ack is not None and not batch.ack.done():
            batch.ack.set_result(Accepted(emitted, duplicates))
        if batch.state is not None:
            self._state.update(batch.state)
        if batch.state is not None or emitted:
            self._dirty = True
        if self._dirty and time.monotonic() - self._saved_at >= self.checkpoint_every:
            self._save()

    async def _emit(self, record: ConnectorRecord, batch: Batch) -> None:
        """Emit, or fail for good: the checkpoint then stays where the last whole batch left
        it (the deduper already holds this batch's ids), so a restart replays rather than
        skips; downstream drops the replay by comment id."""
        try:
            await self.emit(record)
        except BaseException as exc:
            self._emit_failed = True
            if batch.ack is not None and not batch.ack.done():
                batch.ack.set_exception(EmitError(str(exc) or type(exc).__name__))
            if isinstance(exc, Exception):
                raise EmitError(f"could not emit a record: {exc!r}") from exc
            raise

    def _save(self) -> None:
        if not self._dirty or self._emit_failed:
            return
        self.checkpoint.save(**self._state, **{RECENT_KEY: self.deduper.recent(RECENT_KEEP)})
        self._dirty = False
        self._saved_at = time.monotonic()

    async def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), seconds)


async def run_connector(
    connector: Connector,
    emit: Emit,
    *,
    stop: asyncio.Event,
    metrics: ConnectorMetrics | None = None,
    checkpoint: Checkpoint | None = None,
    log: Log = _stderr,
    backoff: Backoff | None = None,
    deduper: Deduper | None = None,
    sleep: Sleep | None = None,
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """Run one connector until its session ends, it must stop (auth, quota) or `stop` is set."""
    runner = Runner(
        connector,
        emit,
        stop=stop,
        metrics=metrics,
        checkpoint=checkpoint,
        log=log,
        backoff=backoff,
        deduper=deduper,
        sleep=sleep,
        clock=clock,
    )
    return await runner.run()


def stable_comment(comment: Comment) -> Comment:
    """The comment with its id as "<platform>:<id>", the key downstream dedupes on."""
    prefix = f"{comment.platform}:"
    if comment.comment_id.startswith(prefix):
        return comment
    return msgspec.structs.replace(comment, comment_id=prefix + comment.comment_id)


# -- where records go ---------------------------------------------------------------------------


def jsonl_emit(out: IO[bytes]) -> Emit:
    """Records as JSON Lines (`chotdon run --source -` and `chotdon ingest --source -` read
    them), flushed each: a stopped connector leaves nothing in a buffer. The writes happen in a
    thread: a reader that stops reading stalls the emits, never the event loop (signals work)."""
    writer = ThreadWriter(out)

    async def emit(record: ConnectorRecord) -> None:
        await writer.write(encode(record) + b"\n")

    return emit


class ThreadWriter:
    """Blocking writes to a file done by one daemon thread, awaited by the event loop."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self._jobs: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]]] = queue.SimpleQueue()
        threading.Thread(target=self._work, name="jsonl-writer", daemon=True).start()

    async def write(self, data: bytes) -> None:
        done = asyncio.get_running_loop().create_future()
        self._jobs.put((data, done))
        await done

    def _work(self) -> None:
        while True:
            data, done = self._jobs.get()
            error: BaseException | None = None
            try:
                self.out.write(data)
                self.out.flush()
            except Exception as exc:
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                done.get_loop().call_soon_threadsafe(_settle, done, error)


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class ConnectorSource:
    """A connector as a source of the embedded runner. Positions go on from `start` (the
    runner's stored position); the connector's own checkpoint decides where it resumes."""

    def __init__(
        self,
        connector: Connector,
        *,
        stop: asyncio.Event | None = None,
        metrics: ConnectorMetrics | None = None,
        checkpoint: Checkpoint | None = None,
        log: Log = _stderr,
        queue_size: int = 1024,
    ) -> None:
        self.connector = connector
        self.name = f"{connector.platform}:{connector.stream}"
        self.resumable = True  # positions go on from the stored one; nothing is skipped
        self.stop = stop or asyncio.Event()
        self.metrics = metrics
        self.checkpoint = checkpoint
        self.log = log
        self.queue_size = queue_size
        self.outcome: Outcome | None = None

    async def records(self, start: int = 0) -> AsyncIterator[tuple[int, ConnectorRecord]]:
        # Each emit waits until the consumer has taken its record, so the connector's
        # checkpoint never covers a record still sitting here when the consumer goes away.
        queue: asyncio.Queue[tuple[ConnectorRecord, asyncio.Future[None]] | None]
        queue = asyncio.Queue(1)

        async def emit(record: ConnectorRecord) -> None:
            taken = asyncio.get_running_loop().create_future()
            await queue.put((record, taken))
            await taken

        async def drive() -> None:
            try:
                self.outcome = await run_connector(
                    self.connector,
                    emit,
                    stop=self.stop,
                    metrics=self.metrics,
                    checkpoint=self.checkpoint,
                    log=self.log,
                )
            finally:
                # Every emit has been taken (room for the end), unless the consumer left.
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

        task = asyncio.create_task(drive())
        position = start
        try:
            while (item := await queue.get()) is not None:
                record, taken = item
                position += 1
                yield position, record
                taken.set_result(None)
            await task
        finally:
            self.stop.set()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
