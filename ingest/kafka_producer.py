"""`chotdon ingest --to kafka`: the embedded mode's sources (file, stdin, simulator) into Kafka.

Each stream's catalog goes first to the compacted catalog topic (the workers parse and resolve
with it), then the source's records, keyed by stream id so one livestream stays in order on one
partition: comments and the source's product switches to the comments topic, viewer counts to
the viewers topic, host actions to the actions topic. The producer is idempotent with acks=all;
sends are not awaited one by one but in windows, so the client batches them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog
from chotdon.config import add_flags, settings
from chotdon.kafka_admin import bootstrap_servers
from chotdon.phones import mask_phones_in
from chotdon.records import (
    AdjustStock,
    Approve,
    Comment,
    DeadLetter,
    Reject,
    SetCurrent,
    ViewerCount,
    encode,
)

from .simulator import add_simulator_source_arguments, simulator_source
from .sources import JsonLinesSource, Source, add_speed_flag

ROUTES: dict[type, topics.TopicSpec] = {
    Comment: topics.COMMENTS,
    SetCurrent: topics.COMMENTS,  # in order with the comments it applies to
    ViewerCount: topics.VIEWERS,
    Approve: topics.ACTIONS,
    Reject: topics.ACTIONS,
    AdjustStock: topics.ACTIONS,
}
WINDOW = 5000  # sends in flight before waiting for their acks
WINDOW_S = 1.0  # ... or this long, so a slow paced run still surfaces errors promptly
PROGRESS_EVERY_S = 2.0

Log = Callable[[str], None]


@dataclass
class IngestStats:
    kinds: Counter[str] = field(default_factory=Counter)
    bad_lines: int = 0
    catalogs: int = 0
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(self.kinds.values())


class BadLines:
    """The source's `on_error`: reports each malformed line (number and reason, phones masked)
    and keeps it until `take` hands it over to become a dead letter."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.count = 0
        self._new: list[tuple[int, str, str]] = []

    def __call__(self, lineno: int, reason: str, raw: str) -> None:
        self.count += 1
        self._new.append((lineno, reason, raw))
        self.log(f"dòng {lineno} bị bỏ qua (line {lineno} skipped): {mask_phones_in(reason)}")

    def take(self) -> list[tuple[int, str, str]]:
        taken, self._new = self._new, []
        return taken


def new_producer(bootstrap: str, compression: str | None = None) -> Any:
    # imported here: aiokafka takes ~0.1 s to load, which only the Kafka commands should pay
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers(bootstrap),
        enable_idempotence=True,  # retries neither duplicate nor reorder
        acks="all",
        linger_ms=10,
        max_batch_size=256 * 1024,
        compression_type=compression,
    )


