"""`chotdon replay`: a recorded session again, through the current parser and order book.

The replay runs the embedded pipeline (`EmbeddedRunner`, the same stage code as live) with a
new SQLite file of its own and no feed: nothing reaches the live database, topics or feed.
Deterministic: the parser and the order book are pure, the input order is fixed (`Session.
replay_input`) and the output file starts empty, so the same input and parser version give the
same intents and order events, byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec

from chotdon.catalog import Catalog
from chotdon.config import settings
from chotdon.figures import Figures
from chotdon.formatting import format_vnd
from chotdon.records import Comment
from ingest.sources import Pace, RecordsSource, SourceRecord, add_speed_flag
from parsers import PARSER_VERSION
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner

from .labels import count, decimal
from .options import KAFKA, add_kafka_arguments, add_time_arguments, load_source
from .progress import bar
from .session import (
    REPLAY_INFO,
    Session,
    SourceError,
    is_sqlite,
    open_readonly,
    resolve_catalog,
)
from .times import ALL_TIME, TimeRange

SOURCE_NAME = "replay"  # the position key in the replay's own store


class ReplayError(ValueError):
    """A replay that would write where it must not."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    out: Path
    comments: int
    seconds: float
    orders: int  # with confirmed lines at the end
    revenue: int  # VND

    @property
    def rate(self) -> float:
        """Comments a second."""
        return self.comments / max(self.seconds, 1e-9)


def is_replay_db(path: Path) -> bool:
    if not is_sqlite(path):
        return False
    db = open_readonly(path)
    try:
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
        return db.execute(query, (REPLAY_INFO,)).fetchone() is not None
    finally:
        db.close()


def prepare_output(out: Path, sources: Sequence[Path] = ()) -> None:
    """Refuse to write into a source or into any database that is not an earlier replay (a
    live one); remove an earlier replay, so the output starts empty."""
    for source in sources:
        if out.resolve() == source.resolve() or (
            out.exists() and source.exists() and out.samefile(source)
        ):
            raise ReplayError(f"--out {out} is the source: a replay never writes into it")
    if not out.exists():
        return
    if not is_replay_db(out):
        raise ReplayError(
            f"--out {out} exists and is not a replay database: refusing to overwrite it"
        )
    for path in (out, Path(f"{out}-wal"), Path(f"{out}-shm")):
        path.unlink(missing_ok=True)


async def replay(
    session: Session,
    catalog: Catalog,
    out: Path,
    *,
    span: TimeRange = ALL_TIME,
    pace: Pace | None = None,
    source_label: str = "",
    show_progress: bool = True,
) -> ReplayResult:
    """Replay `session` (within `span`) into the SQLite file `out`, which `prepare_output`
    has checked and cleared."""
    if out.exists():
        raise ReplayError(f"{out} exists: a replay starts from an empty file (prepare_output)")
    records = session.replay_input(span)
    comments = sum(isinstance(r, Comment) for r in records)
    store = SQLiteStore(out)
    try:
        # marked a replay first, so a replay that fails half-way can still be replaced
        _describe(store, session, catalog, span, source_label, comments)
        runner = EmbeddedRunner([catalog], store)
        with bar("phát lại (replay)", " comments", comments, show_progress) as progress:

            def counted() -> Iterator[SourceRecord]:
                for record in records:
                    if isinstance(record, Comment):
                        progress.update()
                    yield record

            started = time.perf_counter()
            await runner.run(RecordsSource(SOURCE_NAME, counted(), pace or Pace()))
            seconds = time.perf_counter() - started
        figures = Figures.of(store.latest_orders(session.stream))
    finally:
        store.close()
    return ReplayResult(
        out=out,
        comments=comments,
        seconds=seconds,
        orders=figures.orders,
        revenue=figures.revenue,
    )


def _describe(
    store: SQLiteStore,
    session: Session,
    catalog: Catalog,
    span: TimeRange,
    source: str,
    comments: int,
) -> None:
    """What made this file, inside it: it marks the file as a replay (so a later replay may
    replace it) and lets report and diff find the catalog."""
    info = {
        "stream": session.stream,
        "parser_version": PARSER_VERSION,
        "catalog": msgspec.json.encode(catalog).decode(),
        "source": source,
        "from": "" if span.start is None else repr(span.start),
        "to": "" if span.end is None else repr(span.end),
        "comments": str(comments),
    }
    store.db.execute(f"CREATE TABLE {REPLAY_INFO} (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    store.db.executemany(f"INSERT INTO {REPLAY_INFO} VALUES (?, ?)", info.items())


# --- the command ---


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stream", required=True, help="stream id (the catalog's `stream`)")
    add_time_arguments(p)
    add_speed_flag(p, "max", "pace of recorded time: max (default), 1x (as it happened), 10x…")
    p.add_argument(
        "--catalog", help="catalog file or bundled name (default: the one the session recorded)"
    )
    p.add_argument(
        "--source",
        default=settings().db,
        help="a session's SQLite file, a directory (or file) `chotdon export` wrote, or "
        "'kafka' for the distributed mode's topics (default %(default)s)",
    )
    add_kafka_arguments(p)
    p.add_argument(
        "--out",
        required=True,
        type=Path,
        help="the replay's own SQLite file (replaced if it is "
        "an earlier replay; never the source or a live database)",
    )


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        span = TimeRange.parse(args.start, args.end)
        pace = args.speed
        session = load_source(args.source, args.stream, args, everything=False)
        if not session.comments:
            print(f"chotdon replay: no comments of stream '{args.stream}' there", file=sys.stderr)
            return 1
        catalog = resolve_catalog(args.catalog, session)
        prepare_output(args.out, [] if args.source == KAFKA else [Path(args.source)])
    except (OSError, ValueError, SourceError) as exc:  # CatalogError, ReplayError: ValueErrors
        print(f"chotdon replay: {exc}", file=sys.stderr)
        return 2
    result = asyncio.run(
        replay(session, catalog, args.out, span=span, pace=pace, source_label=args.source)
    )
    print(
        f"Phát lại (replay) {session.stream}: {count(result.comments)} bình luận trong "
        f"{decimal(result.seconds, 2)} s ({count(result.rate)} bình luận/s), "
        f"parser {PARSER_VERSION} → {result.out}"
    )
    print(
        f"  {result.orders} đơn chốt (confirmed orders) · doanh thu (revenue) "
        f"{format_vnd(result.revenue)}"
    )
    return 0
