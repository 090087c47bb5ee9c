"""The embedded runner hands its stages whole batches: the SQLite store writes a batch's rows per
statement, the feed's views coalesce a batch's updates. Either must come out as handling the
records one by one would. And a session tunes the garbage collector for batches, then restores
it."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

import msgspec
import pytest

from chotdon.catalog import load_catalog
from chotdon.collector import YOUNG_GENERATION, young_generation
from chotdon.records import AdjustStock, AnyRecord, Comment, OrderEvent, SetCurrent
from ingest.simulator import simulate
from sinks.feed.view import StreamView, Update
from sinks.sqlite_store import PUT_ORDER, ROWS_PER_STEP, Batch, Insert, SQLiteStore
from stream_jobs.order_book import new_book
from stream_jobs.processor import StreamProcessor

CATALOG = load_catalog("kim-an")
TABLES = ("comments", "intents", "order_events", "orders", "viewers", "actions", "metrics")


def session_records() -> list[AnyRecord]:
    """Two minutes of a simulated stream as the runner's batches hold them: each comment's intent
    and order events, the host's switches, viewer counts and stock levels; then deletions of
    ordering comments (their orders undone), the same comments stored as themselves, and a stock
    adjustment."""
    processor = StreamProcessor(CATALOG, new_book(CATALOG))
    out: list[AnyRecord] = []
    ordered: list[Comment] = []
    for record in simulate([CATALOG], rate=6, duration=120, seed=7, start_ts=1_760_000_000.0):
        if isinstance(record, Comment):
            intent, events = processor.comment(record)
            out += [intent, *events]
            if events:
                ordered.append(record)
        else:
            if isinstance(record, SetCurrent):
                processor.current = record.code
            out.append(record)
        if (levels := processor.take_stock()) is not None:
            out.append(levels)
    assert len(ordered) > 20, "the session orders"
    for c in ordered[::7]:
        gone = msgspec.structs.replace(c, deleted=True, ts=c.ts + 200)
        intent, events = processor.comment(gone)
        out += [intent, *events, c]
    ts = out[-1].ts if hasattr(out[-1], "ts") else 0.0
    adjust = AdjustStock(stream=CATALOG.stream, sku="OI-HOP", delta=5, ts=ts, action_id="a1")
    out += [adjust, *processor.action(adjust)]
    return out


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(path)
    try:
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall()) for t in TABLES}
    finally:
        db.close()


@pytest.fixture(scope="module")
def records() -> list[AnyRecord]:
    return session_records()


def test_a_batch_is_stored_as_its_records_one_by_one(
    tmp_path: Path, records: list[AnyRecord]
) -> None:
    events = [r for r in records if isinstance(r, OrderEvent)]
    assert any(e.kind == "cancelled" for e in events), "the deletions undid orders"
    assert len({e.order_id for e in events}) < len(events), "orders change within the batch"
    one_by_one, batched = SQLiteStore(tmp_path / "a.db"), SQLiteStore(tmp_path / "b.db")
    for record in records:
        one_by_one.write(Batch("s", records=[record]))
    batched.write(Batch("s", records=records))
    one_by_one.close()
    batched.close()
    a, b = dump(tmp_path / "a.db"), dump(tmp_path / "b.db")
    assert all(a[t] for t in ("comments", "intents", "order_events", "orders", "actions"))
    assert a == b


@pytest.mark.parametrize("limit", [999, 3 * 6 + 1, 6])
def test_a_batch_beyond_the_variable_limit_is_stored_whole_and_in_order(
    tmp_path: Path, records: list[AnyRecord], limit: int
) -> None:
    """SQLite before 3.32 (Ubuntu 20.04's 3.31.1) binds at most 999 values to a statement: a
    batch of more order events (6 values each) than that allows is still stored, every row, in
    the batch's order, as a connection with the default limit stores it."""
    events = [r for r in records if isinstance(r, OrderEvent)]
    assert len(events) > 999 // 6
    unlimited, limited = SQLiteStore(tmp_path / "a.db"), SQLiteStore(tmp_path / "b.db")
    limited.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)
    for store in (unlimited, limited):
        store.write(Batch("s", records=records))
        store.close()
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")
    db = sqlite3.connect(tmp_path / "b.db")
    try:
        stored = db.execute("SELECT seq FROM order_events ORDER BY rowid").fetchall()
    finally:
        db.close()
    assert stored == [(e.seq,) for e in events]


