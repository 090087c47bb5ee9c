"""Faults of the services under the distributed mode while comments keep coming: redis-server, or
the Kafka broker, killed with SIGKILL and restarted. Redis is a view of Kafka: it must end holding
exactly what the embedded mode computes on the same input (every order, the revenue and order
count), the host's page must show the same, and the logs of the worker, the sink and the feed
must not flood while a service is away."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from chotdon.catalog import Catalog, load_catalog
from chotdon.records import OrderEvent
from ingest.simulator import simulate, stream_catalogs
from sinks.feed.redis_feed import build_view
from sinks.feed.view import StreamView
from sinks.redis_store import RedisStore
from tests.kafka_helpers import (
    ROOT,
    ChildProcess,
    FeedProcess,
    SinkProcess,
    WorkerProcess,
    delete_topics,
    final_orders,
    make_topics,
    new_prefix,
    order_view,
    produce_records,
    run_embedded,
    wait_until,
)
from tests.ports import free_port

PARTITIONS = 2
RATE = 40.0  # comments/s per stream: 80/s over the two streams
DURATION = 36.0  # seconds of session, played at SPEED: the traffic lasts 18 s
SPEED = 2.0
OUTAGE_S = 4.0  # how long a killed service stays down before it is started again
# errors and warnings a process may log from the fault until Redis is right again: a summary of a
# client's reconnect errors, not a line per attempt (thousands before)
MAX_FAULT_ALARMS = 60
# all its lines meanwhile: progress lines and the tables Faust prints when the group rebalances,
# which it may or may not do depending on how long the outage outlasts the session timeout
MAX_FAULT_LINES = 300
ASSIGNED = "chotdon worker: partitions ["

Figures = dict[str, tuple[int, int]]  # stream -> (orders, revenue) as the host's page shows them


@dataclass
class Expected:
    catalogs: list[Catalog]
    records: list[Any]
    orders: dict[tuple[str, str], Any]  # order_view of every order
    figures: Figures


def figures_of(catalogs: list[Catalog], events: dict[tuple[str, str], OrderEvent]) -> Figures:
    """Orders and revenue as the page's view derives them from each order's latest event."""
    out: Figures = {}
    for catalog in catalogs:
        view = StreamView.for_catalog(catalog)
        for event in sorted(events.values(), key=lambda e: e.seq):
            if event.stream == catalog.stream:
                view.apply(event)
        out[catalog.stream] = (view.order_count, view.revenue)
    return out


@pytest.fixture(name="expected", scope="module")
def expected_fixture(tmp_path_factory: pytest.TempPathFactory) -> Expected:
    catalogs = stream_catalogs([load_catalog("kim-an"), load_catalog("phu-xuyen")], 2)
    records = list(
        simulate(catalogs, rate=RATE, duration=DURATION, seed=12, start_ts=1_764_230_400.0)
    )
    embedded = final_orders(run_embedded(catalogs, records, tmp_path_factory.mktemp("e") / "e.db"))
    assert len(embedded) > 100, "a session worth comparing"
    return Expected(catalogs, records, order_view(embedded), figures_of(catalogs, embedded))


def redis_holds(url: str, prefix: str, catalogs: list[Catalog]) -> tuple[Any, Figures]:
    """Every order Redis holds (as order_view) and the figures the page shows from it."""

    async def read() -> tuple[Any, Figures]:
        redis = Redis.from_url(url)
        try:
            store = RedisStore(redis, prefix)
            orders: dict[tuple[str, str], OrderEvent] = {}
            figures: Figures = {}
            for catalog in catalogs:
                stored = await store.load(catalog.stream)
                orders.update(((e.stream, e.order_id), e) for e in stored.events)
                view = build_view(stored, catalog)
                figures[catalog.stream] = (view.order_count, view.revenue)
            return order_view(orders), figures
        finally:
            await redis.aclose()

    return asyncio.run(read())


class Service:
    """A service run by its deploy/ script, as a developer or CI runs it."""

    def __init__(self, script: str, env: dict[str, str], pid_file: Path) -> None:
        self.script = str(ROOT / "deploy" / script)
        self.env = {**os.environ, **env}
        self.pid_file = pid_file

    def run(self, command: str) -> None:
        subprocess.run(
            [self.script, command], env=self.env, check=True, capture_output=True, timeout=120
        )

    def kill(self) -> None:
        """SIGKILL: nothing saved, nothing shut down."""
        pid = int(self.pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10, "the kill")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


@pytest.fixture(name="redis_server")
def redis_server_fixture(tmp_path: Path) -> Iterator[tuple[str, Service]]:
    """A redis-server of the test's own, without persistence (as deploy/redis/server runs it)."""
    port = free_port()
    env = {"CHOTDON_REDIS_PORT": str(port), "CHOTDON_REDIS_DIR": str(tmp_path / "redis")}
    server = Service("redis/server", env, tmp_path / "redis" / f"redis-{port}.pid")
    try:
        server.run("start")
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot start redis-server: {exc}")
    try:
        yield f"redis://127.0.0.1:{port}/0", server
    finally:
        server.run("stop")


def the_broker(kafka_broker: str) -> Service:
    """The test session's broker, when deploy/kafka/broker runs it (else the test is skipped)."""
    data = Path(os.environ.get("CHOTDON_KAFKA_DIR", "/tmp/chotdon-kafka"))
    port = kafka_broker.rsplit(":", 1)[1]
    if not (data / "kafka.pid").exists() or os.environ.get("CHOTDON_KAFKA_PORT", "9092") != port:
        pytest.skip("the broker was not started by deploy/kafka/broker: it cannot be restarted")
    return Service("kafka/broker", {}, data / "kafka.pid")


