"""The feed's API under hostile requests: a 4xx that says what is wrong and no traceback per
request; an action id re-used for a different action is a conflict, not ok-and-nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chotdon.catalog import load_catalog
from chotdon.prometheus import PipelineMetrics
from chotdon.records import AdjustStock, Approve, Comment
from ingest.sources import RecordsSource
from sinks.feed.hub import FeedHub
from sinks.feed.server import create_app
from sinks.feed.view import StreamView
from sinks.sqlite_store import SQLiteStore
from stream_jobs import ActionError
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.order_book import new_book
from stream_jobs.resolver import apply_action
from tests.test_feed_server import AUTH, STREAM, TOKEN, Recorder

Client = TestClient[Any, Any]


@pytest.fixture
async def api() -> AsyncIterator[Client]:
    hub = FeedHub({STREAM: StreamView.for_catalog(load_catalog("kim-an"))}, Recorder())
    async with TestClient(TestServer(create_app(hub, TOKEN, PipelineMetrics().registry))) as c:
        yield c


async def raw_request(api: Client, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response.split(b" ", 2)[1])
    return status, response.split(b"\r\n\r\n", 1)[1]


async def test_hostile_bodies_and_headers_are_4xx_with_a_message(
    api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"/api/streams/{STREAM}/stock"
    nested = b'{"sku": "OI-HOP", "delta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    deep = await api.post(url, data=nested, headers=AUTH)
    assert deep.status == 400 and (await deep.json())["error"] == "bad_json"
    huge = b'{"sku": "OI-HOP", "delta": 1' + b"0" * 400 + b"}"
    digits = await api.post(url, data=huge, headers=AUTH)
    assert digits.status == 400 and (await digits.json())["error"] == "bad_delta"
    not_utf8 = (
        f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".encode()
        + b"Authorization: Bearer \xff\xfe\xc3\r\nContent-Type: application/json\r\n"
    )
    status, body = await raw_request(api, not_utf8, b'{"sku": "OI-HOP", "delta": 1}')
    assert status == 401 and b"unauthorized" in body
    assert "Traceback" not in capsys.readouterr().err


def test_an_action_id_used_for_a_different_action_is_refused() -> None:
    catalog = load_catalog("kim-an")
    book = new_book(catalog)
    first = AdjustStock(stream=STREAM, sku="NUOC-OI", delta=-5, ts=10.0, action_id="a1")
    book, _ = apply_action(book, first, catalog)
    retry = AdjustStock(stream=STREAM, sku="NUOC-OI", delta=-5, ts=12.0, action_id="a1")
    assert apply_action(book, retry, catalog)[1] == []  # the same action again: once
    other = AdjustStock(stream=STREAM, sku="NUOC-OI", delta=-50, ts=12.0, action_id="a1")
    with pytest.raises(ActionError, match="already used"):
        apply_action(book, other, catalog)
    approve = Approve(stream=STREAM, review_id="c9#0", sku="OI-HOP", qty=1, action_id="a1")
    with pytest.raises(ActionError, match="already used"):
        apply_action(book, approve, catalog)


def test_through_the_runner_a_reused_action_id_is_a_conflict(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.db")
    runner = EmbeddedRunner([load_catalog("kim-an")], store)
    records = [Comment(stream=STREAM, comment_id="c1", user_id="u", text="chốt 1 ổi", ts=1.0)]

    async def main() -> None:
        task = asyncio.create_task(runner.run(RecordsSource("t", records), keep_running=True))
        first = AdjustStock(stream=STREAM, sku="NUOC-OI", delta=-5, action_id="x")
        await runner.submit(first)
        assert await runner.submit(first) == []
        with pytest.raises(ActionError):
            await runner.submit(AdjustStock(stream=STREAM, sku="NUOC-OI", delta=3, action_id="x"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    store.close()
