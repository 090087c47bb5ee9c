"""The embedded mode's durable store: one SQLite file per session.

Everything a batch produced is written in one transaction together with what changed in the
order books and the source position, so a restarted run continues exactly where the last commit
left it: nothing lost, nothing doubled (the books also ignore a comment id they have already
applied). A book is stored as rows (`chotdon.book_rows`): a commit writes the rows of the
customers the batch touched and the log entries it added (and, once per block of older entries,
the block and the deletion of the entries it holds), never the whole book.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from chotdon.book_rows import BookRows
from chotdon.catalog import Catalog
from chotdon.records import (
    AdjustStock,
    AnyRecord,
    Approve,
    Comment,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    Reject,
    SetCurrent,
    ViewerCount,
    decode,
    encode,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS catalogs (stream TEXT PRIMARY KEY, catalog BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS positions (source TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS connector_states (connector TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replies (stream TEXT, comment TEXT, PRIMARY KEY (stream, comment));
CREATE TABLE IF NOT EXISTS book_heads (
    stream TEXT PRIMARY KEY, head BLOB NOT NULL, current TEXT, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS book_customers (
    stream TEXT, customer TEXT, row BLOB NOT NULL, PRIMARY KEY (stream, customer));
CREATE TABLE IF NOT EXISTS book_log (
    stream TEXT, number INTEGER, entry BLOB NOT NULL, PRIMARY KEY (stream, number));
CREATE TABLE IF NOT EXISTS book_blocks (
    stream TEXT, first INTEGER, block BLOB NOT NULL, PRIMARY KEY (stream, first));
CREATE TABLE IF NOT EXISTS comments (
    stream TEXT, comment_id TEXT, ts REAL, record BLOB, PRIMARY KEY (stream, comment_id));
CREATE TABLE IF NOT EXISTS intents (
    stream TEXT, comment_id TEXT, ts REAL, intent TEXT, record BLOB,
    PRIMARY KEY (stream, comment_id));
CREATE TABLE IF NOT EXISTS order_events (
    stream TEXT, seq INTEGER, order_id TEXT, kind TEXT, ts REAL, record BLOB,
    PRIMARY KEY (stream, seq));
CREATE TABLE IF NOT EXISTS orders (
    stream TEXT, order_id TEXT, seq INTEGER, record BLOB, PRIMARY KEY (stream, order_id));
CREATE TABLE IF NOT EXISTS metrics (
    stream TEXT, window_s INTEGER, window_start REAL, record BLOB,
    PRIMARY KEY (stream, window_s, window_start));
CREATE TABLE IF NOT EXISTS viewers (stream TEXT, ts REAL, viewers INTEGER);
CREATE TABLE IF NOT EXISTS actions (stream TEXT, ts REAL, record BLOB);
CREATE TABLE IF NOT EXISTS dead_letters (
    source TEXT, position INTEGER, reason TEXT, raw TEXT, PRIMARY KEY (source, position));
CREATE INDEX IF NOT EXISTS comments_ts ON comments (stream, ts);
CREATE INDEX IF NOT EXISTS events_ts ON order_events (stream, ts);
"""


