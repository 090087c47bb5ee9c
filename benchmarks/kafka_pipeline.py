"""The distributed mode on one machine (broker, workers and the Redis sink all local): latency at
fixed rates, the backlog drain rate, and a raw aiokafka passthrough on the same broker.

    python benchmarks/kafka_pipeline.py [--streams 40] [--seconds 20] [--backlog 30000]

Figures, all from one run:

- latency at 500 and 2,000 comments/s over 40 streams (one worker, one sink): from a comment's
  Kafka timestamp to its order event's notification from Redis (the page's feed), p50/p95/p99,
  and the rate actually sent; and the same to when a consumer of the orders topic reads the
  event (the worker's part alone);
- the backlog drain rate: a backlog of comments already in Kafka, then one worker and the sink
  started; comments/s until Redis has counted every comment and holds every stream's last order
  event (its `seq`, as the stream processor alone gives it), start-up included, and between
  a quarter and three quarters of the comments counted (mid-drain: no start-up, no rebalance);
  and the CPU seconds the worker processes used per comment. Then the same with two workers;
- where the time goes, per process (the CPU a process is charged is what it cost, however
  many others share the cores): at each rate, the cores each used (the workers, the sink, the
  broker, Redis: their pid files, as deploy/ starts them) and the worker's batches and
  checkpoints from its Prometheus metrics (records a batch, ms a batch from its first record to
  its outputs sent, ms a checkpoint, during which the stream waits); mid-drain, the CPU
  µs per comment of each and the cores they add up to;
- raw aiokafka consume-and-produce of the same backlog on the same broker (records/s), and the
  drain rate as a share of it; the parser's single-core throughput on the same comments, and
  its CPU per comment against the worker's (a ratio that does not depend on what else the
  machine runs).

Goals (issue 12): p99 under 300 ms at 2,000 comments/s; drain rate at least 70% of the parser's
single-core throughput per worker process; a second worker adds at least 60%. Uses the broker
of CHOTDON_KAFKA and the Redis of CHOTDON_REDIS (127.0.0.1 only), creates its own topics and
keys and deletes them at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import msgspec
from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from embedded_scaling import START_TS, catalogs, parser_us
from feed_load import free_port
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from chotdon import topics
from chotdon.config import settings
from chotdon.kafka_admin import FETCH_MAX_WAIT_MS, bootstrap_servers, create_topics
from chotdon.records import Comment, SetCurrent, encode
from ingest.kafka_producer import ROUTES, new_producer
from ingest.simulator import SimRecord, simulate
from stream_jobs.order_book import new_book
from stream_jobs.processor import StreamProcessor

PARTITIONS = 8


def local(address: str) -> None:
    if "127.0.0.1" not in address and "localhost" not in address:
        raise SystemExit(f"benchmarks target 127.0.0.1 only, not {address}")


def session(streams: int, rate: float, seconds: float, seed: int) -> list[SimRecord]:
    """Comments (and the host's product switches) at `rate` comments/s over all streams."""
    out = simulate(
        catalogs(streams), rate=rate / streams, duration=seconds, seed=seed, start_ts=START_TS
    )
    return [r for r in out if isinstance(r, Comment | SetCurrent)]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the processes have used so far (Linux)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def service_pids(redis_url: str) -> dict[str, list[int]]:
    """The broker's and Redis's pids, from the pid files deploy/kafka/broker and
    deploy/redis/server write (their data folders as they default them); [] if not found.
    No Redis URL (a run without the sink): the broker's only."""
    files = {
        "broker": Path(os.environ.get("CHOTDON_KAFKA_DIR", "/tmp/chotdon-kafka")) / "kafka.pid"
    }
    if redis_url:
        port = redis_url.rsplit(":", 1)[-1].split("/")[0]
        redis_dir = Path(os.environ.get("CHOTDON_REDIS_DIR", "/tmp/chotdon-redis"))
        files["Redis"] = redis_dir / f"redis-{port}.pid"
    pids: dict[str, list[int]] = {}
    for name, file in files.items():
        try:
            pid = int(file.read_text().strip())
            cpu_seconds([pid])
            pids[name] = [pid]
        except (OSError, ValueError):
            pids[name] = []
    return pids


class Processes:
    """Workers and the sink as `chotdon` commands, their logs in one folder; the first worker
    serves its Prometheus metrics."""

    def __init__(self, bootstrap: str, redis: str, prefix: str, work: Path) -> None:
        self.bootstrap, self.redis, self.prefix, self.work = bootstrap, redis, prefix, work
        self.procs: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []
        self.sinks: list[subprocess.Popen[bytes]] = []
        self.services = service_pids(redis)
        self.metrics_port = free_port()

    def start(self, *args: str, name: str) -> None:
        log = (self.work / f"{name}.log").open("wb")
        cmd = [sys.executable, "-m", "chotdon", *args, "--bootstrap", self.bootstrap]
        cmd += ["--topic-prefix", self.prefix]
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def worker(self, name: str = "worker") -> None:
        args = ["worker", "--partitions", str(PARTITIONS), "--loglevel", "warning"]
        if not self.workers:
            args += ["--metrics", f"127.0.0.1:{self.metrics_port}"]
        self.start(*args, name=name)
        self.workers.append(self.procs[-1])

    def cpu(self) -> dict[str, float]:
        """CPU seconds each kind of process has used so far."""
        pids = {
            "workers": [p.pid for p in self.workers],
            "sink": [p.pid for p in self.sinks],
            **self.services,
        }
        return {name: cpu_seconds(of) for name, of in pids.items() if of}

    def worker_metrics(self) -> dict[str, float]:
        """The first worker's batch and checkpoint counts and seconds, and records read."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        wanted = (
            "chotdon_worker_batch_duration_seconds_count",
            "chotdon_worker_batch_duration_seconds_sum",
            "chotdon_worker_checkpoint_duration_seconds_count",
            "chotdon_worker_checkpoint_duration_seconds_sum",
            "chotdon_worker_records_in_total",
        )
        found = dict.fromkeys(wanted, 0.0)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in found:
                    found[sample.name] += sample.value
        return found

    def sink(self) -> None:
        self.start("sink", "redis", "--redis", self.redis, name="sink")
        self.sinks.append(self.procs[-1])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        self.workers.clear()
        self.sinks.clear()

    def check(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args!r} exited ({proc.returncode}); logs in {self.work}")


class Heard:
    """When each comment's first order event showed, as heard by `_listen` in a thread with its
    own event loop and connections, so that the sending of comments in this process does not
    delay the clock readings."""

    def __init__(self) -> None:
        self.heard: dict[str, float] = {}  # cause comment id -> first time heard (s)
        self.listening = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True)

    async def __aenter__(self) -> Self:
        self.thread.start()
        await asyncio.to_thread(self.listening.wait, 30)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.stop.set()
        await asyncio.to_thread(self.thread.join, 30)

    def order(self, record: Any, now: float) -> None:
        if record.get("type") == "order":  # an OrderEvent
            self.heard.setdefault(record["comment_id"], now)

    async def _listen(self) -> None:
        raise NotImplementedError


class Notifications(Heard):
    """Order events as the page hears them: the Redis pub/sub notifications."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        super().__init__()
        self.redis_url, self.pattern = redis_url, f"{prefix}:*:notify"

    async def _listen(self) -> None:
        redis = Redis.from_url(self.redis_url)
        pubsub = redis.pubsub()
        try:
            await pubsub.psubscribe(self.pattern)
            self.listening.set()
            while not self.stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                if message is not None and message["type"] == "pmessage":
                    self.order(json.loads(message["data"]).get("record", {}), time.time())
        finally:
            await pubsub.aclose()
            await redis.aclose()


class InKafka(Heard):
    """Order events as a consumer of the orders topic reads them: the worker's part alone."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        super().__init__()
        self.bootstrap, self.topic = bootstrap, topics.ORDERS.name(prefix)

    async def _listen(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=bootstrap_servers(self.bootstrap),
            auto_offset_reset="latest",
            enable_auto_commit=False,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        await consumer.start()
        try:
            while not consumer.assignment():
                await asyncio.sleep(0.05)
            await consumer.seek_to_end()
            self.listening.set()
            while not self.stop.is_set():
                for messages in (await consumer.getmany(timeout_ms=100)).values():
                    now = time.time()
                    for message in messages:
                        self.order(json.loads(message.value), now)
        finally:
            await consumer.stop()


async def publish_catalogs(producer: Any, prefix: str, streams: int) -> None:
    for catalog in catalogs(streams):
        value = msgspec.json.encode(catalog)
        await producer.send_and_wait(
            topics.CATALOG.name(prefix), value, key=catalog.stream.encode()
        )


async def publish_backlog(
    bootstrap: str, prefix: str, streams: int, records: Sequence[SimRecord], partitions: int
) -> None:
    """Topics under `prefix`, the streams' catalogs, then every record, before any worker runs."""
    await create_topics(bootstrap, prefix, partitions)
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        await publish_catalogs(producer, prefix, streams)
        await send_records(producer, prefix, records)
    finally:
        await producer.stop()


async def send_records(producer: Any, prefix: str, records: Sequence[SimRecord]) -> None:
    """Each record to its topic under `prefix`, keyed by its stream, as fast as it goes."""
    for record in records:
        await producer.send(
            ROUTES[type(record)].name(prefix), encode(record), key=record.stream.encode()
        )
    await producer.flush()


async def send_paced(
    producer: Any, prefix: str, records: list[SimRecord]
) -> tuple[dict[str, float], float]:
    """Send each record at its time in the session; (comment id -> Kafka timestamp, rate sent)."""
    sent: list[tuple[str, Any]] = []
    t0, started = records[0].ts, time.monotonic()
    for record in records:
        delay = (record.ts - t0) - (time.monotonic() - started)
        if delay > 0:
            await asyncio.sleep(delay)
        future = await producer.send(
            ROUTES[type(record)].name(prefix), encode(record), key=record.stream.encode()
        )
        if isinstance(record, Comment):
            sent.append((record.comment_id, future))
    stamps = {cid: (await future).timestamp / 1000 for cid, future in sent}
    return stamps, len(sent) / (time.monotonic() - started)


async def latency(
    args: argparse.Namespace, producer: Any, procs: Processes, rate: float, seed: int
) -> None:
    records = session(args.streams, rate, args.seconds, seed)
    prefix = procs.prefix
    async with Notifications(args.redis, prefix) as redis, InKafka(args.bootstrap, prefix) as kafka:
        before = (time.monotonic(), procs.cpu(), await asyncio.to_thread(procs.worker_metrics))
        stamps, sent_rate = await send_paced(producer, prefix, records)
        after = (time.monotonic(), procs.cpu(), await asyncio.to_thread(procs.worker_metrics))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the events of the last comments still coming
            await asyncio.sleep(1)
            heard = redis.heard.copy()  # (a copy is atomic; its thread adds to it meanwhile)
            waited = [t for cid, t in heard.items() if cid in stamps]
            if waited and max(waited) < time.time() - 3:
                break
    for listener, where in ((redis, "in Redis"), (kafka, "in Kafka (the worker's part)")):
        heard = listener.heard  # its thread has stopped
        seconds = [heard[cid] - ts for cid, ts in stamps.items() if cid in heard]
        if not seconds:
            print(f"{rate:>6,.0f} comments/s: no order event {where}")
            continue
        p50, p95, p99 = (percentile(seconds, q) * 1000 for q in (0.5, 0.95, 0.99))
        print(
            f"{rate:>6,.0f} comments/s ({sent_rate:,.0f} sent)  latency p50 {p50:7,.0f} ms"
            f"  p95 {p95:7,.0f} ms  p99 {p99:7,.0f} ms  ({len(seconds):,} order events {where})"
        )
    stages(before, after)


def stages(
    before: tuple[float, dict[str, float], dict[str, float]],
    after: tuple[float, dict[str, float], dict[str, float]],
) -> None:
    """While the comments were sent: the worker's batches and checkpoints, the cores used."""
    wall = after[0] - before[0]
    m = {name: after[2][name] - value for name, value in before[2].items()}
    batches = max(m["chotdon_worker_batch_duration_seconds_count"], 1)
    checkpoints = max(m["chotdon_worker_checkpoint_duration_seconds_count"], 1)
    cores = ", ".join(f"{name} {(after[1][name] - v) / wall:.2f}" for name, v in before[1].items())
    print(
        f"        the worker: {batches / wall:,.0f} batches/s of"
        f" {m['chotdon_worker_records_in_total'] / batches:,.0f} records,"
        f" {m['chotdon_worker_batch_duration_seconds_sum'] / batches * 1000:,.1f} ms each"
        f" (handled, outputs sent); {checkpoints / wall:.1f} checkpoints/s,"
        f" {m['chotdon_worker_checkpoint_duration_seconds_sum'] / checkpoints * 1000:,.1f} ms"
        f" each (the stream waits)\n"
        f"        cores used: {cores} (of {os.cpu_count()}; load average"
        f" {os.getloadavg()[0]:.1f})"
    )


async def comments_counted(redis: Redis, prefix: str, streams: int) -> int:
    total = 0
    for catalog in catalogs(streams):
        count = await redis.hget(f"{prefix}:{{{catalog.stream}}}:summary", "comments")
        total += int(count or 0)
    return total


def last_seqs(records: list[SimRecord], streams: int) -> dict[str, int]:
    """Each stream's last order event `seq`, from the stream processor alone."""
    processors = {c.stream: StreamProcessor(c, new_book(c)) for c in catalogs(streams)}
    for record in records:
        processor = processors[record.stream]
        if isinstance(record, SetCurrent):
            processor.current = record.code
        elif isinstance(record, Comment):
            processor.comment(record)
    return {stream: p.book.seq for stream, p in processors.items()}


async def events_stored(redis: Redis, prefix: str, seqs: dict[str, int]) -> bool:
    """Whether Redis has each stream's last order event (its feed's last id is `<seq>-0`)."""
    for stream, seq in seqs.items():
        last = await redis.xrevrange(f"{prefix}:{{{stream}}}:feed", count=1)
        newest = last[0][0] if last else None  # bytes: the client does not decode
        if seq and (not isinstance(newest, bytes) or int(newest.split(b"-")[0]) < seq):
            return False
    return True


@dataclass(frozen=True)
class Drained:
    rate: float  # comments/s, start-up included
    steady: float  # comments/s while Redis counted the second quarter to the third
    cpu: float  # CPU seconds of the worker processes per comment, start-up included
    steady_cpu: float  # the same, mid-drain


async def drain(
    args: argparse.Namespace, redis: Redis, records: list[SimRecord], workers: int, work: Path
) -> Drained:
    """`workers` workers and the sink through a backlog: comments/s start-up included, and in
    the middle of the drain; the workers' CPU seconds per comment."""
    prefix = f"bench-drain{workers}-{uuid.uuid4().hex[:6]}"
    await publish_backlog(args.bootstrap, prefix, args.streams, records, PARTITIONS)
    # Redis counts each comment id once: a deletion report is not another comment
    comments = len({r.comment_id for r in records if isinstance(r, Comment)})
    seqs = last_seqs(records, args.streams)
    procs = Processes(args.bootstrap, args.redis, prefix, work)
    started = time.monotonic()
    counts: list[tuple[float, int, dict[str, float]]] = []  # (when, counted, CPU seconds)
    try:
        for i in range(workers):
            procs.worker(f"drain{workers}-worker{i}")
        procs.sink()
        while True:
            counted = await comments_counted(redis, prefix, args.streams)
            counts.append((time.monotonic(), counted, procs.cpu()))
            if counted >= comments and await events_stored(redis, prefix, seqs):
                break
            procs.check()
            if time.monotonic() - started > 600:
                raise SystemExit(f"the backlog did not drain in 10 minutes; logs in {work}")
            await asyncio.sleep(0.2)
        took = time.monotonic() - started
        cpu = procs.cpu()["workers"] / comments
    finally:
        procs.stop()
        await drop(args.bootstrap, redis, prefix)
    first, third = (next(c for c in counts if c[1] >= q * comments) for q in (0.25, 0.75))
    n = third[1] - first[1]
    steady = n / (third[0] - first[0])
    each = {name: (third[2][name] - first[2][name]) / n for name in first[2]}  # CPU s a comment
    print(
        f"backlog of {comments:,} comments, {workers} worker(s) + sink: {took:5.1f} s,"
        f" {comments / took:>7,.0f} comments/s ({steady:,.0f}/s mid-drain); CPU per comment:"
        f" workers {cpu * 1e6:,.0f} µs start-up included\n        mid-drain: "
        + ", ".join(f"{name} {seconds * 1e6:,.0f} µs" for name, seconds in each.items())
        + f" a comment; at {steady:,.0f}/s that is {sum(each.values()) * steady:.2f} cores"
        f" (of {os.cpu_count()}; load average {os.getloadavg()[0]:.1f})"
    )
    return Drained(comments / took, steady, cpu, each["workers"])


async def passthrough(args: argparse.Namespace, records: list[SimRecord]) -> float:
    """Records/s of a raw aiokafka consumer producing each record on again, same broker."""
    prefix = f"bench-raw-{uuid.uuid4().hex[:6]}"
    source, target = f"{prefix}.in", f"{prefix}.out"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(args.bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in (source, target)])
    finally:
        await admin.close()
    producer = new_producer(args.bootstrap)
    await producer.start()
    try:
        for record in records:
            await producer.send(source, encode(record), key=record.stream.encode())
        await producer.flush()
        consumer = AIOKafkaConsumer(
            source,
            bootstrap_servers=bootstrap_servers(args.bootstrap),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            started, moved = time.monotonic(), 0
            while moved < len(records):
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                for messages in batches.values():
                    for m in messages:
                        await producer.send(target, m.value, key=m.key)
                    moved += len(messages)
            await producer.flush()
            took = time.monotonic() - started
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
        await drop(args.bootstrap, None, prefix)
    print(f"raw aiokafka consume + produce of the backlog: {len(records) / took:>9,.0f} records/s")
    return len(records) / took


def parser_rate(records: list[SimRecord], streams: int) -> tuple[float, float]:
    """The parser alone on the same comments: comments/s, and CPU seconds per comment."""
    wall_us, cpu_us = parser_us(records, streams)
    print(
        f"parser alone, one core, the same comments:    {1e6 / wall_us:>9,.0f} comments/s"
        f" (CPU {cpu_us:,.0f} µs per comment)"
    )
    return 1e6 / wall_us, cpu_us / 1e6


async def drop(bootstrap: str, redis: Redis | None, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(bootstrap))
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith((f"{prefix}.", f"{prefix}-"))]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()
    if redis is not None:
        async for key in redis.scan_iter(f"{prefix}:*", count=1000):
            await redis.delete(key)


