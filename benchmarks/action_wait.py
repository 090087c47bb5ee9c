"""How long a host's action waits behind a backlog of comments in the distributed mode.

    python benchmarks/action_wait.py [--streams 8] [--backlog 20000]

A worker is running and has caught up; then `--backlog` comments are sent as fast as the
producer can (faster than one worker parses them) and, right after the last of them, one stock
change from the host (the actions topic, as the feed sends it) for the stream of the last comment.
The worker writes what it applied to the intents topic in the order it applied it, stamped with
the time it sent it: the figures come from there. Printed: where among the backlog the action was
applied (how many of the comments sent before it came after it), how long it waited (sent to
applied), and how long the backlog took to drain from the same moment.

Uses the broker of CHOTDON_KAFKA (127.0.0.1 only), creates its own topics and deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from embedded_scaling import catalogs
from kafka_pipeline import (
    PARTITIONS,
    Processes,
    drop,
    local,
    publish_catalogs,
    send_records,
    session,
)

from chotdon import topics
from chotdon.config import settings
from chotdon.kafka_admin import bootstrap_servers, create_topics
from chotdon.records import AdjustStock, Comment, Intent, decode, encode
from ingest.kafka_producer import new_producer

ACTION_ID = "bench-host-action"


async def applied(
    bootstrap: str, prefix: str, wanted: set[str], seconds: float, action: bool = True
) -> list[tuple[float, object]]:
    """(Kafka timestamp in s, record) of the intents topic in the order the worker applied them
    (one stream: one partition), once it holds `wanted` comment ids (and the action)."""
    consumer = AIOKafkaConsumer(
        topics.INTENTS.name(prefix),
        bootstrap_servers=bootstrap_servers(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[float, object]] = []
    missing, waiting = set(wanted), action
    deadline = time.monotonic() + seconds
    try:
        while (missing or waiting) and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for m in messages:
                    record = decode(m.value)
                    seen.append((m.timestamp / 1000, record))
                    if isinstance(record, Intent) and record.comment is not None:
                        missing.discard(record.comment.comment_id)
                    waiting = waiting and getattr(record, "action_id", None) != ACTION_ID
    finally:
        await consumer.stop()
    if missing or waiting:
        raise SystemExit(f"the worker did not apply everything in {seconds:.0f} s")
    return seen


async def run(args: argparse.Namespace) -> None:
    local(args.bootstrap)
    work = Path(tempfile.mkdtemp(prefix="chotdon-action-wait-"))
    prefix = f"bench-action-{uuid.uuid4().hex[:6]}"
    await create_topics(args.bootstrap, prefix, PARTITIONS)
    procs = Processes(args.bootstrap, "", prefix, work)
    producer = new_producer(args.bootstrap)
    await producer.start()
    try:
        await publish_catalogs(producer, prefix, args.streams)
        procs.worker()
        warm = [r for r in session(args.streams, 20, 5, 99) if isinstance(r, Comment)][:20]
        await send_records(producer, prefix, warm)
        await applied(args.bootstrap, prefix, {c.comment_id for c in warm}, 120, action=False)
        backlog = session(args.streams, args.backlog / 60, 60, 7)[: args.backlog]
        started = time.monotonic()
        await send_records(producer, prefix, backlog)
        sent_in = time.monotonic() - started
        stream = next(r.stream for r in reversed(backlog) if isinstance(r, Comment))
        sku = next(c for c in catalogs(args.streams) if c.stream == stream).products[0].sku
        action = AdjustStock(stream=stream, sku=sku, delta=1, action_id=ACTION_ID, ts=0.0)
        sent = await (
            await producer.send(topics.ACTIONS.name(prefix), encode(action), key=stream.encode())
        )
        of_stream = {r.comment_id for r in backlog if isinstance(r, Comment) and r.stream == stream}
        seen = await applied(args.bootstrap, prefix, of_stream, 600)
        procs.check()
    finally:
        await producer.stop()
        procs.stop()
        await drop(args.bootstrap, None, prefix)
    order = [(ts, r) for ts, r in seen if getattr(r, "stream", None) == stream or _of(r, stream)]
    at = next(i for i, (_, r) in enumerate(order) if getattr(r, "action_id", None) == ACTION_ID)
    comments = [(ts, r) for ts, r in order if isinstance(r, Intent) and _cid(r) in of_stream]
    after = sum(1 for ts, r in order[at + 1 :] if isinstance(r, Intent) and _cid(r) in of_stream)
    applied_at = order[at][0]
    drained_at = max(ts for ts, _ in comments)
    sent_at = sent.timestamp / 1000
    print(
        f"backlog of {len(backlog):,} records over {args.streams} streams, sent in {sent_in:.1f} s;"
        f" stream {stream}: {len(comments):,} of its comments sent before the action"
    )
    print(
        f"the action applied after {len(comments) - after:,} of them, before {after:,};"
        f" it waited {applied_at - sent_at:.2f} s (sent to applied); the stream's backlog"
        f" drained {drained_at - sent_at:.2f} s after the action was sent  (logs in {work})"
    )


def _cid(intent: Intent) -> str | None:
    return intent.comment.comment_id if intent.comment is not None else None


def _of(record: object, stream: str) -> bool:
    return (
        isinstance(record, Intent)
        and record.comment is not None
        and record.comment.stream == stream
    )


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader moves of new topics, retried
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=settings().kafka)
    p.add_argument("--streams", type=int, default=8)
    p.add_argument("--backlog", type=int, default=20_000, help="records (mostly comments)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
