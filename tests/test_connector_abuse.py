"""Push connectors under hostile input, end to end into `chotdon run`: half an emoji, values out
of range and a stalled reader never take the `chotdon ingest ... | chotdon run` pipeline down."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from chotdon.records import Comment, encode
from ingest.connectors.base import ConnectorRecord
from ingest.connectors.runner import run_connector
from tests.commands import chotdon
from tests.fakes.facebook_graph import FakeGraph
from tests.fakes.facebook_graph import comment as fb_comment
from tests.fakes.tiktok_bridge import FakeBridge, chat, room_user
from tests.fakes.webhook_client import post, push, sign
from tests.ports import free_port
from tests.test_connector_facebook import T0 as FB_T0
from tests.test_connector_facebook import cid as fb_cid
from tests.test_connector_facebook import live as fb_live
from tests.test_embedded import ROOT

SECRET = "bí-mật"
STREAM = "kim-an-oi"
HALF_EMOJI = '"chốt 2 hộp ổi \\ud83d"'  # a JSON escape of a lone high surrogate


@dataclass
class Pipeline:
    """`chotdon ingest PLATFORM | chotdon run --source -`, both real processes."""

    ingest: subprocess.Popen[bytes]
    run: subprocess.Popen[bytes] | None
    port: int
    db: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def finish(self) -> tuple[str, str]:
        """SIGTERM the connector (as systemd would); the run ends with its input."""
        self.ingest.send_signal(signal.SIGTERM)
        assert self.ingest.wait(timeout=20) == 0
        assert self.run is not None
        assert self.run.wait(timeout=30) == 0
        assert self.ingest.stderr is not None and self.run.stderr is not None
        return self.ingest.stderr.read().decode(), self.run.stderr.read().decode()

    def comments(self) -> dict[str, str]:
        with sqlite3.connect(self.db) as con:
            rows = con.execute("SELECT comment_id, record FROM comments").fetchall()
        return {cid: json.loads(data)["text"] for cid, data in rows}


def start(tmp_path: Path, platform: str, *args: str, into_run: bool = True) -> Pipeline:
    port = free_port()
    env = {**os.environ, "CHOTDON_WEBHOOK_SECRETS": f"shop={SECRET}"}
    ingest = subprocess.Popen(
        chotdon(
            "ingest", platform, *args, "--listen", f"127.0.0.1:{port}",
            "--checkpoint", str(tmp_path / "cp.json"),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    run = None
    db = tmp_path / "s.db"
    if into_run:
        run = subprocess.Popen(
            chotdon("run", "--catalog", "kim-an", "--db", str(db), "--no-serve", "--exit-at-end"),
            stdin=ingest.stdout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return Pipeline(ingest, run, port, db)
        assert ingest.poll() is None, ingest.stderr.read() if ingest.stderr else ""
        time.sleep(0.05)
    raise AssertionError("the connector never listened")


@pytest.fixture
def stopped() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def webhook_body(*items: str) -> bytes:
    return ("[" + ",".join(items) + "]").encode()


def webhook_item(cid: str, text_json: str, **extra: object) -> str:
    fields = {"stream": STREAM, "comment_id": cid, "user_id": cid, "ts": 1_795_737_600, **extra}
    return json.dumps(fields)[:-1] + f', "text": {text_json}}}'


def test_webhook_half_an_emoji_and_numbers_out_of_range_into_chotdon_run(
    tmp_path: Path, stopped: list[subprocess.Popen[bytes]]
) -> None:
    pipeline = start(tmp_path, "webhook")
    stopped.extend([pipeline.ingest, pipeline.run])  # type: ignore[list-item]

    async def send() -> list[tuple[int, object]]:
        answers = []
        async with aiohttp.ClientSession() as http:
            url = pipeline.url("/ingest/shop")
            for _ in range(3):  # the pusher's retries of the same request
                body = webhook_body(webhook_item("c1", HALF_EMOJI))
                headers = {"X-Chotdon-Signature": sign(SECRET, body)}
                answers.append(await post(http, url, body, headers))
            big = {"stream": STREAM, "viewers": 2**63, "ts": 1_795_737_600}
            answers.append(await push(http, url, SECRET, [big]))
            huge = {"stream": STREAM, "comment_id": "c2", "user_id": "u2", "text": "x" * 900_000}
            answers.append(await push(http, url, SECRET, [huge]))
            ok = {"stream": STREAM, "comment_id": "c3", "user_id": "u3", "text": "A3 x2"}
            answers.append(await push(http, url, SECRET, [ok]))
        return answers

    answers = asyncio.run(send())
    assert [status for status, _ in answers] == [202] * 6
    assert [a["accepted"] for _, a in answers] == [1, 0, 0, 0, 0, 1]  # type: ignore[index]
    ingest_log, run_log = pipeline.finish()
    assert pipeline.comments() == {"shop:c1": "chốt 2 hộp ổi \ufffd", "shop:c3": "A3 x2"}
    assert "UnicodeEncodeError" not in ingest_log + run_log
    assert ingest_log.count("out of bounds") == 2


def test_tiktok_half_an_emoji_into_chotdon_run(
    tmp_path: Path, stopped: list[subprocess.Popen[bytes]]
) -> None:
    pipeline = start(tmp_path, "tiktok", "--stream", STREAM)
    stopped.extend([pipeline.ingest, pipeline.run])  # type: ignore[list-item]

    async def send() -> None:
        bridge = FakeBridge(pipeline.url(""))
        await bridge.connect()
        frame = json.dumps(chat(1, "PLACEHOLDER")).replace('"PLACEHOLDER"', HALF_EMOJI)
        assert bridge._ws is not None
        await bridge._ws.send_str(frame)
        await bridge.send(room_user(2**63), chat(2, "A3 x2", user=2))
        status, _ = await bridge.post(frame.encode(), headers={"Content-Type": "application/json"})
        assert status < 500
        await asyncio.sleep(0.5)
        await bridge.drop()

    asyncio.run(send())
    ingest_log, run_log = pipeline.finish()
    texts = sorted(pipeline.comments().values())
    assert texts == ["A3 x2", "chốt 2 hộp ổi \ufffd"], ingest_log + run_log
    assert "UnicodeEncodeError" not in ingest_log


def test_a_connector_whose_reader_stalls_still_stops_on_sigterm(
    tmp_path: Path, stopped: list[subprocess.Popen[bytes]]
) -> None:
    """Nobody reads the connector's stdout: its pipe fills, yet SIGTERM stops it in seconds."""
    pipeline = start(tmp_path, "webhook", into_run=False)
    stopped.append(pipeline.ingest)

    async def flood() -> None:
        async with aiohttp.ClientSession() as http:
            url = pipeline.url("/ingest/shop")
            for n in range(20):  # ~400 KB of records: far more than a pipe holds
                items = [
                    {
                        "stream": STREAM,
                        "comment_id": f"c{n}-{i}",
                        "user_id": "u",
                        "text": "x" * 2000,
                    }
                    for i in range(10)
                ]
                try:
                    await asyncio.wait_for(push(http, url, SECRET, items), 1)
                except TimeoutError:
                    return  # the connector is stalled on its output: as intended

    asyncio.run(flood())
    started = time.monotonic()
    pipeline.ingest.send_signal(signal.SIGTERM)
    code = pipeline.ingest.wait(timeout=20)
    assert time.monotonic() - started < 15
    assert code == 1  # records were left unwritten: not a clean stop, checkpoint not advanced
    assert pipeline.ingest.stderr is not None
    assert "output stalled" in pipeline.ingest.stderr.read().decode()


async def test_facebook_half_an_emoji_is_replaced_not_fatal() -> None:
    graph = FakeGraph()
    await graph.start()
    try:
        graph.add(
            fb_comment(fb_cid(1), "chốt 2 hộp ổi \ud83d", FB_T0), fb_comment(fb_cid(2), "A3", FB_T0)
        )
        stop = asyncio.Event()
        written: list[bytes] = []

        async def emit(record: ConnectorRecord) -> None:
            line = encode(record)  # as `--to stdout` and Kafka write it
            if isinstance(record, Comment):
                written.append(line)
            if len(written) == 2:
                stop.set()

        outcome = await asyncio.wait_for(
            run_connector(fb_live(graph), emit, stop=stop, log=lambda _m: None), 10
        )
    finally:
        await graph.stop()
    assert outcome.reason == "stopped"
    texts = [json.loads(line)["text"] for line in written]
    assert texts == ["chốt 2 hộp ổi \ufffd", "A3"]