async def run(args: argparse.Namespace) -> None:
    local(args.bootstrap)
    local(args.redis)
    work = Path(tempfile.mkdtemp(prefix="chotdon-kafka-bench-"))
    redis = Redis.from_url(args.redis)
    print(
        f"distributed mode, {args.streams} streams, {PARTITIONS} partitions; cpus: {os.cpu_count()}"
    )
    prefix = f"bench-live-{uuid.uuid4().hex[:6]}"
    await create_topics(args.bootstrap, prefix, PARTITIONS)
    procs = Processes(args.bootstrap, args.redis, prefix, work)
    producer = new_producer(args.bootstrap)
    await producer.start()
    try:
        await publish_catalogs(producer, prefix, args.streams)
        procs.worker()
        procs.sink()
        warm = session(args.streams, 20, 5, 99)  # until the first order events come
        async with Notifications(args.redis, prefix) as heard:
            await send_paced(producer, prefix, warm)
            deadline = time.monotonic() + 120
            while not heard.heard and time.monotonic() < deadline:
                procs.check()
                await asyncio.sleep(0.5)
        for i, rate in enumerate(args.rates):
            procs.check()
            await latency(args, producer, procs, rate, seed=i)
    finally:
        await producer.stop()
        procs.stop()
        await drop(args.bootstrap, redis, prefix)
    backlog = session(args.streams, args.backlog / 60, 60, 7)
    one = await drain(args, redis, backlog, 1, work)
    two = await drain(args, redis, backlog, 2, work)
    raw = await passthrough(args, backlog)
    parsed, parse_cpu = parser_rate(backlog, args.streams)
    print(
        f"drain / passthrough {one.rate / raw:.0%};  drain / parser {one.rate / parsed:.0%}"
        f" (mid-drain {one.steady / parsed:.0%}; the parser's CPU per comment / the worker's"
        f" mid-drain {parse_cpu / one.steady_cpu:.0%});  two workers / one"
        f" {two.rate / one.rate:.2f}x"
        f" (mid-drain {two.steady / one.steady:.2f}x)   (logs in {work})"
    )
    await redis.aclose()


def main() -> None:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader moves of new topics, retried
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default=settings().kafka)
    p.add_argument("--redis", default=settings().redis)
    p.add_argument("--streams", type=int, default=40)
    p.add_argument("--seconds", type=float, default=20, help="at each rate")
    p.add_argument("--rates", type=float, nargs="*", default=[500, 2000], help="none: skip")
    p.add_argument("--backlog", type=int, default=30_000, help="comments")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
