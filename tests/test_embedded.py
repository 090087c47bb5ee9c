"""The embedded runner: the whole pipeline in one process, its SQLite store and its sources."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

from chotdon.catalog import load_catalog
from chotdon.records import AdjustStock, AnyRecord, Comment, HostAction, Intent, SetCurrent, encode
from ingest.sources import RecordsSource, SourceRecord
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import BATCH_SIZE, EmbeddedRunner
from tests.commands import chotdon

DEMO = Path(str(resources.files("chotdon") / "data" / "demo_session.jsonl"))
ROOT = Path(__file__).resolve().parent.parent


def run_command(db: Path, *args: str) -> list[str]:
    """`chotdon run` of the kim-an catalog into `db`, no page, ending with its source."""
    return chotdon(
        "run", "--catalog", "kim-an", "--db", str(db), "--no-serve", "--exit-at-end", *args
    )


def chotdon_run(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        run_command(db, *args),
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )


def final_orders(db: Path) -> dict[str, tuple[int, str]]:
    """order id -> (total, lines) as the store holds them at the end."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT order_id, record FROM orders").fetchall()
    out = {}
    for order_id, data in rows:
        event = json.loads(data)
        out[order_id] = (event["total"], json.dumps(event["lines"], sort_keys=True))
    return out


def comment(cid: str, text: str, user: str = "u1") -> str:
    record = Comment(stream="kim-an-oi", comment_id=cid, user_id=user, text=text, ts=1.0)
    return encode(record).decode()


def test_malformed_lines_are_reported_counted_and_skipped(tmp_path: Path) -> None:
    intent = Intent(intent="order", comment=None)
    lines = [
        comment("c1", "chốt 2 hộp ổi"),
        "{this is not json",
        json.dumps({"type": "comment", "stream": "kim-an-oi"}),  # fields missing
        encode(intent).decode(),  # a record, but not one a source sends
        comment("c2", "lấy 1 chai nước ép", user="u2").replace("kim-an-oi", "no-such-stream"),
        comment("c3", "A3 x2", user="u3"),
    ]
    db = tmp_path / "s.db"
    run = chotdon_run(db, "--source", "-", stdin="\n".join(lines) + "\n")
    for lineno in (2, 3, 4, 5):
        assert f"dòng {lineno} bị bỏ qua" in run.stderr
    assert "4 dòng lỗi" in run.stderr
    with sqlite3.connect(db) as con:
        dead = con.execute("SELECT position, reason FROM dead_letters ORDER BY position").fetchall()
        assert [p for p, _ in dead] == [2, 3, 4, 5]
        assert "unknown stream 'no-such-stream'" in dead[3][1]
        assert con.execute("SELECT count(*) FROM comments").fetchone() == (2,)
    totals = sorted(total for total, _ in final_orders(db).values())
    assert totals == [50_000, 160_000]  # the good lines around the bad ones were processed


def test_a_killed_run_restarts_without_losing_or_doubling_anything(tmp_path: Path) -> None:
    clean = tmp_path / "clean.db"
    chotdon_run(clean, "--source", str(DEMO))
    expected = final_orders(clean)
    assert len(expected) > 100

    db = tmp_path / "crashed.db"
    cmd = run_command(db, "--source", str(DEMO), "--speed", "40")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until part of the session is committed
        time.sleep(0.2)
        if db.exists():
            with sqlite3.connect(db) as con, contextlib.suppress(sqlite3.OperationalError):
                row = con.execute("SELECT max(position) FROM positions").fetchone()
                if row[0] and row[0] > 500:
                    break  # (no such table while the run is still creating it)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as con:
        stopped_at = con.execute("SELECT max(position) FROM positions").fetchone()[0]
    assert 500 < stopped_at < sum(1 for _ in DEMO.open(encoding="utf-8"))

    restarted = chotdon_run(db, "--source", str(DEMO))
    assert f"resuming at position {stopped_at}" in restarted.stderr
    assert final_orders(db) == expected
    with sqlite3.connect(db) as con:
        seqs = [s for (s,) in con.execute("SELECT seq FROM order_events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))  # every event once, none missing
        assert con.execute("SELECT count(*) FROM comments").fetchone() == (2001,)


def test_the_simulator_is_a_source(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    run = chotdon_run(db, "--source", "simulator", "--rate", "20", "--duration", "5", "--seed", "3")
    with sqlite3.connect(db) as con:
        comments = con.execute("SELECT count(*) FROM comments").fetchone()[0]
    assert 60 <= comments <= 140, run.stderr
    assert "0 dòng lỗi" in run.stderr


def test_the_queue_between_stages_is_bounded(tmp_path: Path) -> None:
    """A source faster than the stages waits: the inbox never holds more than its size."""
    records: list[SourceRecord] = [
        Comment(
            stream="kim-an-oi",
            comment_id=f"c{i}",
            user_id=f"u{i % 50}",
            text="chốt 1 hộp ổi",
            ts=float(i),
        )
        for i in range(3000)
    ]
    store = SQLiteStore(tmp_path / "q.db")
    runner = EmbeddedRunner([load_catalog("kim-an")], store, queue_size=16)
    depths: list[int] = []

    class Watched(RecordsSource):
        async def records(self, start: int = 0):  # type: ignore[no-untyped-def]
            async for item in super().records(start):
                depths.append(runner._inbox.qsize())
                yield item

    stats = asyncio.run(runner.run(Watched("test", records)))
    store.close()
    assert stats.comments == 3000
    assert max(depths) <= 16


def test_the_hosts_actions_go_before_a_backlog_of_comments(tmp_path: Path) -> None:
    """Thousands of comments wait in the inbox when the host switches the product and then adds
    stock: both apply, in that order, after the batch in hand, not after the backlog."""
    waiting = 3 * BATCH_SIZE
    comments = [
        Comment(stream="kim-an-oi", comment_id=f"c{i}", user_id=f"u{i}", text="chốt 1", ts=i)
        for i in range(waiting)
    ]
    actions: list[HostAction] = [
        SetCurrent(stream="kim-an-oi", code="A2", ts=0.0),
        AdjustStock(stream="kim-an-oi", sku="OI-KG", delta=5000, action_id="more", ts=0.0),
    ]
    store = SQLiteStore(tmp_path / "host.db")
    runner = EmbeddedRunner([load_catalog("kim-an")], store, queue_size=waiting)
    applied: list[AnyRecord] = []
    runner.listeners.append(applied.append)
    sent: list[asyncio.Task[object]] = []

    class Backlog:
        """The comments all at once (the reader queues them before the stages first run),
        then the host's actions, sent while the comments wait."""

        name, resumable = "backlog", False

        async def records(self, start: int = 0) -> AsyncIterator[tuple[int, SourceRecord]]:
            for position, comment in enumerate(comments, 1):
                yield position, comment
            sent.extend(asyncio.ensure_future(runner.submit(a)) for a in actions)

    async def run() -> None:
        await runner.run(Backlog())
        await asyncio.gather(*sent)

    asyncio.run(run())
    store.close()
    order = [r for r in applied if isinstance(r, Intent | SetCurrent | AdjustStock)]
    hosts = [i for i, r in enumerate(order) if not isinstance(r, Intent)]
    assert [order[i] for i in hosts] == actions  # in the order the host sent them
    first = hosts[0]  # after the batch in hand (BATCH_SIZE records at most), before the others
    assert hosts == [first, first + 1] and 0 < first <= BATCH_SIZE
    assert len(order) == waiting + 2
    after = [r for r in order[first + 2 :] if isinstance(r, Intent)]
    assert {i.items[0].sku for i in after} == {"OI-KG"}  # read with the product now shown
