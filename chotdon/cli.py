"""The `chotdon` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import IO, Any

import msgspec

from chotdon.catalog import Catalog, CatalogError, load_catalog
from chotdon.config import add_flags, settings
from chotdon.formatting import INTENT_LABELS, format_qty, format_vnd
from chotdon.phones import mask_phone, mask_phones_in
from chotdon.records import Intent


def _parse_lines(catalog: Catalog, lines: Iterable[str], out: IO[str], explain: bool) -> int:
    """The JSON Lines contract: one output line per input line, errors included."""
    from parsers import Parser

    parser = Parser(catalog)
    errors = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            errors += 1
            _emit(out, {"id": None, "error": f"invalid JSON: {exc.msg} at column {exc.colno}"})
            continue
        if not isinstance(record, dict):
            errors += 1
            _emit(out, {"id": None, "error": "expected a JSON object"})
            continue
        cid = record.get("id")
        text, current = record.get("text"), record.get("current")
        if not isinstance(text, str):
            errors += 1
            _emit(out, {"id": cid, "error": "field 'text' is missing or not a string"})
            continue
        if current is not None and not isinstance(current, str):
            errors += 1
            _emit(out, {"id": cid, "error": "field 'current' must be a product code or null"})
            continue
        result = parser.parse(text, current)
        row: dict[str, Any] = {
            "id": cid,
            "intent": result.intent,
            "items": msgspec.to_builtins(result.items),
            "phone": result.phone,
            "confidence": result.confidence,
            "parser_version": result.parser_version,
        }
        if explain:
            row["explanation"] = msgspec.to_builtins(result.explanation)
        _emit(out, row)
    return errors


def _emit(out: IO[str], row: dict[str, Any]) -> None:
    out.write(json.dumps(row, ensure_ascii=False) + "\n")
    out.flush()


def describe(intent: Intent, catalog: Catalog, text: str, explain: bool) -> str:
    """A parse result for a person, in Vietnamese."""
    lines = [
        f"«{mask_phones_in(text)}»",
        f"  → {INTENT_LABELS[intent.intent]} ({intent.intent}), độ tin cậy {intent.confidence:.2f}",
    ]
    total = 0.0
    for item in intent.items:
        product = catalog.by_sku(item.sku)
        name = product.name if product else item.sku
        unit = product.unit if product else ""
        variant = f" [{item.variant}]" if item.variant else ""
        price = ""
        if product and item.qty is not None:
            amount = item.qty * product.price
            total += amount
            price = f" = {format_vnd(amount)}"
        lines.append(f"    • {item.sku} {name}{variant} × {format_qty(item.qty)} {unit}{price}")
    if total and intent.intent == "order":
        lines.append(f"    Tổng: {format_vnd(total)}")
    if intent.phone:
        lines.append(f"    SĐT: {mask_phone(intent.phone)}")
    if explain:
        lines.extend(
            f"    - {m.rule}: «{mask_phones_in(m.text)}» [{m.start}:{m.end}]"
            for m in intent.explanation
        )
    return "\n".join(lines)


def cmd_parse(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    if args.text is not None:
        from parsers import Parser

        print(
            describe(
                Parser(catalog).parse(args.text, args.current), catalog, args.text, args.explain
            )
        )
        return 0
    if args.sample:
        from parsers import Parser

        parser = Parser(catalog)
        sample = resources.files("chotdon") / "data" / "sample_comments.jsonl"
        print(f"Phiên: {catalog.title}\n")
        for line in sample.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            print(
                describe(
                    parser.parse(row["text"], row.get("current")),
                    catalog,
                    row["text"],
                    args.explain,
                )
            )
        return 0
    errors = _parse_lines(catalog, sys.stdin, sys.stdout, args.explain)
    if errors:
        print(f"chotdon parse: {errors} line(s) could not be read", file=sys.stderr)
    return 0


def _session_options(args: argparse.Namespace, catalogs: list[Catalog], db: str) -> Any:
    from stream_jobs.embedded_session import SessionOptions

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


def cmd_run(args: argparse.Namespace) -> int:
    from ingest.simulator import simulator_source
    from ingest.sources import JsonLinesSource, Pace, Source
    from stream_jobs.embedded_session import run

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
    run(_session_options(args, catalogs, args.db), source)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    from ingest.sources import JsonLinesSource, Pace
    from stream_jobs.embedded_session import run

    catalog = load_catalog("kim-an")
    session = resources.files("chotdon") / "data" / "demo_session.jsonl"
    db = args.db or str(Path(tempfile.mkdtemp(prefix="chotdon-demo-")) / "demo.db")
    options = _session_options(args, [catalog], db)
    print(f"Demo: {catalog.title} — ~2.000 bình luận, tốc độ {args.speed}", flush=True)
    run(
        options,
        JsonLinesSource(str(session), pace=Pace.parse(args.speed)),
    )
    return 0


def _add_session_flags(p: argparse.ArgumentParser) -> None:
    add_flags(p, "host", "port", "host_token", "queue_size")
    p.add_argument("--no-serve", action="store_true", help="run without the feed page")
    p.add_argument(
        "--exit-at-end",
        action="store_true",
        help="stop when the source ends (default: keep the feed up until Ctrl-C)",
    )


def build_parser() -> argparse.ArgumentParser:
    conf = settings()
    root = argparse.ArgumentParser(
        prog="chotdon",
        description="Chốt đơn: turn Vietnamese livestream comments into orders.",
    )
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "parse",
        help="parse comments (JSON Lines on stdin, or --text for one comment)",
        description="Read JSON Lines {id, text, current} on stdin; write one JSON line per input "
        "{id, intent, items, phone, confidence, parser_version}.",
    )
    p.add_argument(
        "--catalog",
        default=conf.catalog,
        help="catalog JSON file or bundled name (env CHOTDON_CATALOG; default %(default)s)",
    )
    p.add_argument("--text", help="parse this one comment and print it for a person")
    p.add_argument("--current", help="with --text: the product code the host is showing")
    p.add_argument("--sample", action="store_true", help="parse the bundled sample comments")
    p.add_argument("--explain", action="store_true", help="add which rule matched which span")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser(
        "run",
        help="run the whole pipeline in this process (embedded mode) and serve the host's feed",
        description="Read comment, viewer-count and host-action records (JSON Lines, one a line), "
        "parse and resolve them into orders kept in SQLite, and serve the live feed.",
    )
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
    from ingest.simulator import add_simulator_source_arguments

    add_simulator_source_arguments(p)
    p.set_defaults(func=cmd_run)

    from ingest.simulator import add_arguments, cmd_simulate

    p = sub.add_parser(
        "simulate",
        help="generate a realistic livestream (JSON Lines of comments, viewers, current product)",
    )
    add_arguments(p)
    p.set_defaults(func=cmd_simulate)

    from chotdon.kafka_admin import add_arguments as add_topics_arguments
    from chotdon.kafka_admin import cmd_topics

    p = sub.add_parser("topics", help="create the Kafka topics (idempotent): chotdon topics create")
    add_topics_arguments(p)
    p.set_defaults(func=cmd_topics)

    from ingest.connectors.cli import add_arguments as add_platform_arguments
    from ingest.kafka_producer import add_arguments as add_ingest_arguments
    from ingest.kafka_producer import cmd_ingest

    p = sub.add_parser(
        "ingest",
        help="publish a source (file, stdin, simulator) to Kafka, or read a live platform: "
        "chotdon ingest PLATFORM",
    )
    add_ingest_arguments(p)
    add_platform_arguments(p)  # each platform sets func=cmd_ingest_platform
    p.set_defaults(func=cmd_ingest)

    from stream_jobs.faust_cli import add_arguments as add_worker_arguments
    from stream_jobs.faust_cli import cmd_worker

    p = sub.add_parser("worker", help="run the stream jobs (Faust): parse, resolve, metrics")
    add_worker_arguments(p)
    p.set_defaults(func=cmd_worker)

    from sinks.feed.redis_feed import add_arguments as add_feed_arguments
    from sinks.feed.redis_feed import cmd_feed
    from sinks.redis_sink import add_arguments as add_sink_arguments
    from sinks.redis_sink import cmd_sink_redis

    p = sub.add_parser("sink", help="store the pipeline's results (distributed mode)")
    sink_sub = p.add_subparsers(dest="sink", required=True)
    r = sink_sub.add_parser("redis", help="order events, stock, metrics from Kafka into Redis")
    add_sink_arguments(r)
    r.set_defaults(func=cmd_sink_redis)

    p = sub.add_parser("feed", help="serve the host's feed page from Redis (distributed mode)")
    add_feed_arguments(p)
    p.set_defaults(func=cmd_feed)

    from analytics import diff, export, replay, report

    p = sub.add_parser(
        "export",
        help="write a stream's comments, intents, order events and metrics as Parquet/CSV/JSONL",
    )
    export.add_arguments(p)
    p.set_defaults(func=export.cmd_export)

    p = sub.add_parser(
        "replay",
        help="re-run a recorded session through the current parser into a SQLite file of its own",
    )
    replay.add_arguments(p)
    p.set_defaults(func=replay.cmd_replay)

    p = sub.add_parser("diff", help="compare two replays, or a replay and the live session")
    diff.add_arguments(p)
    p.set_defaults(func=diff.cmd_diff)

    p = sub.add_parser("report", help="write a session's report: one HTML page, in Vietnamese")
    report.add_arguments(p)
    p.set_defaults(func=report.cmd_report)

    p = sub.add_parser("demo", help="replay a bundled livestream session and serve its feed")
    p.add_argument("--speed", default="1", help="1 = real time (default), 10 = ten times, max")
    p.add_argument("--db", default="", help="SQLite file (default: a new temporary one)")
    _add_session_flags(p)
    p.set_defaults(func=cmd_demo)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CatalogError as exc:
        print(f"chotdon: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
