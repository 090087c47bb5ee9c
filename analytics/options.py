"""Command-line options the analytics commands share, and loading the session they name."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from chotdon.config import add_flags

from .progress import bar
from .session import Session, load_path

KAFKA = "kafka"  # the source word naming the distributed mode's topics


def add_time_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from", dest="start", metavar="T", help="from this time: ISO (local time) or unix s"
    )
    p.add_argument("--to", dest="end", metavar="T", help="until this time (excluded)")


def add_kafka_arguments(p: argparse.ArgumentParser) -> None:
    add_flags(p, "kafka", "topic_prefix")


def load_source(
    source: str, stream: str, args: argparse.Namespace, *, everything: bool = True
) -> Session:
    """The whole session of `stream` in `source`: a SQLite file, an export, or "kafka" (then
    `args.bootstrap` and `args.topic_prefix`; `everything` False reads only what a replay
    needs)."""
    if source != KAFKA:
        return load_path(Path(source), stream)
    from .kafka_reader import load_kafka

    progress = bar("đọc Kafka (reading)", " records")

    def update(read: int, total: int) -> None:
        progress.total = total
        progress.update(read)

    with progress:
        return asyncio.run(
            load_kafka(
                args.bootstrap,
                args.topic_prefix,
                stream,
                everything=everything,
                progress=update,
                log=lambda message: print(message, file=sys.stderr),
            )
        )
