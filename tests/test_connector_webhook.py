"""The generic webhook: HMAC-signed JSON pushes of comments and viewer counts, per source."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, ViewerCount
from ingest.connectors.base import ConnectorRecord
from ingest.connectors.runner import Outcome, UsageError, run_connector
from ingest.connectors.webhook import WebhookConnector, build, parse_secrets
from tests.fakes.webhook_client import post, push, sign

T0 = 1_795_737_600.0
SECRETS = {"shopA": "bí-mật-1", "toolB": "secret-2"}
LABELS = {"platform": "webhook", "stream": "all"}


class Running:
    def __init__(self, max_bytes: int = 1 << 20) -> None:
        self.connector = WebhookConnector(
            SECRETS, "127.0.0.1", 0, max_bytes=max_bytes, clock=lambda: T0
        )
        self.metrics = ConnectorMetrics()
        self.records: list[ConnectorRecord] = []
        self.logs: list[str] = []
        self.stop = asyncio.Event()
        self.task: asyncio.Task[Outcome] | None = None

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)

    def url(self, source: str = "shopA") -> str:
        return f"http://127.0.0.1:{self.connector.port}/ingest/{source}"

    async def settled(self, http: aiohttp.ClientSession) -> None:
        """Once an empty push is answered, everything before it is counted (one queue)."""
        assert await push(http, self.url(), SECRETS["shopA"], []) == (
            202,
            {"accepted": 0, "duplicates": 0, "rejected": []},
        )

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, {**LABELS, **labels}) or 0.0

    async def start(self) -> None:
        run = run_connector(
            self.connector,
            self.emit,
            stop=self.stop,
            metrics=self.metrics,
            log=self.logs.append,
        )
        self.task = asyncio.create_task(run)
        await asyncio.wait_for(self.connector.started.wait(), 10)

    async def close(self) -> Outcome:
        self.stop.set()
        assert self.task is not None
        return await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def hook() -> AsyncIterator[Running]:
    running = Running()
    await running.start()
    yield running
    await running.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def item(cid: str | int, text: str | int, **extra: Any) -> dict[str, Any]:
    return {"stream": "kim-an-oi", "comment_id": cid, "user_id": "u7", "text": text, **extra}


async def test_a_signed_comment_is_accepted_and_emitted(
    hook: Running, http: aiohttp.ClientSession
) -> None:
    payload = item("c1", "chốt 2 hộp A1", user_name="Mai Phạm", ts=T0 + 3)
    status, body = await push(http, hook.url(), SECRETS["shopA"], payload)

    assert (status, body) == (202, {"accepted": 1, "duplicates": 0, "rejected": []})
    assert hook.records == [
        Comment(
            stream="kim-an-oi",
            comment_id="shopA:c1",
            user_id="u7",
            user_name="Mai Phạm",
            text="chốt 2 hộp A1",
            ts=T0 + 3,
            platform="shopA",
        )
    ]


async def test_a_batch_of_comments_viewers_and_deletions(
    hook: Running, http: aiohttp.ClientSession
) -> None:
    batch = [
        item("c1", "lấy 1 cái size M"),
        {"stream": "kim-an-oi", "viewers": 812, "ts": T0},
        item(42, "chốt A2", user_id=1001),  # numeric ids are read as text
        {"stream": "kim-an-oi", "comment_id": "c1", "user_id": "u7", "deleted": True},
    ]
    status, body = await push(http, hook.url("toolB"), SECRETS["toolB"], batch)

    assert status == 202 and body["accepted"] == 4
    assert hook.records[1] == ViewerCount(stream="kim-an-oi", viewers=812, ts=T0, platform="toolB")
    comments = [r for r in hook.records if isinstance(r, Comment)]
    assert [(c.comment_id, c.deleted, c.ts) for c in comments] == [
        ("toolB:c1", False, T0),  # no ts: the time it arrived
        ("toolB:42", False, T0),
        ("toolB:c1", True, T0),
    ]


async def test_duplicates_by_source_and_comment_id(
    hook: Running, http: aiohttp.ClientSession
) -> None:
    await push(http, hook.url(), SECRETS["shopA"], item("c1", "chốt"))
    status, body = await push(http, hook.url(), SECRETS["shopA"], [item("c1", "chốt")])
    assert (status, body["accepted"], body["duplicates"]) == (202, 0, 1)
    # Another source's c1 is another comment.
    status, body = await push(http, hook.url("toolB"), SECRETS["toolB"], item("c1", "chốt"))
    assert body["accepted"] == 1
    assert [r.comment_id for r in hook.records if isinstance(r, Comment)] == [
        "shopA:c1",
        "toolB:c1",
    ]
    assert hook.value("chotdon_ingest_duplicates_total") == 1


async def test_malformed_items_are_refused_with_reasons_the_rest_accepted(
    hook: Running, http: aiohttp.ClientSession
) -> None:
    batch = [
        item("c1", "chốt 1"),
        {"stream": "kim-an-oi", "user_id": "u1", "text": "gọi 0912345678 nhé"},
        item("c3", "ok", ts="hôm nay"),
        {"stream": "kim-an-oi", "viewers": -3},
        "không phải object",
        item("c6", 7),
    ]
    status, body = await push(http, hook.url(), SECRETS["shopA"], batch)

    assert status == 400
    assert body["accepted"] == 1
    assert [(r["index"], r["error"]) for r in body["rejected"]] == [
        (1, "'comment_id' is missing"),
        (2, "'ts' must be unix seconds"),
        (3, "'viewers' must be a non-negative integer"),
        (4, "expected a JSON object"),
        (5, "'text' must be a string"),
    ]
    assert [r.comment_id for r in hook.records if isinstance(r, Comment)] == ["shopA:c1"]
    assert hook.value("chotdon_ingest_malformed_total") == 5
    logs = "\n".join(hook.logs)
    assert "0912***678" in logs and "0912345678" not in logs


async def test_bad_signatures_and_unknown_sources_are_refused_and_counted(
    hook: Running, http: aiohttp.ClientSession
) -> None:
    body = json.dumps(item("c1", "chốt")).encode()
    attempts = [
        (hook.url(), {"X-Chotdon-Signature": sign("đoán bừa", body)}),
        (hook.url(), {"X-Chotdon-Signature": sign(SECRETS["toolB"], body)}),  # another's secret
        (hook.url(), {}),
        (hook.url("nobody"), {"X-Chotdon-Signature": sign(SECRETS["shopA"], body)}),
    ]
    for url, headers in attempts:
        status, answer = await post(http, url, body, headers)
        assert (status, answer) == (401, {"error": "bad signature"})

    await hook.settled(http)
    assert hook.records == []
    assert hook.value("chotdon_ingest_errors_total", kind="signature") == 4


async def test_invalid_json_is_a_400(hook: Running, http: aiohttp.ClientSession) -> None:
    body = b'{"stream": "kim-an-oi", '
    headers = {"X-Chotdon-Signature": sign(SECRETS["shopA"], body)}
    status, answer = await post(http, hook.url(), body, headers)

    assert status == 400 and answer["error"].startswith("invalid JSON")
    assert hook.value("chotdon_ingest_malformed_total") == 1


async def test_an_oversized_body_is_a_413(http: aiohttp.ClientSession) -> None:
    running = Running(max_bytes=2048)
    await running.start()
    try:
        batch = [item(f"c{n}", "chốt 2 hộp A1 " * 5) for n in range(40)]
        status, _ = await push(http, running.url(), SECRETS["shopA"], batch)
        assert status == 413
        assert running.records == []
    finally:
        assert (await running.close()).reason == "stopped"


async def test_stopping_closes_the_server(http: aiohttp.ClientSession) -> None:
    running = Running()
    await running.start()
    url = running.url()
    assert (await running.close()) == Outcome("stopped")
    with pytest.raises(aiohttp.ClientConnectionError):
        await push(http, url, SECRETS["shopA"], item("c1", "chốt"))


def test_secrets_come_from_the_environment() -> None:
    assert parse_secrets(" shopA=s1, toolB=s=2 ,") == {"shopA": "s1", "toolB": "s=2"}
    with pytest.raises(UsageError):
        parse_secrets("shopA")
    args = argparse.Namespace(listen=("127.0.0.1", 0), max_bytes=1024)
    with pytest.raises(UsageError, match="CHOTDON_WEBHOOK_SECRETS"):
        build(args, {})
    connector = build(args, {"CHOTDON_WEBHOOK_SECRETS": "shopA=s1"})
    assert connector.secrets == {"shopA": "s1"} and connector.max_bytes == 1024
