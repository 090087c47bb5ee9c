"""`chotdon export`: a stream's records as files pandas, DuckDB and spreadsheets open directly.

One file a table in `--out`: comments, intents, order_events, metrics, viewers and actions (the
host's product switches among them, so an export can be replayed), plus catalog.json when the
session recorded its catalog. Columns are flat (see `tables`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

import msgspec

from chotdon.config import settings
from chotdon.phones import mask_phone, mask_phones_in
from stream_jobs.metrics import WINDOWS_S

from . import tables
from .files import FORMATS, Format, table_path, write_table
from .options import KAFKA, add_kafka_arguments, add_time_arguments, load_source
from .progress import bar
from .session import CATALOG_FILE, Session, SourceError
from .tables import Row, Table
from .times import TimeRange


def session_rows(session: Session) -> list[tuple[Table, list[Row]]]:
    """Each table with its rows. Metrics are the recorded windows, else computed from the
    records (the embedded mode does not store them)."""
    metrics = [m for size in WINDOWS_S for m in session.windows(size)]
    return [
        (tables.COMMENTS, [tables.comment_row(c) for c in session.comments]),
        (tables.INTENTS, [tables.intent_row(i) for i in session.intents if i.comment]),
        (tables.ORDER_EVENTS, [tables.event_row(e) for e in session.order_events]),
        (tables.METRICS, [tables.metrics_row(m) for m in metrics]),
        (tables.VIEWERS, [tables.viewers_row(v) for v in session.viewers]),
        (tables.ACTIONS, [tables.action_row(a) for a in session.actions]),
    ]


def masked(row: Row) -> Row:
    """The row with phone numbers masked, for sharing beyond the shop (it no longer replays
    the same: the parser reads a phone's digits differently from a masked one's)."""
    out = dict(row)
    if isinstance(out.get("text"), str):
        out["text"] = mask_phones_in(out["text"])
    if "explanation" in out:  # the parser's matched spans quote the number
        out["explanation"] = [{**m, "text": mask_phones_in(m["text"])} for m in out["explanation"]]
    if "phone" in out:
        out["phone"] = mask_phone(out["phone"])
    return out


def export_session(
    session: Session,
    out: Path,
    fmt: Format,
    *,
    mask_phones: bool = False,
    show_progress: bool = True,
) -> dict[Path, int]:
    """Write the session's tables to `out` (created if missing); rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    plan = session_rows(session)
    written: dict[Path, int] = {}
    total = sum(len(rows) for _, rows in plan)
    with bar("xuất (export)", " rows", total, show_progress) as progress:
        for table, rows in plan:
            cells: Iterable[Row] = map(masked, rows) if mask_phones else rows
            path = table_path(out, table, fmt)
            written[path] = write_table(table, cells, path, fmt, progress.update)
    if session.catalog is not None:
        (out / CATALOG_FILE).write_bytes(msgspec.json.format(msgspec.json.encode(session.catalog)))
    return written


# --- the command ---


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stream", required=True, help="stream id (the catalog's `stream`)")
    add_time_arguments(p)
    p.add_argument("--format", choices=FORMATS, default="parquet", help="default %(default)s")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        default=settings().db,
        help="the embedded mode's SQLite file (env CHOTDON_DB; default %(default)s)",
    )
    where.add_argument(
        "--kafka", action="store_true", help="read the distributed mode's Kafka topics instead"
    )
    add_kafka_arguments(p)
    p.add_argument("--out", required=True, type=Path, help="directory to write the files to")
    p.add_argument(
        "--mask-phones",
        action="store_true",
        help="mask phone numbers (for sharing; a masked export no longer replays the same)",
    )


def cmd_export(args: argparse.Namespace) -> int:
    try:
        span = TimeRange.parse(args.start, args.end)
        session = load_source(KAFKA if args.kafka else args.db, args.stream, args)
    except (OSError, ValueError, SourceError) as exc:
        print(f"chotdon export: {exc}", file=sys.stderr)
        return 2
    session = session.between(span)
    if not session.comments:
        print(f"chotdon export: no comments of stream '{args.stream}' there", file=sys.stderr)
        return 1
    written = export_session(session, args.out, args.format, mask_phones=args.mask_phones)
    for path, rows in written.items():
        print(f"{rows:>9,} {path}".replace(",", "."))
    return 0
