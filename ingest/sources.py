"""Sources of records for the embedded runner: a JSON Lines file, stdin, or the simulator.

A source yields `(position, record)`; the position lets a restarted run skip what it already
processed. A line that is not a valid record is reported (line number and reason), counted and
skipped: the run goes on.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
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
READ_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast to replay recorded time: None is as fast as possible, 1.0 real time."""

    speed: float | None = None

    @classmethod
    def parse(cls, text: str) -> Pace:
        text = text.strip().lower()
        if text in ("max", "0", ""):
            return cls(None)
        text = text.removesuffix("x")  # "10x"
        speed = float(text)
        if speed <= 0:
            raise ValueError("speed must be positive, or 'max'")
        return cls(speed)


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
    """Records from a JSON Lines file, or from stdin when `path` is "-"."""

    def __init__(self, path: str, on_error: ErrorSink | None = None, pace: Pace = Pace()) -> None:
        self.path = path
        self.name = "stdin" if path == "-" else f"file:{Path(path).resolve()}"
        self.on_error = on_error
        self.pace = pace

    async def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]:
        pacer = _Pacer(self.pace)
        lineno = 0
        async for line in self._lines():
            lineno += 1
            if lineno <= start or not line.strip():
                continue
            try:
                record = read_record(line)
            except RecordError as exc:
                if self.on_error is not None:
                    self.on_error(lineno, str(exc), line.rstrip("\n"))
                continue
            await pacer.wait(record.ts)
            yield lineno, record

    async def _lines(self) -> AsyncIterator[str]:
        if self.path == "-":
            async for line in _stdin_lines():
                yield line
            return
        with open(self.path, encoding="utf-8", errors="replace") as f:
            while chunk := await asyncio.to_thread(f.readlines, READ_CHUNK):
                for line in chunk:
                    yield line


async def _stdin_lines() -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):  # stdin is a regular file: no pipe to watch
        for line in await asyncio.to_thread(_read_all, sys.stdin):
            yield line
        return
    while raw := await reader.readline():
        yield raw.decode("utf-8", errors="replace")


def _read_all(stream: IO[str]) -> list[str]:
    return stream.readlines()


class RecordsSource:
    """Records already in memory or generated (the simulator), paced by their timestamps."""

    def __init__(self, name: str, records: Iterable[SourceRecord], pace: Pace = Pace()) -> None:
        self.name = name
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

    def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]: ...
