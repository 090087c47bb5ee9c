"""`chotdon confirm`: confirm orders to buyers in the distributed mode, from the orders topic.

    chotdon confirm --catalog kim-an --source facebook:LIVE_VIDEO_ID --confirm kim-an-oi

The same confirmer as `chotdon run --confirm` (see `confirm`): the live sources name the
platforms to answer on and their credentials (from the environment), as in `chotdon run`, but
nothing is read from them here. It consumes `<prefix>.orders` in its own consumer group and
commits its offsets only when every reply read so far was sent or given up (at least once); the
comments answered are kept in Redis (`--redis`, see sinks.redis_store.RedisAnswered), so a
restart that reads them again answers each comment once. SIGTERM or Ctrl-C: the replies in hand
go, then it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from redis.asyncio import Redis
from redis.exceptions import RedisError

from chotdon import topics
from chotdon.catalog import Catalog, load_catalog
from chotdon.config import add_flags, settings
from chotdon.phones import mask_phones_in
from chotdon.records import RecordError, decode
from chotdon.stop_signals import install_stop_signals
from ingest.connectors.runner import Connector
from sinks.redis_store import RedisAnswered

from .confirm import DRAIN_SECONDS, Answered, Confirmer, repliers_of
from .confirm_messages import TemplateError, templates_from
from .live_sources import LiveSourceError, build_connector

MAX_RECORDS = 500


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog", action="append", help="catalog file or bundled name; repeat")
    p.add_argument(
        "--source",
        action="append",
        required=True,
        help="a live platform to answer on, as in chotdon run: facebook:LIVE_VIDEO_ID, "
        "youtube:VIDEO_ID, shopee:SESSION_ID (@STREAM with several catalogs); repeat",
    )
    add_confirm_arguments(p, required=True)
    add_flags(p, "kafka", "topic_prefix", "redis")


def add_confirm_arguments(
    p: argparse.ArgumentParser | argparse._ArgumentGroup, *, required: bool = False
) -> None:
    """--confirm, --confirm-templates, --confirm-public (here and in `chotdon run`)."""
    p.add_argument(
        "--confirm",
        action="append",
        required=required,
        metavar="STREAM",
        help="answer each buyer of this stream on its platform (repeat; 'all' for every stream)",
    )
    p.add_argument(
        "--confirm-templates",
        metavar="FILE",
        help="JSON of the Vietnamese messages to use: confirmed, updated, waitlisted, "
        "needs_review (placeholders {ten} {hang} {tong} {cho} {thieu})",
    )
    p.add_argument(
        "--confirm-public",
        action="store_true",
        help="on Facebook, reply under the comment instead of a Private Reply in Messenger",
    )


def confirmer_from(
    args: argparse.Namespace,
    catalogs: list[Catalog],
    connectors: list[Connector],
    answered: Answered,
) -> Confirmer | None:
    """The confirmer the --confirm flags ask for (None: off). Raises TemplateError."""
    if not args.confirm:
        return None
    streams = {c.stream for c in catalogs}
    chosen = streams if "all" in args.confirm else set(args.confirm)
    if unknown := chosen - streams:
        raise TemplateError(f"--confirm: no catalog for {', '.join(sorted(unknown))}")
    path = args.confirm_templates
    try:
        text = Path(path).read_text(encoding="utf-8") if path else None
    except OSError as exc:
        raise TemplateError(f"{path}: {exc}") from exc
    templates = templates_from(text, path or "templates")
    repliers = repliers_of(connectors, public_facebook=args.confirm_public)
    return Confirmer(
        catalogs, repliers, streams=chosen, answered=answered, templates=templates, log=_say
    )


def cmd_confirm(args: argparse.Namespace) -> int:
    catalogs = [load_catalog(c) for c in args.catalog or [settings().catalog]]
    try:
        connectors = [
            build_connector(s, [c.stream for c in catalogs], os.environ) for s in args.source
        ]
        redis = Redis.from_url(args.redis)
        answered = RedisAnswered(redis, args.topic_prefix)
        confirmer = confirmer_from(args, catalogs, connectors, answered)
    except (LiveSourceError, TemplateError, ValueError) as exc:
        _say(f"chotdon confirm: {exc}")
        return 2
    assert confirmer is not None  # --confirm is required here
    try:
        asyncio.run(consume(confirmer, args.bootstrap, args.topic_prefix, redis))
    except RedisError as exc:
        _say(f"chotdon confirm: Redis {args.redis}: {exc}")
        return 1
    s = confirmer.stats
    _say(
        f"chotdon confirm: {s.sent} sent, {s.already} answered before, {s.failed} failed, "
        f"{s.dropped} dropped"
    )
    return 0


async def consume(confirmer: Confirmer, bootstrap: str, prefix: str, redis: Redis) -> None:
    await redis.ping()  # before reading anything: no reply without knowing what was answered
    stop = asyncio.Event()
    install_stop_signals(stop)
    consumer = AIOKafkaConsumer(
        topics.ORDERS.name(prefix),
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}-confirm",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    _say(f"chotdon confirm: reading {topics.ORDERS.name(prefix)}")
    sending = asyncio.create_task(confirmer.run())
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            for messages in batch.values():
                for message in messages:
                    try:
                        confirmer.offer(decode(message.value))
                    except RecordError:
                        continue  # the sink and the worker report bad records; not ours
            if batch and await confirmer.drain(DRAIN_SECONDS):
                await consumer.commit()
        if await confirmer.drain(DRAIN_SECONDS):
            await consumer.commit()
    finally:
        sending.cancel()
        await consumer.stop()
        await redis.aclose()


def _say(message: str) -> None:
    print(mask_phones_in(message), file=sys.stderr, flush=True)
