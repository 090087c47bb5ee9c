"""The whole distributed pipeline against the real Kafka and Redis: `ingest` -> Faust worker
(a subprocess, as deployed) -> Redis sink -> Redis; and the bundled demo session giving the same
order book and metric totals there as in the embedded mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from chotdon.catalog import load_catalog
from chotdon.records import (
    Comment,
    MetricsSnapshot,
    OrderEvent,
    SetCurrent,
    ViewerCount,
    decode,
)
from ingest.kafka_producer import ingest
from ingest.sources import JsonLinesSource, Pace, RecordsSource, SourceRecord
from sinks.feed.view import status_of
from sinks.redis_store import Keys
from sinks.sqlite_store import SQLiteStore
from stream_jobs import metrics as windows
from stream_jobs.embedded import EmbeddedRunner
from tests.redis_helpers import (  # noqa: F401  (fixtures)
    PARTITIONS,
    ROOT,
    SinkRun,
    as_text,
    eventually,
    kafka_fixture,
    prefix_fixture,
    redis_fixture,
    view_summary,
)

CATALOG = load_catalog("kim-an")
STREAM = CATALOG.stream
DEMO = str(resources.files("chotdon") / "data" / "demo_session.jsonl")
T0 = 1_764_230_400.0
PHONE = "0912345678"
Book = dict[str, tuple[list[Any], int, str]]  # order id -> lines, total, status


@contextmanager
def worker(kafka: str, prefix: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`chotdon worker` as its own process (python -m chotdon worker)."""
    command = [
        sys.executable,
        "-m",
        "chotdon",
        "worker",
        "--bootstrap",
        kafka,
        "--topic-prefix",
        prefix,
        "--partitions",
        str(PARTITIONS),
        "--checkpoint",
        "0.2",  # the open windows' snapshots come at checkpoints: soon, for the test
        "--loglevel",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    except BaseException:
        print(f"worker log (tail):\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def comment(n: int, text: str, user: str | None = None) -> Comment:
    return Comment(
        stream=STREAM,
        comment_id=f"e2e-{n}",
        user_id=user or f"u{n}",
        text=text,
        ts=T0 + n,
        user_name=f"Khách {n}",
    )


async def redis_book(redis: Redis, keys: Keys) -> Book:
    book: Book = {}
    for raw in await redis.zrange(keys.of(STREAM, "orders"), 0, -1):
        order_id = as_text(raw)
        order = await redis.hgetall(keys.order(STREAM, order_id))
        book[order_id] = (
            json.loads(order[b"lines"]),
            int(order[b"total"]),
            as_text(order[b"status"]),
        )
    return book


async def window_totals(redis: Redis, keys: Keys, size: int) -> dict[str, int]:
    """Comments, orders and revenue summed over a stream's windows of one size."""
    snapshots = [decode(raw) for raw in (await redis.hgetall(keys.windows(STREAM, size))).values()]
    assert all(isinstance(s, MetricsSnapshot) for s in snapshots)
    return {
        name: sum(getattr(s, name) for s in snapshots) for name in ("comments", "orders", "revenue")
    }


async def test_comments_in_kafka_come_out_as_orders_and_metrics_in_redis(
    kafka: str, prefix: str, redis: Redis, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    records: list[SourceRecord] = [
        SetCurrent(stream=STREAM, code="A1", ts=T0),
        ViewerCount(stream=STREAM, viewers=85, ts=T0),
        comment(1, "ổi ngon quá"),
        comment(2, f"chốt 2 hộp {PHONE}"),
        comment(3, "A2 lấy 3 kg"),
        comment(4, "cho em 1 hộp"),
        comment(5, "huỷ đơn nhé", user="u4"),
        ViewerCount(stream=STREAM, viewers=120, ts=T0 + 5),
    ]
    async with SinkRun(kafka, prefix) as run:
        with worker(kafka, prefix, tmp_path / "worker.log"):
            await ingest(kafka, prefix, [CATALOG], RecordsSource("e2e", records, Pace(None)))

            async def settled() -> bool:
                book = await redis_book(redis, keys)
                totals = await window_totals(redis, keys, 10)
                return len(book) == 3 and totals["comments"] == 5

            await eventually(settled, timeout=90)
    assert run.sink.stats.bad == 0
    book = await redis_book(redis, keys)
    by_customer = {
        (await redis.hget(keys.order(STREAM, oid), "customer")).decode(): v  # type: ignore[union-attr]
        for oid, v in book.items()
    }
    assert by_customer["file:u2"][1:] == (160_000, "confirmed")
    assert by_customer["file:u3"][1:] == (90_000, "confirmed")
    assert by_customer["file:u4"][1:] == (0, "cancelled")
    phones = [await redis.hget(keys.order(STREAM, oid), "phone") for oid in book]
    assert PHONE.encode() in phones  # stored in full: the page masks it
    assert (await view_summary(redis, prefix, CATALOG))["revenue"] == 250_000
    summary = await redis.hgetall(keys.of(STREAM, "summary"))
    assert summary[b"comments"] == b"5"
    assert summary[b"viewers"] == b"120" and summary[b"current"] == b"A1"
    totals = await window_totals(redis, keys, 60)
    # u4's order was cancelled: it does not count (chotdon.figures), in the windows as on the page
    assert totals == {"comments": 5, "orders": 2, "revenue": 250_000}


async def embedded(path: str) -> tuple[Book, dict[str, int]]:
    """The demo session through the embedded runner: its final order book, and the metric
    totals of its records as the metrics job counts them."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "demo.db")
        try:
            runner = EmbeddedRunner([CATALOG], store)
            await runner.run(JsonLinesSource(path, on_error=lambda *_: None, pace=Pace(None)))
            book: Book = {
                e.order_id: (msgspec.to_builtins(e.lines), e.total, status_of(e.lines))
                for e in store.latest_orders(STREAM)
            }
            state = windows.new_state(STREAM)
            for record in store.records("intents", STREAM):
                windows.add(state, record)
            rows = store.db.execute(
                "SELECT record FROM order_events WHERE stream = ? ORDER BY seq", (STREAM,)
            )
            for (data,) in rows:
                event = decode(data)
                assert isinstance(event, OrderEvent)
                windows.add(state, event)
            totals = {"comments": state.comments, "orders": state.orders, "revenue": state.revenue}
        finally:
            store.close()
    return book, totals


@pytest.mark.skipif(not os.path.exists(DEMO), reason="no bundled demo session")
async def test_the_demo_session_gives_the_same_book_and_metrics_as_the_embedded_mode(
    kafka: str, prefix: str, redis: Redis, tmp_path: Path
) -> None:
    keys = Keys(prefix)
    expected_book, expected = await embedded(DEMO)
    assert expected["orders"] > 10 and expected["comments"] == 2001  # a session worth comparing
    async with SinkRun(kafka, prefix) as run:
        with worker(kafka, prefix, tmp_path / "worker.log"):
            await ingest(
                kafka,
                prefix,
                [CATALOG],
                JsonLinesSource(DEMO, on_error=lambda *_: None, pace=Pace(None)),
            )

            async def settled() -> bool:
                return (
                    await redis_book(redis, keys) == expected_book
                    and await window_totals(redis, keys, 10) == expected
                    and await window_totals(redis, keys, 60) == expected
                )

            await eventually(settled, timeout=120)
    assert run.sink.stats.bad == 0
    assert (await view_summary(redis, prefix, CATALOG))["revenue"] == expected["revenue"]
    summary = await redis.hgetall(keys.of(STREAM, "summary"))
    assert int(summary[b"comments"]) == expected["comments"]
