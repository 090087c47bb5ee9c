"""One stream's recorded session, as read from where it was recorded.

Sources: the embedded mode's SQLite file (opened read-only: looking back never writes into a
live database), a directory `chotdon export` wrote, or the Kafka topics (`kafka_reader`). Each
gives the same `Session`, so export, replay, diff and report work on any of them alike.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import msgspec

from chotdon.catalog import Catalog, CatalogError, load_catalog, parse_catalog
from chotdon.records import (
    Comment,
    HostAction,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    SetCurrent,
    ViewerCount,
    decode,
)
from ingest.sources import SourceRecord
from stream_jobs.metrics import snapshots

from . import tables
from .files import FORMATS, Format, format_of, read_table, table_path
from .times import ALL_TIME, TimeRange

CATALOG_FILE = "catalog.json"  # beside an export's tables
REPLAY_INFO = "replay_info"  # the table a replay database describes itself in


class SourceError(RuntimeError):
    """A source that cannot be read (a broker that does not answer, a topic that is missing)."""


@dataclass
class Session:
    """What one stream recorded, each list in the order it was recorded."""

    stream: str
    comments: list[Comment] = field(default_factory=list)  # deletion reports included
    intents: list[Intent] = field(default_factory=list)
    order_events: list[OrderEvent] = field(default_factory=list)  # by seq
    viewers: list[ViewerCount] = field(default_factory=list)
    actions: list[HostAction] = field(default_factory=list)
    metrics: list[MetricsSnapshot] = field(default_factory=list)  # as recorded, if any
    catalog: Catalog | None = None  # as recorded, if it was

    def between(self, span: TimeRange) -> Session:
        if span.everything:
            return self
        return replace(
            self,
            comments=[c for c in self.comments if c.ts in span],
            intents=[i for i in self.intents if _intent_ts(i) in span],
            order_events=[e for e in self.order_events if e.ts in span],
            viewers=[v for v in self.viewers if v.ts in span],
            actions=[a for a in self.actions if a.ts in span],
            metrics=[m for m in self.metrics if m.window_start in span],
        )

    def replay_input(self, span: TimeRange = ALL_TIME) -> list[SourceRecord]:
        """What a replay feeds the pipeline: the comments, viewer counts and the host's product
        switches of `span`, merged in time order (on a tie the switch first: the host shows a
        product, then viewers order it), led by the switch in force when `span` starts. The
        host's review decisions and stock changes are not replayed: they answered what the live
        parser understood, and a replay asks what the current one does."""
        switches = [a for a in self.actions if isinstance(a, SetCurrent)]
        lead = [s for s in switches if span.start is not None and s.ts < span.start][-1:]
        merged: Iterator[SourceRecord] = heapq.merge(
            (s for s in switches if s.ts in span),
            (c for c in self.comments if c.ts in span),
            (v for v in self.viewers if v.ts in span),
            key=lambda r: r.ts,
        )
        return [*lead, *merged]

    def final_orders(self) -> list[OrderEvent]:
        """Each order as its last event left it (what the order book holds at the end)."""
        latest: dict[str, OrderEvent] = {}
        for event in self.order_events:
            seen = latest.get(event.order_id)
            if seen is None or event.seq > seen.seq:
                latest[event.order_id] = event
        return sorted(latest.values(), key=lambda e: e.seq)

    def windows(self, size: int = 60) -> list[MetricsSnapshot]:
        """The metrics windows of `size` seconds: as recorded, else computed from the records
        with the live pipeline's own code (the embedded mode does not store them)."""
        recorded = [m for m in self.metrics if m.window_s == size]
        if recorded:
            return recorded
        timeline: Iterator[Intent | Comment | ViewerCount | OrderEvent] = heapq.merge(
            self.intents or self.comments,
            self.viewers,
            self.order_events,
            key=lambda r: _intent_ts(r) if isinstance(r, Intent) else r.ts,
        )
        return list(snapshots(timeline, (size,)))


def _intent_ts(intent: Intent) -> float:
    return intent.comment.ts if intent.comment else 0.0


# --- the embedded mode's SQLite file ---


def is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def open_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write, whatever the code using it does."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    return sqlite3.connect(uri, uri=True)


