"""The `chotdon` command: a table of sub-commands, each loaded only when it is the one run.

A command names the module functions that add its flags and run it ("module:function"), so
`chotdon parse` imports the parser and not aiohttp, Redis, Kafka or Faust. This module imports no
stage: the table is text, and a stage joins by adding a row.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from chotdon.catalog import CatalogError
from chotdon.config import SettingError

Handler = Callable[[argparse.Namespace], int]
Adder = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    run: str = ""  # "module:function" taking the parsed arguments, returning the exit status
    flags: tuple[str, ...] = ()  # "module:function"s adding the command's flags to its parser
    commands: tuple[Command, ...] = ()  # sub-commands, instead of run


COMMANDS: tuple[Command, ...] = (
    Command(
        "parse",
        "parse comments (JSON Lines on stdin, or --text for one comment)",
        "parsers.cli:cmd_parse",
        ("parsers.cli:add_arguments",),
    ),
    Command(
        "catalog",
        "work with a seller's catalog",
        commands=(
            Command(
                "check",
                "lint a catalog before a live: words the parser may misread, and how to fix them",
                "parsers.cli:cmd_check",
                ("parsers.cli:add_check_arguments",),
            ),
        ),
    ),
    Command(
        "run",
        "run the whole pipeline in this process (embedded mode) and serve the host's feed",
        "stream_jobs.embedded_cli:cmd_run",
        ("stream_jobs.embedded_cli:add_run_arguments",),
    ),
    Command(
        "simulate",
        "generate a realistic livestream (JSON Lines of comments, viewers, current product)",
        "ingest.simulator:cmd_simulate",
        ("ingest.simulator:add_arguments",),
    ),
    Command(
        "topics",
        "create the Kafka topics (idempotent): chotdon topics create",
        "chotdon.kafka_admin:cmd_topics",
        ("chotdon.kafka_admin:add_arguments",),
    ),
    Command(
        "ingest",
        "publish a source (file, stdin, simulator) to Kafka, or read a live platform: "
        "chotdon ingest PLATFORM",
        "ingest.kafka_producer:cmd_ingest",
        # each platform's sub-parser sets its own func (cmd_ingest_platform)
        ("ingest.kafka_producer:add_arguments", "ingest.connectors.cli:add_arguments"),
    ),
    Command(
        "worker",
        "run the stream jobs (Faust): parse, resolve, metrics",
        "stream_jobs.faust_cli:cmd_worker",
        ("stream_jobs.faust_cli:add_arguments",),
    ),
    Command(
        "sink",
        "store the pipeline's results (distributed mode)",
        commands=(
            Command(
                "redis",
                "order events, stock, metrics from Kafka into Redis",
                "sinks.redis_sink:cmd_sink_redis",
                ("sinks.redis_sink:add_arguments",),
            ),
        ),
    ),
    Command(
        "confirm",
        "confirm orders to buyers on their platform, from the orders topic (distributed mode)",
        "stream_jobs.confirm_cli:cmd_confirm",
        ("stream_jobs.confirm_cli:add_arguments",),
    ),
    Command(
        "feed",
        "serve the host's feed page from Redis (distributed mode)",
        "sinks.feed.redis_feed:cmd_feed",
        ("sinks.feed.redis_feed:add_arguments",),
    ),
    Command(
        "export",
        "write a stream's comments, intents, order events and metrics as Parquet/CSV/JSONL",
        "analytics.export:cmd_export",
        ("analytics.export:add_arguments",),
    ),
    Command(
        "replay",
        "re-run a recorded session through the current parser into a SQLite file of its own",
        "analytics.replay:cmd_replay",
        ("analytics.replay:add_arguments",),
    ),
    Command(
        "diff",
        "compare two replays, or a replay and the live session",
        "analytics.diff:cmd_diff",
        ("analytics.diff:add_arguments",),
    ),
    Command(
        "report",
        "write a session's report: one HTML page, in Vietnamese",
        "analytics.report:cmd_report",
        ("analytics.report:add_arguments",),
    ),
    Command(
        "demo",
        "replay a bundled livestream session and serve its feed",
        "stream_jobs.embedded_cli:cmd_demo",
        ("stream_jobs.embedded_cli:add_demo_arguments",),
    ),
)


def load(target: str) -> Callable[..., object]:
    """The function a "module:function" target names, importing its module."""
    module, _, name = target.partition(":")
    return cast(Callable[..., object], getattr(importlib.import_module(module), name))


def _add_commands(
    parser: argparse.ArgumentParser, commands: Sequence[Command], argv: Sequence[str], dest: str
) -> None:
    """Sub-parsers for every command, but flags only for the one `argv` chooses (its first
    word that is not an option), so only that command's modules are imported."""
    sub = parser.add_subparsers(dest=dest, required=True)
    chosen = next((word for word in argv if not word.startswith("-")), None)
    for command in commands:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.name != chosen:
            continue
        rest = argv[list(argv).index(chosen) + 1 :]
        if command.commands:
            _add_commands(p, command.commands, rest, command.name)
            continue
        for flags in command.flags:
            cast(Adder, load(flags))(p)
        p.set_defaults(func=cast(Handler, load(command.run)))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser for this command line: `argv` chooses which command's flags are loaded."""
    root = argparse.ArgumentParser(
        prog="chotdon",
        description="Chốt đơn: turn Vietnamese livestream comments into orders.",
    )
    _add_commands(root, COMMANDS, argv, "command")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SettingError as exc:
        print(f"chotdon: {exc}", file=sys.stderr)
        return 2
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