def private_file(path: str) -> None:
    """The file exists and only its owner may read it: it holds names and full phone numbers.
    SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:  # a file made before (maybe read-only, maybe not ours): tighten ours
        info = os.stat(path)
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(path, stat.S_IMODE(info.st_mode) & 0o700)


@dataclass
class Batch:
    """What the pipeline produced since the last commit, in order."""

    source: str
    position: int = 0  # the source position this batch reaches (0: none consumed)
    records: list[AnyRecord] = field(default_factory=list)
    books: dict[str, tuple[BookRows, str | None]] = field(default_factory=dict)  # + current
    dead_letters: list[tuple[int, str, str]] = field(default_factory=list)
    catalogs: list[Catalog] = field(default_factory=list)  # of streams found while running

    def __bool__(self) -> bool:
        return bool(
            self.records or self.books or self.dead_letters or self.position or self.catalogs
        )


ROWS_PER_STEP = 256  # rows an INSERT writes at most, fewer where the variable limit is lower


class Insert:
    """An INSERT of rows of `width` values, many rows to a statement: the sqlite3 module lets the
    GIL go for each step of a statement, and a thread waiting to take it back waits until the
    event loop's thread yields it (up to the 5 ms switch interval). So one row per step, as
    `executemany` runs, keeps the writer thread waiting while the loop works, and the writes add
    to the loop's time instead of running beside it; a few steps per batch let them overlap."""

    def __init__(self, head: str, width: int, tail: str = "") -> None:
        row = "(" + ", ".join("?" * width) + ")"
        self.width = width
        self.sql = {  # by rows: ROWS_PER_STEP and the powers of two below it
            2**k: f"{head} VALUES {', '.join([row] * 2**k)}{tail}"
            for k in range(ROWS_PER_STEP.bit_length())
        }

    def run(self, db: sqlite3.Connection, values: list[object]) -> None:
        """Insert the rows whose values `values` holds one after another, in order: in
        statements of as many rows as the connection lets one statement bind values (SQLite
        before 3.32 binds 999: 128 rows of 6), at most ROWS_PER_STEP, the rest in statements of
        the powers of two it adds up to (a few statements of each size, prepared once: sqlite3
        keeps them)."""
        fit = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // self.width
        rows, done = len(values) // self.width, 0
        size = 1 << (max(1, min(ROWS_PER_STEP, fit)).bit_length() - 1)
        while done < rows:
            while size > rows - done:
                size //= 2
            end = done + size
            db.execute(self.sql[size], values[done * self.width : end * self.width])
            done = end


PUT_INTENT = Insert("INSERT OR REPLACE INTO intents", 5)
ADD_COMMENT = Insert("INSERT OR IGNORE INTO comments", 4)
PUT_COMMENT = Insert("INSERT OR REPLACE INTO comments", 4)
PUT_EVENT = Insert("INSERT OR REPLACE INTO order_events", 6)
PUT_ORDER = Insert(
    "INSERT INTO orders",
    4,
    " ON CONFLICT (stream, order_id) DO UPDATE"
    " SET seq = excluded.seq, record = excluded.record WHERE excluded.seq > seq",
)
PUT_METRICS = Insert("INSERT OR REPLACE INTO metrics", 4)
ADD_VIEWERS = Insert("INSERT INTO viewers", 3)
ADD_ACTION = Insert("INSERT INTO actions", 3)
PUT_CUSTOMER = Insert("INSERT OR REPLACE INTO book_customers", 3)
PUT_LOG_ENTRY = Insert("INSERT OR REPLACE INTO book_log", 3)


