"""The worker's state over a long session, on the real broker: the table keeps a stream's log as
the book keeps it (the recent window's entries, older ones in compressed blocks), so its rows and
bytes per stream grow by a block per `WINDOW` inputs, not a row per input; a worker started
after a SIGKILL restores the exact books from those rows (each stream from its own rows) and
undoes a comment older than the window as the embedded mode does."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import msgspec

from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.records import Comment, OrderEvent, encode
from sinks.sqlite_store import SQLiteStore
from stream_jobs.faust_jobs import BLOCK, LOG
from stream_jobs.order_book import WINDOW
from tests.kafka_helpers import (
    WorkerProcess,
    delete_topics,
    final_orders,
    final_stock,
    make_topics,
    new_prefix,
    order_view,
    produce_records,
    read_topic,
    run_embedded,
    table_rows,
    wait_until,
)

LONG = 5 * WINDOW  # order comments of the long stream: blocks of old entries, and a window
TEXTS = ("chốt 1 A1", "lấy 2 A3", "chốt 1 A5", "e lấy 1 A2", "chốt 2 A4")


def comments(stream: str, count: int, texts: tuple[str, ...], start: int = 0) -> list[Comment]:
    """Order comments numbered from `start`, from 700 customers."""
    return [
        Comment(
            stream=stream,
            comment_id=f"{stream}-c{n}",
            user_id=f"u{n % 700}",
            text=texts[n % len(texts)],
            ts=1_764_230_400.0 + n / 10,
        )
        for n in range(start, start + count)
    ]


def test_a_long_sessions_rows_stay_bounded_and_a_restarted_worker_undoes_an_old_comment(
    kafka_broker: str, tmp_path: Path
) -> None:
    kim_an, phu_xuyen = load_catalog("kim-an"), load_catalog("phu-xuyen")
    catalogs = [kim_an, phu_xuyen]
    long, short = kim_an.stream, phu_xuyen.stream
    session = comments(long, LONG, TEXTS) + comments(short, 300, ("chốt 1 K1",))
    old = session[5]  # long before the window
    later = [
        msgspec.structs.replace(old, text="", deleted=True, ts=old.ts + LONG),
        *comments(long, 50, TEXTS, start=LONG),
        *comments(short, 20, ("lấy 2 K1",), start=300),
    ]
    expected = run_embedded(catalogs, session + later, tmp_path / "embedded.db")
    want_orders, want_stock = order_view(final_orders(expected)), final_stock(expected)
    before = run_embedded(catalogs, session, tmp_path / "before.db")
    seq_before = max(e.seq for e in before if isinstance(e, OrderEvent) and e.stream == long)

    prefix = new_prefix("state")
    make_topics(prefix, 1)  # both streams on one partition: one table partition holds both
    app_id = f"{prefix}-worker"
    changelog_topic = f"{app_id}-streams-changelog"
    orders_topic = topics.ORDERS.name(prefix)
    first = WorkerProcess(prefix, 1, app_id, tmp_path / "first.log").start()
    restarted: WorkerProcess | None = None
    try:
        produce_records(prefix, catalogs, session)

        def head_seq() -> int:
            first.check_alive()
            head = table_rows(changelog_topic, 1)[0].get(long.encode())
            return int(msgspec.json.decode(head)["seq"]) if head else 0

        wait_until(lambda: head_seq() == seq_before, 240, "the long stream's state", every=2)
        rows = table_rows(changelog_topic, 1)[0]
        first.kill()

        entries = {k: v for k, v in rows.items() if k.startswith(long.encode() + LOG)}
        blocks = {k: v for k, v in rows.items() if k.startswith(long.encode() + BLOCK)}
        assert len(entries) < 2 * WINDOW, "the log rows are the window's, not the session's"
        assert len(blocks) == (LONG - len(entries)) // WINDOW >= 2
        block_bytes = sum(len(v) for v in blocks.values())
        entry_bytes = sum(len(v) for v in entries.values()) / len(entries)
        assert block_bytes / (LONG - len(entries)) < entry_bytes / 5, "blocks are compressed"
        customers = len({c.user_id for c in session if c.stream == long})
        stream_rows = [k for k in rows if k.startswith(long.encode())]
        assert len(stream_rows) <= 3 + customers + len(entries) + len(blocks)  # + head, etc.

        # the embedded mode's store keeps the same rows
        store = SQLiteStore(tmp_path / "before.db")
        try:
            stored = store.book(long)
        finally:
            store.close()
        assert stored is not None
        assert len(stored[0].log) == len(entries) and len(stored[0].blocks) == len(blocks)

        restarted = WorkerProcess(prefix, 1, app_id, tmp_path / "restarted.log").start()
        produce_records(prefix, catalogs, later)

        def done() -> bool:
            restarted.check_alive()
            out = read_topic(orders_topic, 1).records
            return order_view(final_orders(out)) == want_orders and final_stock(out) == want_stock

        wait_until(done, 180, f"the embedded mode's {len(want_orders)} orders", every=2)
        out = read_topic(orders_topic, 1).records
    finally:
        first.stop()
        if restarted is not None:
            restarted.stop()
        delete_topics(prefix)

    events = [r for r in out if isinstance(r, OrderEvent)]
    by_seq: dict[tuple[str, int], set[bytes]] = defaultdict(set)
    for e in events:
        by_seq[(e.stream, e.seq)].add(encode(e))
    assert not {k: v for k, v in by_seq.items() if len(v) > 1}, "a seq told twice, differently"
    undone = [e for e in expected if isinstance(e, OrderEvent) and e.comment_id == old.comment_id]
    assert undone and all(encode(e) in by_seq[(e.stream, e.seq)] for e in undone)
