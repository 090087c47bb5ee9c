"""Helpers for the tests against the real Kafka broker: topics, workers, reading outputs."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]

from chotdon.catalog import Catalog
from chotdon.config import settings
from chotdon.kafka_admin import create_topics
from chotdon.records import AnyRecord, MetricsSnapshot, OrderEvent, StockLevels, decode
from ingest.kafka_producer import ingest
from ingest.sources import Pace, RecordsSource, SourceRecord
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = settings().kafka  # env CHOTDON_KAFKA


def new_prefix(label: str) -> str:
    """A topic prefix (and app id stem) of one test: tests never see each other's records."""
    return f"t{label}-{uuid.uuid4().hex[:8]}"


def make_topics(prefix: str, partitions: int) -> None:
    report = asyncio.run(create_topics(BOOTSTRAP, prefix, partitions))
    assert not report.mismatched, report


def delete_topics(prefix: str) -> None:
    """The test's topics and its workers' (the tables' changelogs, the assignor's)."""

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            names = [
                t for t in await admin.list_topics() if t.startswith((f"{prefix}.", f"{prefix}-"))
            ]
            if names:
                await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(run())


def produce_records(
    prefix: str,
    catalogs: list[Catalog],
    records: Iterable[SourceRecord],
    speed: float | None = None,
) -> None:
    """What `chotdon ingest` does: the catalogs, then the records (paced when `speed`)."""
    source = RecordsSource("test", records, Pace(speed))
    asyncio.run(ingest(BOOTSTRAP, prefix, catalogs, source))