@dataclass
class Run:
    worker: ChildProcess
    sink: ChildProcess
    feed: ChildProcess
    noise: dict[str, list[str]]  # per process, the lines it logged from the fault until the end


def page_shows(port: int, catalogs: list[Catalog]) -> dict[str, tuple[int, int, int]]:
    """Per stream, what the (public) page shows: orders, revenue and how many orders it lists."""
    shown = {}
    for catalog in catalogs:
        url = f"http://127.0.0.1:{port}/api/streams/{catalog.stream}/snapshot"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                page = json.load(response)
        except OSError:  # not serving yet, or not this stream yet
            return {}
        summary = page["summary"]
        shown[catalog.stream] = (summary["orders"], summary["revenue"], len(page["orders"]))
    return shown


def run_with_fault(
    expected: Expected, redis_url: str, tmp_path: Path, fault: Callable[[], None]
) -> Run:
    """The session through Kafka, a worker and the sink into Redis, with `fault` done once a
    quarter of the orders are in Redis; returns when Redis holds the embedded mode's result."""
    prefix = new_prefix("svc")
    make_topics(prefix, PARTITIONS)
    worker = WorkerProcess(prefix, PARTITIONS, f"{prefix}-worker", tmp_path / "worker.log")
    sink = SinkProcess(prefix, redis_url, tmp_path / "sink.log")
    port = free_port()
    feed = FeedProcess(prefix, redis_url, port, tmp_path / "feed.log")
    children = [worker.start(), sink.start(), feed.start()]
    page = {
        stream: (orders, revenue, sum(s == stream for s, _ in expected.orders))
        for stream, (orders, revenue) in expected.figures.items()
    }

    def holds() -> tuple[Any, Figures]:
        for child in children:
            child.check_alive()
        return redis_holds(redis_url, prefix, expected.catalogs)

    try:
        # the comments start once the worker has its partitions, so that they meet a pipeline
        # that keeps up, and the fault comes in the middle of them
        def assigned() -> bool:
            worker.check_alive()
            return ASSIGNED in worker.log()

        wait_until(assigned, 60, "the worker")
        ingest = threading.Thread(
            target=produce_records,
            args=(prefix, expected.catalogs, expected.records, SPEED),
            daemon=True,
        )
        ingest.start()
        wait_until(lambda: len(holds()[0]) >= len(expected.orders) // 4, 60, "a quarter of orders")
        assert ingest.is_alive(), "the fault must come while comments are coming"
        before = {c.log_path.stem: len(c.log().splitlines()) for c in children}
        fault()
        ingest.join(90)
        assert not ingest.is_alive(), "ingest did not finish"
        try:
            wait_until(
                lambda: holds() == (expected.orders, expected.figures),
                90,
                f"Redis to hold the embedded mode's {len(expected.orders)} orders and figures",
            )
        except AssertionError as exc:
            orders, figures = redis_holds(redis_url, prefix, expected.catalogs)
            logs = "\n".join(f"--- {c.log_path.name}\n{c.log()[-3000:]}" for c in children)
            raise AssertionError(
                f"{exc}: Redis has {len(orders)} orders, {figures}; "
                f"expected {expected.figures}\n{logs}"
            ) from None
        # the host's page, which followed Redis through the fault, shows the same
        try:
            wait_until(lambda: page_shows(port, expected.catalogs) == page, 30, "the page")
        except AssertionError as exc:
            shown = page_shows(port, expected.catalogs)
            log = feed.log()[-3000:]
            raise AssertionError(f"{exc}: shows {shown}, not {page}\n{log}") from None
        noise = {c.log_path.stem: c.log().splitlines()[before[c.log_path.stem] :] for c in children}
    finally:
        for child in children:
            child.stop()
        delete_topics(prefix)
    return Run(worker, sink, feed, noise)


def assert_quiet(run: Run) -> None:
    for name, logged in run.noise.items():
        shown = "\n".join([*logged[:40], "…", *logged[-20:]])
        alarms = [line for line in logged if "ERROR" in line or "WARNING" in line]
        print(
            f"{name}: {len(logged)} lines, {len(alarms)} errors and warnings logged from the fault"
            " until Redis was right"
        )
        assert len(alarms) < MAX_FAULT_ALARMS, f"{name}: {len(alarms)} errors/warnings\n{shown}"
        assert len(logged) < MAX_FAULT_LINES, f"{name}: {len(logged)} lines\n{shown}"


def test_a_redis_killed_and_restarted_empty_is_rebuilt_from_kafka(
    kafka_broker: str, redis_server: tuple[str, Service], expected: Expected, tmp_path: Path
) -> None:
    url, server = redis_server

    def fault() -> None:
        server.kill()
        time.sleep(OUTAGE_S)
        server.run("start")

    run = run_with_fault(expected, url, tmp_path, fault)
    assert "lost data" in run.sink.log(), run.sink.log()[-3000:]
    assert_quiet(run)


def test_a_kafka_broker_killed_and_restarted_loses_and_doubles_nothing(
    kafka_broker: str, redis_server: tuple[str, Service], expected: Expected, tmp_path: Path
) -> None:
    broker = the_broker(kafka_broker)

    def fault() -> None:
        broker.kill()
        time.sleep(OUTAGE_S)
        broker.run("start")

    run = run_with_fault(expected, redis_server[0], tmp_path, fault)
    assert "lost data" not in run.sink.log(), run.sink.log()[-3000:]
    assert_quiet(run)
