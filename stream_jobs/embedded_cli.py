"""`chotdon run` and `chotdon demo`: the embedded mode's commands."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from importlib import resources
from pathlib import Path

from prometheus_client import CollectorRegistry

from chotdon.catalog import Catalog, load_catalog
from chotdon.config import add_flags, settings
from chotdon.phones import mask_phones_in
from chotdon.prometheus import ConnectorMetrics
from ingest.simulator import add_simulator_source_arguments, simulator_source
from ingest.sources import JsonLinesSource, Source, add_speed_flag
from sinks.sqlite_store import ConnectorStates

from .confirm_cli import add_confirm_arguments, confirmer_from
from .confirm_messages import TemplateError
from .embedded_session import SessionOptions, run
from .live_sources import (
    LiveSourceError,
    LiveSources,
    build_connector,
    is_live,
    show_pinned_products,
)

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
        action="append",
        help="JSON Lines file, - for stdin (default), 'simulator' for a simulated session, or "
        "a live platform: facebook:LIVE_VIDEO_ID (or facebook:page=PAGE_ID), youtube:VIDEO_ID, "
        "shopee:SESSION_ID, tiktok:listen; repeat for a multi-platform live; add @STREAM when "
        "there are several catalogs (credentials from the environment, see README)",
    )
    add_flags(p, "db")
    add_speed_flag(p, "max", "replay speed of recorded time: max (default), 1 (real time), 10…")
    add_confirm_arguments(
        p.add_argument_group("confirming orders to buyers (live platforms; off by default)")
    )
    _add_session_flags(p)
    add_simulator_source_arguments(p)


def cmd_run(args: argparse.Namespace) -> int:
    catalogs = [load_catalog(c) for c in args.catalog or [settings().catalog]]
    pace = args.speed
    sources = args.source or ["-"]
    if any(is_live(s) for s in sources):
        return _run_live(args, catalogs, sources)
    if len(sources) > 1:
        print("chotdon run: several sources must all be live platforms", file=sys.stderr)
        return 2
    args.source = sources[0]
    source: Source
    if args.source == "simulator":
        try:
            catalogs, source = simulator_source(args, catalogs, pace)
        except ValueError as exc:
            print(f"chotdon run: {exc}", file=sys.stderr)
            return 2
    elif args.source != "-" and not os.path.exists(args.source):
        print(f"chotdon run: --source {args.source}: no such file", file=sys.stderr)
        return 2
    else:
        source = JsonLinesSource(args.source, pace=pace)  # bad lines go to the runner's report
    return run(_session_options(args, catalogs, args.db), source)


def _run_live(args: argparse.Namespace, catalogs: list[Catalog], sources: list[str]) -> int:
    """`--source PLATFORM:...` (one or several): the connectors feed the runner directly."""
    if not all(is_live(s) for s in sources):
        print("chotdon run: live platforms cannot be mixed with files", file=sys.stderr)
        return 2
    streams = [c.stream for c in catalogs]
    try:
        connectors = [build_connector(s, streams, os.environ) for s in sources]
    except LiveSourceError as exc:
        print(f"chotdon run: {exc}", file=sys.stderr)
        return 2
    show_pinned_products(connectors, catalogs)
    states = ConnectorStates(args.db)
    registry = CollectorRegistry()  # the connectors' metrics on the session's /metrics
    live = LiveSources(connectors, states, log=_say, metrics=ConnectorMetrics(registry))
    options = _session_options(args, catalogs, args.db)
    options.registry = registry
    try:
        options.confirmer = confirmer_from(args, catalogs, connectors, states)
    except TemplateError as exc:
        print(f"chotdon run: {exc}", file=sys.stderr)
        return 2
    try:
        code = run(options, live)
    finally:
        live.flush()  # what the runner's last commit covers
        states.close()
    failed = [o for o in live.outcomes.values() if o.exit_code]
    return max((o.exit_code for o in failed), default=code)


def _say(message: str) -> None:
    print(mask_phones_in(message), file=sys.stderr, flush=True)


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    add_speed_flag(p, "1", "1 = real time (default), 10 = ten times, max")
    p.add_argument("--db", default="", help="SQLite file (default: a new temporary one)")
    _add_session_flags(p)


def cmd_demo(args: argparse.Namespace) -> int:
    catalog = load_catalog("kim-an")
    session = resources.files("chotdon") / "data" / "demo_session.jsonl"
    db = args.db or str(Path(tempfile.mkdtemp(prefix="chotdon-demo-")) / "demo.db")
    options = _session_options(args, [catalog], db)
    print(f"Demo: {catalog.title} — ~2.000 bình luận, tốc độ {args.speed}", flush=True)
    return run(options, JsonLinesSource(str(session), pace=args.speed))