def produce_raw(topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    """(key, value) pairs as they are, in order (for bad input)."""

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
        await producer.start()
        try:
            for key, value in items:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

    asyncio.run(run())


@dataclass
class Read:
    """Records read from a topic, with (partition, offset) for each."""

    records: list[AnyRecord] = field(default_factory=list)
    positions: list[tuple[int, int]] = field(default_factory=list)
    undecodable: int = 0


def read_messages(topic: str, partitions: int) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message on the topic now, from the beginning of every partition (each partition's
    in order)."""

    async def run() -> list[ConsumerRecord[bytes, bytes]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=BOOTSTRAP, group_id=None, enable_auto_commit=False
        )
        await consumer.start()
        out: list[ConsumerRecord[bytes, bytes]] = []
        try:
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            end = await consumer.end_offsets(tps)
            while any([await consumer.position(tp) < end[tp] for tp in tps]):
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    out.extend(batch)
        finally:
            await consumer.stop()
        return out

    return asyncio.run(run())


def read_topic(topic: str, partitions: int) -> Read:
    """Everything on the topic now, from the beginning of every partition."""
    out = Read()
    for message in read_messages(topic, partitions):
        try:
            out.records.append(decode(message.value))
        except ValueError:
            out.undecodable += 1
            continue
        out.positions.append((message.partition, message.offset))
    return out


def table_rows(changelog: str, partitions: int) -> dict[int, dict[bytes, bytes]]:
    """A table's rows per partition as a recovery folds its changelog: the last value per key,
    deletions gone."""
    rows: dict[int, dict[bytes, bytes]] = {p: {} for p in range(partitions)}
    for message in read_messages(changelog, partitions):
        if message.value is None:
            rows[message.partition].pop(message.key, None)
        else:
            rows[message.partition][message.key] = message.value
    return rows


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail saying `what` did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


# -- what a finished pipeline produced ------------------------------------------------------------


def final_orders(records: Iterable[AnyRecord]) -> dict[tuple[str, str], OrderEvent]:
    """The latest event of each order (by seq), as a sink that drops repeats would keep."""
    latest: dict[tuple[str, str], OrderEvent] = {}
    for r in records:
        if isinstance(r, OrderEvent):
            key = (r.stream, r.order_id)
            if key not in latest or r.seq > latest[key].seq:
                latest[key] = r
    return latest


def order_view(orders: dict[tuple[str, str], OrderEvent]) -> dict[tuple[str, str], Any]:
    """What must be equal between two runs: each order's lines, total, phone and kind."""
    return {
        key: (
            [(x.sku, x.variant, x.qty, x.unit_price, x.status, x.missing) for x in e.lines],
            e.total,
            e.phone,
            e.customer,
        )
        for key, e in sorted(orders.items())
    }


def final_stock(records: Iterable[AnyRecord]) -> dict[str, tuple[Any, ...]]:
    """The last stock levels of each stream (records in the order of their partition)."""
    last: dict[str, StockLevels] = {}
    for r in records:
        if isinstance(r, StockLevels):
            last[r.stream] = r
    return {s: (dict(x.remaining), dict(x.reserved), dict(x.waiting)) for s, x in last.items()}


def metric_totals(records: Iterable[AnyRecord]) -> dict[tuple[str, int], dict[str, Any]]:
    """Per stream and window size, the sums over windows of what is counted once (the latest
    snapshot of each window) and the peak viewers: equal however records interleaved."""
    latest: dict[tuple[str, int, float], MetricsSnapshot] = {}
    for r in records:
        if isinstance(r, MetricsSnapshot):
            latest[(r.stream, r.window_s, r.window_start)] = r
    totals: dict[tuple[str, int], dict[str, Any]] = {}
    for (stream, size, _), s in sorted(latest.items()):
        t = totals.setdefault(
            (stream, size),
            {"comments": 0, "orders": 0, "cancelled": 0, "revenue": 0, "intents": {}, "peak": 0},
        )
        t["comments"] += s.comments
        t["orders"] += s.orders
        t["cancelled"] += s.cancelled
        t["revenue"] += s.revenue
        for kind, n in s.intents.items():
            t["intents"][kind] = t["intents"].get(kind, 0) + n
        t["peak"] = max(t["peak"], s.viewers_peak)
    return totals


# -- workers --------------------------------------------------------------------------------------


class ChildProcess:
    """A chotdon process in a subprocess, its stdout and stderr in a log file."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        self.proc = subprocess.Popen(
            self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.log_path.stem} exited:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing flushed or committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


ASSIGNED = re.compile(r"chotdon worker: partitions \[([\d, ]*)\]")


class WorkerProcess(ChildProcess):
    """`chotdon worker` (python -m chotdon worker)."""

    def __init__(
        self, prefix: str, partitions: int, app_id: str, log_path: Path, *extra: str
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "chotdon",
            "worker",
            "--bootstrap",
            BOOTSTRAP,
            "--topic-prefix",
            prefix,
            "--partitions",
            str(partitions),
            "--app-id",
            app_id,
            "--session-timeout",
            "6",
            "--checkpoint",
            "0.5",
            *extra,
        ]
        super().__init__(args, log_path)

    def assigned(self) -> str:
        """The partitions it got at the last rebalance, as logged ("" for none, or none yet)."""
        found = ASSIGNED.findall(self.log())
        return str(found[-1]).strip() if found else ""


class WorkerGroup:
    """The workers of one app that a test starts, kills and stops; a wait checks that the others
    still run, and fails with their logs."""

    def __init__(self, prefix: str, partitions: int, app_id: str, logs: Path) -> None:
        self.prefix, self.partitions, self.app_id, self.logs_dir = prefix, partitions, app_id, logs
        self.workers: list[WorkerProcess] = []
        self.ended: list[WorkerProcess] = []  # killed or stopped by the test

    def start(self, name: str, *extra: str) -> WorkerProcess:
        log_path = self.logs_dir / f"{name}.log"
        worker = WorkerProcess(self.prefix, self.partitions, self.app_id, log_path, *extra)
        self.workers.append(worker.start())
        return worker

    def kill(self, worker: WorkerProcess) -> None:
        worker.kill()
        self.ended.append(worker)

    def stop(self, worker: WorkerProcess) -> None:
        worker.stop()
        self.ended.append(worker)

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {w.log_path.name} ---\n{w.log()[-2500:]}" for w in self.workers)

    def wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """`wait_until`, failing as soon as a worker the test did not end has exited."""

        def check_running() -> Any:
            for worker in self.workers:
                if worker not in self.ended:
                    worker.check_alive()
            return check()

        try:
            return wait_until(check_running, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None


class RedisStageProcess(ChildProcess):
    """A stage between the broker and Redis: `python -m MODULE`, told both and the prefix."""

    def __init__(
        self, module: str, prefix: str, redis_url: str, log_path: Path, *extra: str
    ) -> None:
        args = ["--bootstrap", BOOTSTRAP, "--redis", redis_url, "--topic-prefix", prefix, *extra]
        super().__init__([sys.executable, "-m", module, *args], log_path)


class SinkProcess(RedisStageProcess):
    """`python -m sinks.redis_sink` (what `chotdon sink redis` runs)."""

    def __init__(self, prefix: str, redis_url: str, log_path: Path) -> None:
        super().__init__("sinks.redis_sink", prefix, redis_url, log_path)


class FeedProcess(RedisStageProcess):
    """`python -m sinks.feed.redis_feed` (what `chotdon feed` runs): the host's page, served from
    Redis on 127.0.0.1:port."""

    def __init__(self, prefix: str, redis_url: str, port: int, log_path: Path) -> None:
        address = ("--host", "127.0.0.1", "--port", str(port))
        super().__init__("sinks.feed.redis_feed", prefix, redis_url, log_path, *address)


# -- the embedded mode, for the expected results --------------------------------------------------


def run_embedded(
    catalogs: list[Catalog], records: Iterable[SourceRecord], db: Path
) -> list[AnyRecord]:
    """What the embedded mode publishes for these records (no web server), in order."""
    published: list[AnyRecord] = []

    async def run() -> None:
        store = SQLiteStore(db)
        try:
            runner = EmbeddedRunner(catalogs, store)
            runner.listeners.append(published.append)
            await runner.run(RecordsSource("expected", records))
        finally:
            store.close()

    asyncio.run(run())
    return published