def _record_rows(records: Iterable[AnyRecord]) -> dict[Insert, list[object]]:
    """The rows of a batch's records, per statement (their values one after another), each
    record encoded once. Grouping keeps each statement's rows in the batch's order and gives
    what writing the records one by one would: only `comments` has two statements, and a
    comment stored as itself (replace) wins over the copy its intent adds (ignore) in either
    order."""
    rows: defaultdict[Insert, list[object]] = defaultdict(list)
    for record in records:
        if isinstance(record, Intent):
            c = record.comment
            if c is not None:
                rows[PUT_INTENT] += (c.stream, c.comment_id, c.ts, record.intent, encode(record))
                rows[ADD_COMMENT] += (c.stream, c.comment_id, c.ts, encode(c))
        elif isinstance(record, OrderEvent):
            data = encode(record)
            event = (record.stream, record.seq, record.order_id, record.kind, record.ts, data)
            rows[PUT_EVENT] += event
            rows[PUT_ORDER] += (record.stream, record.order_id, record.seq, data)
        elif isinstance(record, Comment):
            rows[PUT_COMMENT] += (record.stream, record.comment_id, record.ts, encode(record))
        elif isinstance(record, MetricsSnapshot):
            rows[PUT_METRICS] += (
                record.stream,
                record.window_s,
                record.window_start,
                encode(record),
            )
        elif isinstance(record, ViewerCount):
            rows[ADD_VIEWERS] += (record.stream, record.ts, record.viewers)
        elif isinstance(record, SetCurrent | Approve | Reject | AdjustStock):
            rows[ADD_ACTION] += (record.stream, record.ts, encode(record))
    return rows


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        private_file(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at each commit
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def stored_catalogs(self) -> list[Catalog]:
        rows = self.db.execute("SELECT catalog FROM catalogs ORDER BY stream").fetchall()
        return [msgspec.json.decode(data, type=Catalog) for (data,) in rows]

    def put_catalogs(self, catalogs: Iterable[Catalog]) -> None:
        """The catalogs a session sold from, so a replay or report can find them later."""
        # an unchanged catalog is not rewritten: opening a session must not touch its file
        self.db.executemany(
            "INSERT INTO catalogs VALUES (?, ?) ON CONFLICT (stream) DO UPDATE"
            " SET catalog = excluded.catalog WHERE catalog != excluded.catalog",
            [(c.stream, msgspec.json.encode(c)) for c in catalogs],
        )

    # -- writing ------------------------------------------------------------------------------

    def write(self, batch: Batch) -> None:
        """Commit a batch in one transaction: its records' rows grouped per statement (one
        `executemany` each, in the batch's order), the books' changes, the dead letters and
        the source position."""
        rows = _record_rows(batch.records)
        db = self.db
        db.execute("BEGIN")
        try:
            self.put_catalogs(batch.catalogs)
            for insert, values in rows.items():
                insert.run(db, values)
            for stream, (changes, current) in batch.books.items():
                self._write_book(stream, changes, current)
            db.executemany(
                "INSERT OR REPLACE INTO dead_letters VALUES (?, ?, ?, ?)",
                [
                    (batch.source, pos, reason, raw[:2000])
                    for pos, reason, raw in batch.dead_letters
                ],
            )
            if batch.position:
                db.execute(
                    "INSERT OR REPLACE INTO positions VALUES (?, ?)", (batch.source, batch.position)
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _write_book(self, stream: str, changes: BookRows, current: str | None) -> None:
        db = self.db
        db.execute(
            "INSERT OR REPLACE INTO book_heads VALUES (?, ?, ?, julianday('now'))",
            (stream, changes.head, current),
        )
        gone = [(stream, c) for c, row in changes.customers.items() if row is None]
        db.executemany("DELETE FROM book_customers WHERE stream = ? AND customer = ?", gone)
        kept = [(c, row) for c, row in changes.customers.items() if row is not None]
        PUT_CUSTOMER.run(db, [v for c, row in kept for v in (stream, c, row)])
        db.executemany(
            "DELETE FROM book_log WHERE stream = ? AND number = ?",
            [(stream, n) for n in changes.dropped],
        )
        PUT_LOG_ENTRY.run(db, [v for n, entry in changes.log for v in (stream, n, entry)])
        db.executemany(
            "DELETE FROM book_blocks WHERE stream = ? AND first = ?",
            [(stream, first) for first, block in changes.blocks.items() if block is None],
        )
        db.executemany(
            "INSERT OR REPLACE INTO book_blocks VALUES (?, ?, ?)",
            [(stream, first, block) for first, block in changes.blocks.items() if block],
        )

    # -- reading ------------------------------------------------------------------------------

    def position(self, source: str) -> int:
        return _position(self.db, source)

    def book(self, stream: str) -> tuple[BookRows, str | None] | None:
        """The rows of the stream's book and its current product as the last commit left them."""
        db = self.db
        row = db.execute(
            "SELECT head, current FROM book_heads WHERE stream = ?", (stream,)
        ).fetchone()
        if row is None:
            return None
        customers = db.execute(
            "SELECT customer, row FROM book_customers WHERE stream = ?", (stream,)
        )
        log = db.execute("SELECT number, entry FROM book_log WHERE stream = ?", (stream,))
        blocks = db.execute("SELECT first, block FROM book_blocks WHERE stream = ?", (stream,))
        rows = BookRows(
            bytes(row[0]),
            {customer: bytes(data) for customer, data in customers},
            [(number, bytes(entry)) for number, entry in log],
            blocks={first: bytes(block) for first, block in blocks},
        )
        return rows, row[1]

    def latest_orders(self, stream: str) -> list[OrderEvent]:
        rows = self.db.execute(
            "SELECT record FROM orders WHERE stream = ? ORDER BY seq", (stream,)
        ).fetchall()
        return [e for (data,) in rows if isinstance(e := decode(data), OrderEvent)]

    def records(self, table: str, stream: str) -> Iterator[AnyRecord]:
        """Stored records of one kind for a stream, in time order (for views and exports)."""
        if table not in ("comments", "intents", "order_events", "metrics"):
            raise ValueError(f"unknown table {table}")
        query = f"SELECT record FROM {table} WHERE stream = ? ORDER BY ts"
        if table == "metrics":
            query = "SELECT record FROM metrics WHERE stream = ? ORDER BY window_s, window_start"
        for (data,) in self.db.execute(query, (stream,)):
            yield decode(data)

    def count(self, table: str, stream: str) -> int:
        if table not in ("comments", "intents", "order_events", "orders", "dead_letters"):
            raise ValueError(f"unknown table {table}")
        column = "source" if table == "dead_letters" else "stream"
        query = f"SELECT count(*) FROM {table} WHERE {column} = ?"
        return int(self.db.execute(query, (stream,)).fetchone()[0])

    def last_viewers(self, stream: str) -> tuple[int, int]:
        """(latest, peak) viewer counts of a stream."""
        row = self.db.execute(
            "SELECT (SELECT viewers FROM viewers WHERE stream = ?1 ORDER BY ts DESC LIMIT 1),"
            " max(viewers) FROM viewers WHERE stream = ?1",
            (stream,),
        ).fetchone()
        return (int(row[0] or 0), int(row[1] or 0))


class ConnectorStates:
    """Live connectors' checkpoints and the comments answered on their platforms (`Answered`,
    see stream_jobs.confirm) in the session's file, on a connection of their own (the runner's
    connection may be inside a batch's transaction on another thread)."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def load(self, connector: str) -> dict[str, Any]:
        query = "SELECT state FROM connector_states WHERE connector = ?"
        row = self.db.execute(query, (connector,)).fetchone()
        state: dict[str, Any] = json.loads(row[0]) if row else {}
        return state

    def save(self, connector: str, state: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO connector_states VALUES (?, ?) ON CONFLICT (connector) DO UPDATE"
            " SET state = excluded.state",
            (connector, json.dumps(state)),
        )

    def committed(self, source: str) -> int:
        """The position of `source` the runner has committed."""
        return _position(self.db, source)

    async def answered(self, stream: str, comment: str) -> bool:
        query = "SELECT 1 FROM replies WHERE stream = ? AND comment = ?"
        row = await asyncio.to_thread(lambda: self.db.execute(query, (stream, comment)).fetchone())
        return row is not None

    async def claim(self, stream: str, comment: str) -> bool:
        query = "INSERT OR IGNORE INTO replies VALUES (?, ?)"
        added = await asyncio.to_thread(self.db.execute, query, (stream, comment))
        return added.rowcount == 1

    async def release(self, stream: str, comment: str) -> None:
        query = "DELETE FROM replies WHERE stream = ? AND comment = ?"
        await asyncio.to_thread(self.db.execute, query, (stream, comment))


def _position(db: sqlite3.Connection, source: str) -> int:
    row = db.execute("SELECT position FROM positions WHERE source = ?", (source,)).fetchone()
    return int(row[0]) if row else 0
