"""`chotdon topics create`: every topic of `chotdon.topics.ALL`, with its partitions and configs.

Idempotent: a topic that exists is left alone, but its partition count is checked, because the
stream jobs rely on every topic having the same count (co-partitioning: a stream's records, its
tables and its outputs all live on the same partition number).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chotdon.config import add_flags
from chotdon.topics import ALL, TopicSpec


class TopicsError(RuntimeError):
    """Topics that are missing or do not have the partition count the pipeline needs."""


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)
    mismatched: dict[str, int] = field(default_factory=dict)  # name -> partitions it has


# How long a consumer's fetch may wait at the broker for records to come. aiokafka's fetcher
# keeps one request in flight per broker, for the partitions with nothing buffered (the quiet
# topics): records arriving meanwhile on the busy ones wait for it, up to this long a hop
# (aiokafka's default is 500 ms, Faust's 1.5 s). Used by the worker and the Redis sink.
FETCH_MAX_WAIT_MS = 50
# And how much a fetch waits for (within that time). At the default, 1 byte, the broker answers
# as soon as any partition has a record: under a steady flow of comments each consumer fetches
# again and again, a few records a time, and the worker and the sink handle batches of a few
# records, each batch with its fixed costs (at 500 comments/s: 57 batches/s of 9 records). At
# 16 KiB (~50 records) a fetch takes what 50 ms brought, or returns sooner once that much came:
# measured back to back (kafka_pipeline, load average 8), at 500 comments/s p50 191 -> 80 ms,
# p99 360 -> 218 ms, the worker's CPU 0.19 -> 0.13 cores.
FETCH_MIN_BYTES = 16 * 1024


def bootstrap_servers(bootstrap: str) -> list[str]:
    """ "host:port,host:port" as the list the Kafka clients take."""
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def new_admin(bootstrap: str) -> Any:
    # imported here: aiokafka takes ~0.1 s to load, which only the Kafka commands should pay
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(bootstrap))


async def partition_counts(admin: Any, names: Iterable[str]) -> dict[str, int]:
    """Partitions of each existing topic among `names` (missing ones are left out). Only
    topics listed as existing are described: a metadata request naming a missing topic makes a
    broker with auto.create.topics.enable create it, with the broker's default partitions."""
    existing = set(await admin.list_topics())
    names = [n for n in names if n in existing]
    if not names:
        return {}
    described = await admin.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}


async def create_topics(
    bootstrap: str,
    prefix: str,
    partitions: int,
    *,
    replication_factor: int = 1,
    specs: Iterable[TopicSpec] = ALL,
) -> TopicsReport:
    """Create the topics that do not exist; report those that exist, and those whose partition
    count differs from `partitions` (never changed here: adding partitions would move streams to
    other partitions and strand their state)."""
    if partitions < 1:
        raise ValueError("partitions must be >= 1")
    from aiokafka.admin import NewTopic
    from aiokafka.errors import (  # type: ignore[import-untyped]
        TopicAlreadyExistsError,
        for_code,
    )

    wanted = {spec.name(prefix): spec for spec in specs}
    report = TopicsReport()
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(name, partitions, replication_factor, topic_configs=dict(spec.config))
                for name, spec in wanted.items()
            ]
        )
        failed = []
        for name, code, *rest in response.topic_errors:
            error = for_code(code)
            if code == 0:
                report.created.append(name)
            elif error is TopicAlreadyExistsError:
                report.existed.append(name)
            else:
                failed.append(f"{name}: {error.__name__} {rest[0] if rest else ''}".strip())
        if failed:
            raise TopicsError("could not create topics: " + "; ".join(failed))
        counts = await partition_counts(admin, report.existed)
        report.mismatched = {n: c for n, c in counts.items() if c != partitions}
    finally:
        await admin.close()
    return report


async def check_topics(
    bootstrap: str,
    prefix: str,
    partitions: int,
    *,
    extra: Iterable[str] = (),
    wait_s: float = 5.0,
) -> None:
    """Raise TopicsError unless every topic exists with `partitions` partitions; `extra` names
    topics that may be missing but, when present, must match too (e.g. table changelogs).
    Missing topics are waited for up to `wait_s`: a broker lists a topic just created a little
    later (a busy controller, seconds)."""
    required = [spec.name(prefix) for spec in ALL]
    extra = list(extra)
    deadline = time.monotonic() + wait_s
    admin = new_admin(bootstrap)
    await admin.start()
    try:
        while True:
            counts = await partition_counts(admin, required + extra)
            missing = [name for name in required if name not in counts]
            if not missing or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    problems = [f"{name} is missing" for name in missing]
    problems += [
        f"{name} has {n} partitions, not {partitions}"
        for name, n in counts.items()
        if n != partitions
    ]
    if problems:
        raise TopicsError(
            "; ".join(problems)
            + f" (create them with: chotdon topics create --topic-prefix {prefix}"
            f" --partitions {partitions}; every topic needs the same partition count)"
        )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """`chotdon topics create` flags."""
    sub = p.add_subparsers(dest="topics_command", required=True)
    c = sub.add_parser("create", help="create every topic (idempotent)")
    add_flags(c, "kafka", "topic_prefix", "partitions")
    c.add_argument(
        "--replication-factor", type=int, default=1, help="replicas per partition (default 1)"
    )


def cmd_topics(args: argparse.Namespace) -> int:
    """`chotdon topics create`: print what was created and what existed; exit 1 if a topic has
    another partition count."""
    from aiokafka.errors import KafkaError

    try:
        report = asyncio.run(
            create_topics(
                args.bootstrap,
                args.topic_prefix,
                args.partitions,
                replication_factor=args.replication_factor,
            )
        )
    except (KafkaError, TopicsError) as exc:
        print(f"chotdon topics: {exc} (Kafka at {args.bootstrap})", file=sys.stderr)
        return 1
    for name in report.created:
        print(f"created  {name} ({args.partitions} partitions)")
    for name in report.existed:
        note = ""
        if name in report.mismatched:
            note = f" — has {report.mismatched[name]} partitions, not {args.partitions}!"
        print(f"existed  {name}{note}")
    if report.mismatched:
        print(
            "chotdon topics: partition counts differ. Every topic needs the same count "
            "(a stream's records and state share one partition number); recreate the "
            "mismatched topics or use their count with --partitions.",
            file=sys.stderr,
        )
        return 1
    return 0