def _table_names(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def sqlite_streams(path: Path) -> list[str]:
    db = open_readonly(path)
    try:
        return [s for (s,) in db.execute("SELECT DISTINCT stream FROM comments ORDER BY stream")]
    finally:
        db.close()


def load_sqlite(path: Path, stream: str) -> Session:
    db = open_readonly(path)
    try:
        return _load_sqlite(db, stream)
    finally:
        db.close()


def _records(db: sqlite3.Connection, table: str, stream: str, order: str) -> list[Any]:
    query = f"SELECT record FROM {table} WHERE stream=? ORDER BY {order}"
    return [decode(data) for (data,) in db.execute(query, (stream,))]


def _load_sqlite(db: sqlite3.Connection, stream: str) -> Session:
    # rowid order is the order the pipeline wrote them: the live processing order
    comments = _records(db, "comments", stream, "rowid")
    intents = _records(db, "intents", stream, "ts, rowid")
    viewers = db.execute("SELECT ts, viewers FROM viewers WHERE stream=? ORDER BY rowid", (stream,))
    return Session(
        stream=stream,
        comments=_with_deletions(comments, intents),
        intents=intents,
        order_events=_records(db, "order_events", stream, "seq"),
        viewers=[ViewerCount(stream=stream, viewers=n, ts=ts) for ts, n in viewers],
        actions=_records(db, "actions", stream, "rowid"),
        metrics=_records(db, "metrics", stream, "window_s, window_start"),
        catalog=_sqlite_catalog(db, stream),
    )


def _with_deletions(comments: list[Comment], intents: list[Intent]) -> list[Comment]:
    """The store keeps a comment's first report in `comments` and the platform's later report
    that it was deleted only in `intents`: put the deletions back, in time order."""
    deleted_first = {c.comment_id for c in comments if c.deleted}
    deletions = [
        i.comment
        for i in intents
        if i.comment is not None and i.comment.deleted and i.comment.comment_id not in deleted_first
    ]
    return list(heapq.merge(comments, deletions, key=lambda c: c.ts))


def _sqlite_catalog(db: sqlite3.Connection, stream: str) -> Catalog | None:
    names = _table_names(db)
    row = None
    if "catalogs" in names:  # the live store's, once it records its catalogs
        row = db.execute("SELECT catalog FROM catalogs WHERE stream=?", (stream,)).fetchone()
    if row is None and REPLAY_INFO in names:
        row = db.execute(f"SELECT value FROM {REPLAY_INFO} WHERE key='catalog'").fetchone()
    return msgspec.json.decode(row[0], type=Catalog) if row else None


# --- a directory `chotdon export` wrote ---


def export_format(path: Path) -> tuple[Path, Format]:
    """The export directory and format of `path`: an export directory or one file in it."""
    if path.is_file():
        return path.parent, format_of(path)
    for fmt in FORMATS:
        if table_path(path, tables.COMMENTS, fmt).exists():
            return path, fmt
    raise FileNotFoundError(f"{path}: no comments.parquet, comments.csv or comments.jsonl in it")


def load_export(path: Path, stream: str) -> Session:
    directory, fmt = export_format(path)

    def rows(table: tables.Table) -> Iterable[tables.Row]:
        file = table_path(directory, table, fmt)
        if not file.exists():
            return []
        return (row for row in read_table(table, file) if row["stream"] == stream)

    catalog_file = directory / CATALOG_FILE
    catalog = None
    if catalog_file.exists():
        catalog = parse_catalog(json.loads(catalog_file.read_text(encoding="utf-8")))
    return Session(
        stream=stream,
        comments=[tables.comment_from(r) for r in rows(tables.COMMENTS)],
        intents=[tables.intent_from(r) for r in rows(tables.INTENTS)],
        order_events=[tables.event_from(r) for r in rows(tables.ORDER_EVENTS)],
        viewers=[tables.viewers_from(r) for r in rows(tables.VIEWERS)],
        actions=[tables.action_from(r) for r in rows(tables.ACTIONS)],
        metrics=[tables.metrics_from(r) for r in rows(tables.METRICS)],
        catalog=catalog if catalog is not None and catalog.stream == stream else None,
    )


def load_path(path: Path, stream: str) -> Session:
    """A SQLite file or an export, whichever `path` is."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if is_sqlite(path):
        return load_sqlite(path, stream)
    return load_export(path, stream)


# --- the catalog ---


def bundled_catalog(stream: str) -> Catalog | None:
    """The bundled catalog of this stream id, if one is (the demo's)."""
    for entry in (resources.files("chotdon") / "data").iterdir():
        if entry.name.endswith(".json"):
            catalog = parse_catalog(json.loads(entry.read_text(encoding="utf-8")))
            if catalog.stream == stream:
                return catalog
    return None


def resolve_catalog(explicit: str | None, session: Session) -> Catalog:
    """--catalog if given, else the one the session recorded, else the bundled one of the
    stream. A given catalog keeps its products but takes the session's stream id."""
    if explicit:
        catalog = load_catalog(explicit)
        return msgspec.structs.replace(catalog, stream=session.stream)
    found = session.catalog or bundled_catalog(session.stream)
    if found is None:
        raise CatalogError(
            f"no catalog was recorded for stream '{session.stream}': pass --catalog FILE"
        )
    return found
