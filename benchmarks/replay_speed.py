"""Replay speed at --speed max (comments/s) from each source: the embedded mode's SQLite file,
an exported Parquet file, and the Kafka topics (when a broker answers).

    python benchmarks/replay_speed.py [--repeat 5] [--bootstrap 127.0.0.1:9092]

Each figure is one whole replay of the bundled demo session (2,001 comments): reading the
session from its source, the parser and order book, and writing the replay's SQLite file. Goal:
under 2 s in embedded mode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from analytics.export import export_session
from analytics.kafka_reader import load_kafka
from analytics.replay import prepare_output, replay
from analytics.session import Session, load_export, load_sqlite, resolve_catalog
from chotdon import topics
from chotdon.catalog import load_catalog
from chotdon.config import settings
from chotdon.kafka_admin import create_topics
from ingest.kafka_producer import ingest
from ingest.sources import JsonLinesSource
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner

STREAM = "kim-an-oi"
GOAL_S = 2.0
DEMO = str(resources.files("chotdon") / "data" / "demo_session.jsonl")


def demo_source() -> JsonLinesSource:
    return JsonLinesSource(DEMO, on_error=lambda *_: None)


async def record(db: Path) -> None:
    """The demo session as the embedded mode records it live."""
    store = SQLiteStore(db)
    try:
        await EmbeddedRunner([load_catalog("kim-an")], store).run(demo_source())
    finally:
        store.close()


def timed(label: str, load: Callable[[], Session], work: Path, repeat: int) -> float:
    """Seconds of the median replay (load + replay); prints the figures."""
    seconds = []
    comments = 0
    for i in range(repeat):
        out = work / f"{label}-{i}.db"
        prepare_output(out)
        started = time.perf_counter()
        session = load()
        result = asyncio.run(
            replay(session, resolve_catalog(None, session), out, show_progress=False)
        )
        seconds.append(time.perf_counter() - started)
        comments = result.comments
    median = statistics.median(seconds)
    print(
        f"{label:<16} {comments:>6,} comments  median {median:6.3f} s  best {min(seconds):6.3f} s"
        f"  {comments / median:>9,.0f} comments/s"
    )
    return median


async def publish(bootstrap: str, prefix: str) -> None:
    report = await create_topics(bootstrap, prefix, 1)
    assert not report.mismatched, report
    await ingest(bootstrap, prefix, [load_catalog("kim-an")], demo_source())


async def drop_topics(bootstrap: str, prefix: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name(prefix) for spec in topics.ALL])
    finally:
        await admin.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--bootstrap", default=settings().kafka)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chotdon-replay-bench-"))
    db = work / "live.db"
    asyncio.run(record(db))
    export_session(load_sqlite(db, STREAM), work / "export", "parquet", show_progress=False)

    print(f"replay --speed max of the demo session, {args.repeat} runs each")
    embedded = timed("sqlite", lambda: load_sqlite(db, STREAM), work, args.repeat)
    timed("export (parquet)", lambda: load_export(work / "export", STREAM), work, args.repeat)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(asyncio.wait_for(publish(args.bootstrap, prefix), 60))
    except Exception as exc:  # no broker: the embedded figures still stand
        print(f"kafka            skipped: no broker at {args.bootstrap} ({type(exc).__name__})")
    else:
        try:
            timed(
                "kafka",
                lambda: asyncio.run(load_kafka(args.bootstrap, prefix, STREAM, everything=False)),
                work,
                args.repeat,
            )
        finally:
            with contextlib.suppress(Exception):
                asyncio.run(drop_topics(args.bootstrap, prefix))
    verdict = "met" if embedded < GOAL_S else "NOT met"
    print(f"goal: the embedded replay under {GOAL_S:.0f} s — {verdict} ({embedded:.3f} s)")


if __name__ == "__main__":
    main()