class _Sender:
    """Sends without waiting for each ack; waits for the acks of a window at a time."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.pending: list[asyncio.Future[Any]] = []
        self.window_start = time.monotonic()

    async def send(self, topic: str, value: bytes, key: bytes | None) -> None:
        self.pending.append(await self.producer.send(topic, value, key=key))
        if len(self.pending) >= WINDOW or time.monotonic() - self.window_start >= WINDOW_S:
            await self.drain()

    async def drain(self) -> None:
        """Raise the first send error (a record the broker did not take), if any."""
        pending, self.pending = self.pending, []
        self.window_start = time.monotonic()
        await asyncio.gather(*pending)


async def ingest(
    bootstrap: str,
    prefix: str,
    catalogs: Sequence[Catalog],
    source: Source,
    *,
    bad_lines: BadLines | None = None,
    compression: str | None = None,
    log: Log | None = None,
) -> IngestStats:
    """Publish the catalogs (acknowledged before any record that needs them), then every record
    of `source`. Malformed lines that `bad_lines` (the source's `on_error`) collected become
    DeadLetters on the dead-letter topic."""
    say = log or (lambda _msg: None)
    stats = IngestStats()
    started = last_progress = time.monotonic()
    known = {c.stream for c in catalogs}
    producer = new_producer(bootstrap, compression)
    try:
        await producer.start()
        sender = _Sender(producer)
        for catalog in catalogs:
            value = msgspec.json.encode(catalog)
            await sender.send(topics.CATALOG.name(prefix), value, catalog.stream.encode())
        await sender.drain()
        stats.catalogs = len(catalogs)
        async for _position, record in source.records():
            if record.stream not in known:
                known.add(record.stream)  # say it once
                say(
                    f"stream '{record.stream}' has no --catalog in this run: the workers need "
                    "its catalog on the catalog topic, or they dead-letter its comments"
                )
            topic = ROUTES[type(record)].name(prefix)
            await sender.send(topic, encode(record), record.stream.encode())
            stats.kinds[type(record).__name__] += 1
            if bad_lines is not None:
                await _dead_letters(sender, prefix, source.name, bad_lines)
            now = time.monotonic()
            if now - last_progress >= PROGRESS_EVERY_S:
                last_progress = now
                rate = stats.records / (now - started)
                say(f"{stats.records:,} records sent ({rate:,.0f}/s)".replace(",", "."))
        if bad_lines is not None:
            await _dead_letters(sender, prefix, source.name, bad_lines)
            stats.bad_lines = bad_lines.count
        await sender.drain()
    finally:
        await producer.stop()
    stats.seconds = time.monotonic() - started
    return stats


async def _dead_letters(sender: _Sender, prefix: str, source: str, bad_lines: BadLines) -> None:
    for lineno, reason, raw in bad_lines.take():
        letter = DeadLetter(
            source=source, reason=reason, raw=raw, position=f"line {lineno}", ts=time.time()
        )
        await sender.send(topics.DEAD_LETTERS.name(prefix), encode(letter), None)


def _stderr(message: str) -> None:
    print(f"chotdon ingest: {message}", file=sys.stderr, flush=True)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of `chotdon ingest`, for the CLI's sub-parser."""
    conf = settings()
    p.add_argument(
        "--source",
        help="JSON Lines file, - for stdin, or 'simulator' for a simulated session",
    )
    p.add_argument(
        "--catalog",
        action="append",
        help="catalog file or bundled name, published to the catalog topic; repeat for several "
        f"streams (default: env CHOTDON_CATALOG, {conf.catalog})",
    )
    p.add_argument("--to", choices=("kafka",), default="kafka", help="where to (default kafka)")
    add_speed_flag(p, "max", "replay speed of recorded time: max (default), 1, 10…")
    add_flags(p, "kafka", "topic_prefix")
    p.add_argument(
        "--compression", choices=("gzip",), help="compress record batches (default: none)"
    )
    add_simulator_source_arguments(p)


def cmd_ingest(args: argparse.Namespace) -> int:
    """`chotdon ingest` from parsed `add_arguments` flags."""
    if args.source is None:
        _stderr("give --source FILE|-|simulator, or a live PLATFORM (chotdon ingest --help)")
        return 2
    pace = args.speed
    loaded = [load_catalog(c) for c in args.catalog or [settings().catalog]]
    bad_lines: BadLines | None = None
    source: Source
    if args.source == "simulator":
        try:
            catalogs, source = simulator_source(args, loaded, pace)
        except ValueError as exc:
            _stderr(str(exc))
            return 2
    else:
        catalogs = loaded
        bad_lines = BadLines(_stderr)
        source = JsonLinesSource(args.source, on_error=bad_lines, pace=pace)
    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    try:
        stats = asyncio.run(
            ingest(
                args.bootstrap,
                args.topic_prefix,
                catalogs,
                source,
                bad_lines=bad_lines,
                compression=args.compression,
                log=_stderr,
            )
        )
    except KafkaError as exc:
        _stderr(f"{exc} (Kafka at {args.bootstrap})")
        return 1
    k = stats.kinds
    actions = k["Approve"] + k["Reject"] + k["AdjustStock"]
    bad = f"; {stats.bad_lines} bad line(s)" if stats.bad_lines else ""
    _stderr(
        f"{k['Comment']:,} comments, {k['ViewerCount']:,} viewer counts, "
        f"{k['SetCurrent']:,} product switches, {actions:,} host actions, "
        f"{stats.catalogs} catalog(s) -> {args.topic_prefix}.* on {args.bootstrap} "
        f"in {stats.seconds:.1f} s{bad}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ingest.kafka_producer`: the same as `chotdon ingest`."""
    p = argparse.ArgumentParser(prog="python -m ingest.kafka_producer", description=__doc__)
    add_arguments(p)
    return cmd_ingest(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
