"""`chotdon run` and `chotdon demo`: the embedded mode's commands."""

from __future__ import annotations

import argparse
import sys
import tempfile
from importlib import resources
from pathlib import Path

from chotdon.catalog import Catalog, load_catalog
from chotdon.config import add_flags, settings
from ingest.simulator import add_simulator_source_arguments, simulator_source
from ingest.sources import JsonLinesSource, Pace, Source

from .embedded_session import SessionOptions, run

RUN_DESCRIPTION = (
    "Read comment, viewer-count and host-action records (JSON Lines, one a line), "
    "parse and resolve them into orders kept in SQLite, and serve the live feed."
)


def _session_options(args: argparse.Namespace, catalogs: list[Catalog], db: str) -> SessionOptions:
    options = SessionOptions(
        catalogs=catalogs,
        db=db,
        host=args.host,
        port=args.port,
        serve=not args.no_serve,
        keep_running=not args.exit_at_end and not args.no_serve,
        queue_size=args.queue_size,
    )
    if args.token:
        options.token = args.token
    return options


def _add_session_flags(p: argparse.ArgumentParser) -> None:
    add_flags(p, "host", "port", "host_token", "queue_size")
    p.add_argument("--no-serve", action="store_true", help="run without the feed page")
    p.add_argument(
        "--exit-at-end",
        action="store_true",
        help="stop when the source ends (default: keep the feed up until Ctrl-C)",
    )


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.description = RUN_DESCRIPTION
    p.add_argument(
        "--catalog",
        action="append",
        help="catalog file or bundled name; repeat for several streams",
    )
    p.add_argument(
        "--source",
        default="-",
        help="JSON Lines file, - for stdin (default), or 'simulator' for a simulated session",
    )
    add_flags(p, "db")
    p.add_argument(
        "--speed",
        default="max",
        help="replay speed of recorded time: max (default), 1 (real time), 10…",
    )
    _add_session_flags(p)
    add_simulator_source_arguments(p)


def cmd_run(args: argparse.Namespace) -> int:
    catalogs = [load_catalog(c) for c in args.catalog or [settings().catalog]]
    pace = Pace.parse(args.speed)
    source: Source
    if args.source == "simulator":
        try:
            catalogs, source = simulator_source(args, catalogs, pace)
        except ValueError as exc:
            print(f"chotdon run: {exc}", file=sys.stderr)
            return 2
    else:
        source = JsonLinesSource(args.source, pace=pace)  # bad lines go to the runner's report
    return run(_session_options(args, catalogs, args.db), source)


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speed", default="1", help="1 = real time (default), 10 = ten times, max")
    p.add_argument("--db", default="", help="SQLite file (default: a new temporary one)")
    _add_session_flags(p)


def cmd_demo(args: argparse.Namespace) -> int:
    catalog = load_catalog("kim-an")
    session = resources.files("chotdon") / "data" / "demo_session.jsonl"
    db = args.db or str(Path(tempfile.mkdtemp(prefix="chotdon-demo-")) / "demo.db")
    options = _session_options(args, [catalog], db)
    print(f"Demo: {catalog.title} — ~2.000 bình luận, tốc độ {args.speed}", flush=True)
    return run(options, JsonLinesSource(str(session), pace=Pace.parse(args.speed)))
