"""Sources of records for the embedded runner: a JSON Lines file, stdin, or the simulator.

A source yields `(position, record)`. The position lets a restarted run skip what it already
processed, but only in a source with a stable identity (`resumable`: a regular file, a seeded
simulation): stdin and named pipes carry new input each run, so they start from the top and the
records already seen are recognised by their ids downstream. A line that is not a valid record,
or longer than `MAX_LINE_BYTES`, is reported (line number and reason), counted and skipped: the
run goes on. A regular file is read in chunks; anything else (a pipe, a terminal) line by line,
so a comment is processed as soon as its line arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import stat
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from chotdon.records import (
    AdjustStock,
    Approve,
    Comment,
    RecordError,
    Reject,
    SetCurrent,
    ViewerCount,
    decode,
)

SOURCE_RECORDS = (Comment, ViewerCount, SetCurrent, Approve, Reject, AdjustStock)
SourceRecord = Comment | ViewerCount | SetCurrent | Approve | Reject | AdjustStock
ErrorSink = Callable[[int, str, str], None]  # (line number, reason, raw line)
MAX_LINE_BYTES = 1 << 20  # a record line longer than this is a dead letter, never read whole
READ_LINES = 1024  # lines of a regular file read per thread hop
TOO_LONG = None  # what a line reader yields for a line over MAX_LINE_BYTES
MAX_SPEED = 1e6  # times real time: beyond it, as fast as possible is the same


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast to replay recorded time: None is as fast as possible, 1.0 real time."""

    speed: float | None = None

    @classmethod
    def parse(cls, text: str) -> Pace:
        """ "max" (or 0), "1" (real time), "10" or "10x"; ValueError otherwise."""
        text = text.strip().lower()
        if text in ("max", "0", ""):
            return cls(None)
        try:
            speed = float(text.removesuffix("x"))  # "10x"
        except ValueError:
            speed = math.nan
        if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise ValueError(f"speed: expected max, or a number above 0 up to {MAX_SPEED:g}")
        return cls(speed)

    def __str__(self) -> str:
        return "max" if self.speed is None else f"{self.speed:g}x"


def add_speed_flag(p: argparse.ArgumentParser, default: str, help: str) -> None:
    """`--speed`, parsed into a Pace (a bad value: argparse's one-line error, exit 2)."""

    def speed(text: str) -> Pace:
        try:
            return Pace.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None

    p.add_argument("--speed", type=speed, default=Pace.parse(default), help=help)


class _Pacer:
    def __init__(self, pace: Pace) -> None:
        self.speed = pace.speed
        self.origin: tuple[float, float] | None = None  # (record ts, wall clock)

    async def wait(self, ts: float) -> None:
        if self.speed is None:
            return
        now = time.monotonic()
        if self.origin is None:
            self.origin = (ts, now)
            return
        due = self.origin[1] + (ts - self.origin[0]) / self.speed
        if due > now:
            await asyncio.sleep(due - now)


def read_record(line: str) -> SourceRecord:
    """One source line as a record, or RecordError saying why not."""
    record = decode(line)
    if not isinstance(record, SOURCE_RECORDS):
        raise RecordError(f"a '{type(record).__name__}' record is not a source record")
    return record


class JsonLinesSource:
    """Records from a JSON Lines file, a named pipe, or stdin when `path` is "-"."""

    def __init__(self, path: str, on_error: ErrorSink | None = None, pace: Pace = Pace()) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else f"file:{Path(path).resolve()}"
        self.resumable = path != "-" and _is_regular(path)  # new input each run otherwise
        self.on_error = on_error
        self.pace = pace

    async def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]:
        pacer = _Pacer(self.pace)
        lineno = 0
        async for raw in self._lines():
            lineno += 1
            if lineno <= start:
                continue
            if raw is TOO_LONG:
                self._error(lineno, f"line longer than {MAX_LINE_BYTES} bytes", "")
                continue
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                record = read_record(line)
            except RecordError as exc:
                self._error(lineno, str(exc), line.rstrip("\n"))
                continue
            await pacer.wait(record.ts)
            yield lineno, record

    def _error(self, lineno: int, reason: str, raw: str) -> None:
        if self.on_error is not None:
            self.on_error(lineno, reason, raw)

    async def _lines(self) -> AsyncIterator[bytes | None]:
        if self.path == "-":
            stream = sys.stdin.buffer
        else:
            stream = await asyncio.to_thread(open, self.path, "rb")  # a FIFO waits for a writer
        with stream:
            if _is_regular_fd(stream.fileno()):
                lines = _bounded_lines(stream)
                while chunk := await asyncio.to_thread(_take, lines, READ_LINES):
                    for line in chunk:
                        yield line
            else:
                async for line in _pipe_lines(stream):
                    yield line


def _is_regular(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _is_regular_fd(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


def _bounded_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """Lines of a file, each at most MAX_LINE_BYTES (a longer one is skipped: TOO_LONG)."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield TOO_LONG
        else:
            yield line


def _take(lines: Iterator[bytes | None], n: int) -> list[bytes | None]:
    return list(itertools.islice(lines, n))


async def _pipe_lines(pipe: IO[bytes]) -> AsyncIterator[bytes | None]:
    """Lines of a pipe as they arrive, each at most MAX_LINE_BYTES (else TOO_LONG)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES + 1)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    while True:
        try:
            yield await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:  # the end, maybe after a last unended line
            if exc.partial:
                yield exc.partial
            return
        except asyncio.LimitOverrunError as exc:
            if not await _skip_line(reader, exc.consumed):
                yield TOO_LONG
                return
            yield TOO_LONG


async def _skip_line(reader: asyncio.StreamReader, buffered: int) -> bool:
    """Drop the rest of a line too long to keep; False if the input ended inside it."""
    while True:
        await reader.readexactly(buffered)
        try:
            await reader.readuntil(b"\n")
            return True
        except asyncio.IncompleteReadError:
            return False
        except asyncio.LimitOverrunError as exc:
            buffered = exc.consumed


class RecordsSource:
    """Records already in memory or generated (the simulator), paced by their timestamps."""

    def __init__(
        self,
        name: str,
        records: Iterable[SourceRecord],
        pace: Pace = Pace(),
        *,
        resumable: bool = True,  # the same records each run (a seeded simulation)
    ) -> None:
        self.name = name
        self.resumable = resumable
        self._records = records
        self.pace = pace

    async def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]:
        pacer = _Pacer(self.pace)
        for position, record in enumerate(self._records, 1):
            if position <= start:
                continue
            await pacer.wait(record.ts)
            yield position, record
            if position % 256 == 0:
                await asyncio.sleep(0)  # let the other stages run when pacing never sleeps


class Source(Protocol):
    """Anything the runners can read records from: files, stdin, the simulator, connectors."""

    name: str
    resumable: bool  # the same input each run: a restart may skip to its saved position

    def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]: ...
