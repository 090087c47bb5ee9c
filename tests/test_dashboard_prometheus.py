"""Every panel of the Grafana dashboard shows data from a real run.

Debian's Prometheus scrapes the processes of a distributed session on 127.0.0.1 (a worker, the
Redis sink, the feed with a page open, a Facebook connector polling a local Graph API, a YouTube
connector renewing its OAuth token at a local Google, and an embedded runner replaying the demo
at 20x for the panels only it feeds), configured with deploy/prometheus/prometheus.yml and its
rules, only the targets changed. The demo session goes through the distributed pipeline, then
each panel's PromQL is asked of Prometheus: a panel whose query returns nothing (or only NaN)
fails the test.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from chotdon import topics
from tests.commands import chotdon
from tests.fakes import youtube_api
from tests.fakes.facebook_graph import TOKEN, Failure, FakeGraph, comment
from tests.ports import free_port
from tests.redis_helpers import (  # noqa: F401  (fixtures)
    KAFKA,
    REDIS_URL,
    kafka_fixture,
    prefix_fixture,
    produce_raw,
    redis_fixture,
)

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "chotdon-dashboard.json"
SESSION = resources.files("chotdon") / "data" / "demo_session.jsonl"
STREAM = "kim-an-oi"  # the demo session's stream, and the connector's
DEADLINE_S = 150.0  # for every panel to show data (the worker alone takes ~20 s to start)


class Processes:
    """The session's processes, each logging to a file; all stopped with SIGTERM at the end."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        with open(self.logs / f"{name}.log", "wb") as log:
            self.running[name] = subprocess.Popen(
                list(args),
                cwd=ROOT,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def check(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None and name != "ingest":
                raise AssertionError(f"{name} exited {proc.returncode}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.running.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def prometheus_config(targets: dict[str, list[str]], tmp: Path) -> Path:
    """The shipped config with the test's targets and a 1 s scrape interval."""
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / "prometheus" / "rules.yml")]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(targets), "a scrape job the test does not start a process for"
    for name, job in jobs.items():
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": targets[name]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of every panel, for all streams."""
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [
        (panel["title"], target["expr"].replace("$stream", ".*"))
        for panel in doc["panels"]
        if panel["type"] != "row"
        for target in panel["targets"]
    ]


async def answers(http: aiohttp.ClientSession, base: str, query: str) -> bool:
    """The query returns at least one number (not NaN); False while Prometheus starts (not
    listening yet, then 503 until its storage is open)."""
    try:
        async with http.get(f"{base}/api/v1/query", params={"query": query}) as response:
            body = None if response.status == 503 else await response.json()
    except aiohttp.ClientConnectionError:
        body = None
    if body is None:
        await asyncio.sleep(0.5)
        return False
    assert body["status"] == "success", (query, body)
    result = body["data"]["result"]
    values = [result] if body["data"]["resultType"] == "scalar" else [r["value"] for r in result]
    return any(not math.isnan(float(value)) for _, value in values)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    """A live Facebook video with comments arriving now, a malformed one, and a 502 once."""
    fake = FakeGraph()
    now = int(time.time())
    texts = ["chốt 2 hộp ổi", "lấy 1 cân ổi", "còn hàng ko shop", "+1"]
    fake.add(*(comment(f"{fake.video_id}_{n}", texts[n % 4], now - 30 + n) for n in range(30)))
    fake.add({"id": f"{fake.video_id}_bad", "created_time": "yesterday"})
    fake.fail(Failure("502"))
    fake.usage = 40
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def youtube() -> AsyncIterator[youtube_api.FakeYouTube]:
    """A live YouTube chat; its OAuth token is renewed at the fake's token endpoint."""
    fake = youtube_api.FakeYouTube()
    fake.messages = [youtube_api.text_message("m1", "chốt 1 hộp", time.time())]
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


async def test_every_panel_shows_data_from_a_distributed_session(
    kafka: str,
    redis: Any,
    prefix: str,
    graph: FakeGraph,
    youtube: youtube_api.FakeYouTube,
    tmp_path: Path,
) -> None:
    prometheus = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
    if not Path(prometheus).exists():
        pytest.fail("prometheus is not installed: run deploy/setup test (as root)")
    ports = {
        name: free_port()
        for name in ("worker", "sink", "feed", "embedded", "connector", "youtube", "prometheus")
    }
    common = ["--bootstrap", KAFKA, "--topic-prefix", prefix]
    procs = Processes(tmp_path)
    page: asyncio.Task[None] | None = None
    try:
        procs.start(
            "prometheus",
            prometheus,
            f"--config.file={prometheus_config(targets(ports), tmp_path)}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
        )
        procs.start(
            "worker",
            *chotdon("worker", *common, "--partitions", "2", "--app-id", f"{prefix}-worker"),
            "--checkpoint",
            "0.5",
            "--metrics",
            f"127.0.0.1:{ports['worker']}",
        )
        procs.start(
            "sink",
            *chotdon("sink", "redis", *common, "--redis", REDIS_URL),
            "--metrics",
            f"127.0.0.1:{ports['sink']}",
        )
        procs.start(
            "feed",
            *chotdon("feed", *common, "--redis", REDIS_URL, "--catalog", "kim-an"),
            "--port",
            str(ports["feed"]),
        )
        procs.start(
            "embedded",
            *chotdon("run", "--catalog", "kim-an", "--source", str(SESSION), "--speed", "20"),
            "--db",
            str(tmp_path / "embedded.db"),
            "--port",
            str(ports["embedded"]),
        )
        procs.start(
            "connector",
            *chotdon("ingest", "facebook", "--stream", STREAM, "--video", graph.video_id),
            *("--to", "kafka", "--catalog", "kim-an", *common, "--interval", "1"),
            *("--checkpoint", str(tmp_path / "facebook.json")),
            *("--metrics", f"127.0.0.1:{ports['connector']}"),
            env={"FACEBOOK_ACCESS_TOKEN": TOKEN, "CHOTDON_FACEBOOK_GRAPH_URL": graph.base_url},
        )
        procs.start(
            "youtube",
            *chotdon("ingest", "youtube", "--stream", youtube.video_id, "--to", "stdout"),
            *("--checkpoint", str(tmp_path / "youtube.json")),
            *("--metrics", f"127.0.0.1:{ports['youtube']}"),
            env={
                "YOUTUBE_CLIENT_ID": youtube_api.CLIENT_ID,
                "YOUTUBE_CLIENT_SECRET": youtube_api.CLIENT_SECRET,
                "YOUTUBE_REFRESH_TOKEN": youtube_api.REFRESH_TOKEN,
                "CHOTDON_YOUTUBE_API_URL": youtube.url,
                "CHOTDON_GOOGLE_TOKEN_URL": youtube.url + "/token",
                "CHOTDON_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
            },
        )
        base = f"http://127.0.0.1:{ports['prometheus']}"
        deadline = time.monotonic() + DEADLINE_S
        async with aiohttp.ClientSession() as http:
            # the session starts once Prometheus has seen every process idle: rates need a
            # sample from before the work
            scraped = f"count(up == 1) == {len(ports)}"
            while not await answers(http, base, scraped):
                assert time.monotonic() < deadline, "targets not up:\n" + procs.log("prometheus")
                procs.check()
                await asyncio.sleep(0.5)
            procs.start(
                "ingest",
                *chotdon("ingest", "--source", str(SESSION), "--catalog", "kim-an", *common),
            )
            dead_letter = [b"{not json"]
            await produce_raw(kafka, topics.COMMENTS.name(prefix), dead_letter, STREAM.encode())
            page = asyncio.create_task(open_page(f"http://127.0.0.1:{ports['feed']}"))

            empty = panel_queries()
            while empty and time.monotonic() < deadline:
                await asyncio.sleep(2)
                procs.check()
                empty = [(t, q) for t, q in empty if not await answers(http, base, q)]
        assert not empty, "panels without data:\n" + "\n".join(f"{t}: {q}" for t, q in empty)
        assert procs.running["ingest"].wait(30) == 0, procs.log("ingest")
    finally:
        if page is not None:
            page.cancel()
        procs.stop()


def targets(ports: dict[str, int]) -> dict[str, list[str]]:
    """Prometheus job -> the test's processes serving it."""
    at = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    return {
        "chotdon-feed": [at["feed"]],
        "chotdon-worker": [at["worker"]],
        "chotdon-sink": [at["sink"]],
        "chotdon-embedded": [at["embedded"]],
        "chotdon-connectors": [at["connector"], at["youtube"]],
        "prometheus": [at["prometheus"]],
    }


async def open_page(feed: str) -> None:
    """A host's page: the feed's event stream, read until cancelled (retried while it starts)."""
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{feed}/api/streams/{STREAM}/events") as response:
                    async for _ in response.content:
                        pass
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
