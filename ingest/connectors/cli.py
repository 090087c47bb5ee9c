"""`chotdon ingest PLATFORM ...`: run one live platform connector.

Every platform gets the same flags (--stream, --to, --checkpoint, --metrics and, for
Kafka, --catalog/--bootstrap/--topic-prefix) plus its own. A platform module joins by defining
`PLATFORM_SPEC = runner.Platform(...)` and being named in PLATFORM_MODULES.

--to stdout (default) writes JSON Lines records, which `chotdon run --source -` (embedded mode)
and `chotdon ingest --source - --to kafka` read; --to kafka publishes the catalogs and the
records itself. SIGTERM or Ctrl-C stops the connector cleanly: what it read is emitted and its
checkpoint saved, so the next start resumes there. Exit status: 0 when the session ended or the
connector was stopped, 78 when a person must act (token rejected, quota spent), 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from chotdon.config import add_flags, add_metrics_flag, settings
from chotdon.prometheus import ConnectorMetrics
from chotdon.stop_signals import install_stop_signals

from .base import Checkpoint, state_file
from .runner import (
    Connector,
    ConnectorSource,
    EmitError,
    Outcome,
    Platform,
    UsageError,
    jsonl_emit,
    run_connector,
)

# Modules of ingest.connectors that define PLATFORM_SPEC, in the order `--help` lists them.
PLATFORM_MODULES = ("facebook", "youtube", "shopee", "tiktok", "webhook")


def platforms() -> dict[str, Platform]:
    specs: dict[str, Platform] = {}
    for name in PLATFORM_MODULES:
        spec = importlib.import_module(f"ingest.connectors.{name}").PLATFORM_SPEC
        assert isinstance(spec, Platform)
        specs[spec.name] = spec
    return specs


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add a sub-command per platform to the `chotdon ingest` parser; each sets
    `func=cmd_ingest_platform`, so the parent's own func still runs without a platform."""
    conf = settings()
    sub = p.add_subparsers(dest="platform", metavar="PLATFORM", title="live platforms")
    for spec in platforms().values():
        sp = sub.add_parser(
            spec.name,
            help=spec.help,
            description=spec.description,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if spec.needs_stream:
            sp.add_argument("--stream", required=True, help="the stream id records carry")
        spec.add_arguments(sp)
        out = sp.add_argument_group("output")
        out.add_argument(
            "--to",
            choices=("stdout", "kafka"),
            default="stdout",
            help="stdout: JSON Lines (default); kafka: the catalogs, then the records",
        )
        out.add_argument(
            "--checkpoint",
            help="resume file (default: CHOTDON_CHECKPOINT_DIR/<platform>-<stream>.json, "
            f"now {conf.checkpoint_dir}/)",
        )
        add_metrics_flag(out)
        out.add_argument(
            "--catalog",
            action="append",
            help="with --to kafka: catalog file or bundled name; repeat for several streams "
            f"(default: env CHOTDON_CATALOG, {conf.catalog})",
        )
        add_flags(out, "kafka", "topic_prefix")
        sp.set_defaults(func=cmd_ingest_platform, platform_spec=spec)


def default_checkpoint(platform: str, stream: str) -> Path:
    return state_file(settings().checkpoint_dir, platform, stream)


def cmd_ingest_platform(args: argparse.Namespace) -> int:
    spec: Platform = args.platform_spec
    try:
        connector = spec.build(args, os.environ)
    except UsageError as exc:
        _say(spec.name, str(exc))
        return 2
    checkpoint = Checkpoint(args.checkpoint or default_checkpoint(spec.name, connector.stream))
    metrics = ConnectorMetrics()
    metrics.serve(args.metrics)
    try:
        outcome = asyncio.run(_run(args, connector, checkpoint, metrics))
    except EmitError as exc:
        _say(spec.name, str(exc))
        return 1
    if outcome.message:
        _say(spec.name, f"{outcome.reason}: {outcome.message}")
    return outcome.exit_code


async def _run(
    args: argparse.Namespace,
    connector: Connector,
    checkpoint: Checkpoint,
    metrics: ConnectorMetrics,
) -> Outcome:
    stop = asyncio.Event()
    install_stop_signals(stop)
    log = functools.partial(_say, args.platform_spec.name)
    if args.to == "stdout":
        emit = jsonl_emit(sys.stdout.buffer)
        return await run_connector(
            connector, emit, stop=stop, metrics=metrics, checkpoint=checkpoint, log=log
        )
    from chotdon.catalog import load_catalog
    from ingest.kafka_producer import ingest
    from ingest.sources import Source

    source = ConnectorSource(connector, stop=stop, metrics=metrics, checkpoint=checkpoint, log=log)
    catalogs = [load_catalog(c) for c in args.catalog or [settings().catalog]]
    # ingest() takes any object with .name and .records(start); Source is a closed union.
    await ingest(args.bootstrap, args.topic_prefix, catalogs, cast(Source, source), log=log)
    return source.outcome or Outcome("stopped")


def _say(platform: str, message: str) -> None:
    print(f"chotdon ingest {platform}: {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ingest.connectors.cli PLATFORM ...`: the same as `chotdon ingest PLATFORM`."""
    p = argparse.ArgumentParser(prog="python -m ingest.connectors.cli", description=__doc__)
    add_arguments(p)
    args = p.parse_args(argv)
    if args.platform is None:
        p.error("name a platform")
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