@pytest.mark.parametrize("rows", [0, 1, 7, ROWS_PER_STEP, ROWS_PER_STEP + 1, 3 * ROWS_PER_STEP - 1])
def test_rows_inserted_many_to_a_statement_as_one_by_one(rows: int) -> None:
    """A later row of the same key wins within a statement and across statements, and an
    upsert keeps the newest seq, as `executemany` (one row per step) would leave them."""
    replace = Insert("INSERT OR REPLACE INTO t", 2)
    values: list[object] = [v for i in range(rows) for v in (f"k{i % 50}", i)]
    orders: list[object] = [v for i in range(rows) for v in ("s", f"o{i % 30}", (i * 7) % 61, i)]
    many, one = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for db in (many, one):
        db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
        db.execute(
            "CREATE TABLE orders (stream TEXT, order_id TEXT, seq INTEGER, record BLOB,"
            " PRIMARY KEY (stream, order_id))"
        )
    replace.run(many, values)
    PUT_ORDER.run(many, orders)
    one.executemany(
        "INSERT OR REPLACE INTO t VALUES (?, ?)", zip(values[::2], values[1::2], strict=True)
    )
    for i in range(0, len(orders), 4):
        PUT_ORDER.run(one, orders[i : i + 4])
    for table in ("t", "orders"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert many.execute(query).fetchall() == one.execute(query).fetchall()
    assert many.execute("SELECT count(*) FROM t").fetchone() == (min(rows, 50),)


def latest_of_each(updates: list[Update]) -> list[tuple[str, str]]:
    """What a page keeps of updates sent one by one: the latest of each (kind, key), in the
    order of their last change."""
    latest: dict[tuple[str, str], None] = {}
    for u in updates:
        latest.pop((u.kind, u.key), None)
        latest[u.kind, u.key] = None
    return list(latest)


def test_a_view_given_a_batch_sends_each_change_once(records: list[AnyRecord]) -> None:
    one_by_one = StreamView.for_catalog(CATALOG)
    sent: list[Update] = []
    for record in records:
        sent += one_by_one.apply(record)
    batched = StreamView.for_catalog(CATALOG)
    updates = batched.apply(*records)

    assert batched.snapshot(masked=False) == one_by_one.snapshot(masked=False)
    assert [(u.kind, u.key) for u in updates] == latest_of_each(sent)
    assert len(updates) < len(sent) / 10
    assert [u.data for u in updates if u.kind == "summary"] == [one_by_one.summary()]
    last_sent = {(u.kind, u.key): u.data for u in sent}
    assert all(u.data == last_sent[u.kind, u.key] for u in updates)


def test_a_batch_of_chatter_sends_one_summary_and_moves_the_version_once() -> None:
    view = StreamView.for_catalog(CATALOG)
    chatter = [
        Comment(stream=CATALOG.stream, comment_id=f"c{i}", user_id="u", text="đẹp quá", ts=i)
        for i in range(100)
    ]
    updates = view.apply(*chatter)
    assert [u.kind for u in updates] == ["summary"]
    assert updates[0].data["comments"] == 100 and view.version == 1
    assert view.apply() == [] and view.version == 1


def test_comments_per_minute_follow_the_clock_past_many_minutes() -> None:
    """The running count matches a recount of the last minute at every step, late comments
    included (they count in the newest second)."""
    view = StreamView.for_catalog(CATALOG)
    seconds: list[float] = []
    for i in range(1500):
        ts = i * 0.37 if i % 50 else max(0.0, i * 0.37 - 30)  # every 50th is 30 s late
        view.apply(Comment(stream=CATALOG.stream, comment_id=f"c{i}", user_id="u", text="x", ts=ts))
        seconds.append(max(int(ts), int(seconds[-1]) if seconds else 0))
        now = view.last_ts
        assert view.comments_per_minute == sum(1 for s in seconds if s > now - 60)


def test_a_session_collects_the_young_generation_less_often_and_restores_it() -> None:
    before = gc.get_threshold()
    with young_generation(12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
    with pytest.raises(KeyboardInterrupt), young_generation():
        assert gc.get_threshold()[0] == YOUNG_GENERATION
        gc.freeze()  # as the session does once started
        assert gc.get_freeze_count() > 0
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0  # what the session froze is collected again
