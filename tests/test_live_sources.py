"""`chotdon run --source facebook:ID --source youtube:ID`: one process takes a multi-platform live
from the platforms (local fakes) to orders in the session's SQLite, each connector with its
checkpoint in that file; a restart neither loses nor doubles an order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chotdon.catalog import read_catalog_document
from chotdon.records import decode
from stream_jobs.live_sources import LiveSourceError, build_connector
from tests.commands import chotdon
from tests.fakes import shopee_api
from tests.fakes.facebook_graph import TOKEN, FakeGraph, comment, graph_fixture  # noqa: F401
from tests.fakes.shopee_api import FakeShopee
from tests.fakes.youtube_api import API_KEY, FakeYouTube, chat_ended, text_message

T0 = 1_795_737_600
SHOPEE_ENV = {
    "SHOPEE_PARTNER_ID": "1",
    "SHOPEE_PARTNER_KEY": "k",
    "SHOPEE_ACCESS_TOKEN": "t",
    "SHOPEE_USER_ID": "2",
}
STREAM = "kim-an-oi"


@pytest.fixture
async def youtube() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.close()


async def chotdon_run(
    db: Path, graph: FakeGraph, youtube: FakeYouTube, *sources: str
) -> tuple[int, str]:
    env = {
        **os.environ,
        "FACEBOOK_ACCESS_TOKEN": TOKEN,
        "CHOTDON_FACEBOOK_GRAPH_URL": graph.base_url,
        "YOUTUBE_API_KEY": API_KEY,
        "CHOTDON_YOUTUBE_API_URL": youtube.url,
    }
    process = await asyncio.create_subprocess_exec(
        *chotdon("run", "--catalog", "kim-an"),
        *(f"--source={s}" for s in sources),
        "--db",
        str(db),
        "--no-serve",
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


def confirmed(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT comment_id FROM comments WHERE stream = ?", (STREAM,))
        comments = [r[0] for r in rows]
        assert len(comments) == len(set(comments))
        events = conn.execute("SELECT count(*) FROM order_events WHERE kind = 'confirmed'")
        states = conn.execute("SELECT connector FROM connector_states").fetchall()
    platforms = {c.split(":")[0] for c in comments}
    return {
        "comments": len(comments),
        "platforms": len(platforms),
        "orders": events.fetchone()[0],
        "states": len(states),
    }


async def test_one_command_reads_two_platforms_into_one_stock_and_resumes(
    graph: FakeGraph, youtube: FakeYouTube, tmp_path: Path
) -> None:
    db = tmp_path / "session.db"
    graph.add(
        comment("f1", "chốt 2 hộp ổi", T0, user="1001", name="Lan"),
        comment("f2", "lấy 1 chai nước ép", T0 + 1, user="1002", name="Hoa"),
    )
    graph.end_at(1)
    youtube.messages = [
        text_message("y1", "chốt 3 hộp ổi", T0 + 2, "UCyt1", "Minh"),
        chat_ended("end", T0 + 3),
    ]
    sources = (f"facebook:{graph.video_id}", f"youtube:{youtube.video_id}")
    code, err = await chotdon_run(db, graph, youtube, *sources)
    assert code == 0, err
    assert confirmed(db) == {"comments": 3, "platforms": 2, "orders": 3, "states": 2}

    # The lives go on (the chat ended on YouTube only): a restart reads the new comments once.
    graph.status = "LIVE"
    graph.end_poll = None
    graph.add(comment("f3", "chốt 1 hộp quà", T0 + 9, user="1003", name="Tú"))
    graph.end_at(graph.polls + 1)
    code, err = await chotdon_run(db, graph, youtube, sources[0])
    assert code == 0, err
    assert confirmed(db) == {"comments": 4, "platforms": 2, "orders": 4, "states": 2}


def test_a_live_source_names_its_stream_and_target() -> None:
    env = {"YOUTUBE_API_KEY": "k"}
    connector = build_connector("youtube:abc@kim-an-oi", ["kim-an-oi", "phu-xuyen"], env)
    assert (connector.platform, connector.stream) == ("youtube", "kim-an-oi")
    for wrong, why in [
        ("youtube:abc", "name the stream"),
        ("youtube:abc@nowhere", "no catalog"),
        ("shopee:not-a-number@kim-an-oi", "number"),
        ("facebook:@kim-an-oi", "missing"),
    ]:
        with pytest.raises(LiveSourceError, match=why):
            build_connector(wrong, ["kim-an-oi", "phu-xuyen"], {**env, **SHOPEE_ENV})
    with pytest.raises(LiveSourceError, match="SHOPEE_ACCESS_TOKEN"):
        build_connector("shopee:123@kim-an-oi", ["kim-an-oi"], {"SHOPEE_PARTNER_ID": "1"})


async def test_the_connectors_metrics_are_on_the_sessions_metrics_page(
    graph: FakeGraph, tmp_path: Path
) -> None:
    graph.add(comment("f1", "chốt 2 hộp ổi", T0, user="1001", name="Lan"))
    env = {
        **os.environ,
        "FACEBOOK_ACCESS_TOKEN": TOKEN,
        "CHOTDON_FACEBOOK_GRAPH_URL": graph.base_url,
    }
    process = await asyncio.create_subprocess_exec(
        *chotdon("run", "--catalog", "kim-an"),
        f"--source=facebook:{graph.video_id}", "--db", str(tmp_path / "s.db"), "--port", "0",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        url = ""
        while not url.endswith("/metrics"):
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert line, "the run ended before serving"
            url = line.decode().split(": ", 1)[-1].strip()
        wanted = 'chotdon_ingest_comments_total{platform="facebook",stream="kim-an-oi"} 1.0'
        deadline = time.monotonic() + 30  # the connector's first poll, on a busy machine
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while True:
                async with http.get(url) as response:
                    page = await response.text()
                if wanted in page or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
        assert wanted in page and "chotdon_comments_total" in page
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def test_the_product_pinned_on_shopee_is_what_a_bare_order_buys(tmp_path: Path) -> None:
    """`chotdon run --source shopee:SESSION`: the catalog names two products' Shopee items; a
    comment naming no product buys the one pinned on screen when it was written."""
    document = read_catalog_document("kim-an")
    items = {"A2": "22512345678", "A3": "22512345679"}
    for product in document["products"]:
        if product["code"] in items:
            product["platform_ids"] = {"shopee": items[product["code"]]}
    catalog = tmp_path / "kim-an.json"
    catalog.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    fake = FakeShopee()
    await fake.start()
    env = {
        **os.environ,
        "SHOPEE_PARTNER_ID": str(shopee_api.PARTNER_ID),
        "SHOPEE_PARTNER_KEY": shopee_api.PARTNER_KEY,
        "SHOPEE_ACCESS_TOKEN": shopee_api.ACCESS_TOKEN,
        "SHOPEE_USER_ID": str(shopee_api.USER_ID),
        "CHOTDON_SHOPEE_API_URL": fake.url,
    }
    db = tmp_path / "s.db"

    async def read(api: str, n: int = 1) -> None:
        target = fake.calls.count(api) + n
        for _ in range(300):  # 30 s at most
            if fake.calls.count(api) >= target:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"{api} not called: {fake.calls[-5:]}")

    fake.show_item = 22512345679  # the juice (A3) is on screen
    process = await asyncio.create_subprocess_exec(
        *chotdon("run", "--catalog", str(catalog)),
        f"--source=shopee:{fake.session_id}", "--db", str(db), "--no-serve",
        env=env, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await read("get_show_item")
        fake.post(1, "chốt 2 nha shop", user_id=501, username="Lan")
        await read("get_latest_comment_list", 2)
        fake.show_item = 22512345678  # now guavas by the kg (A2)
        await read("get_show_item")
        fake.post(2, "lấy 3 nhé", user_id=502, username="Hoa")
        await read("get_latest_comment_list", 2)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        await fake.close()
    assert process.returncode == 0, err.decode()
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT record FROM orders WHERE stream = ?", (STREAM,)).fetchall()
    bought = sorted(
        (line.sku, line.qty)
        for (raw,) in rows
        for line in decode(raw).lines  # type: ignore[union-attr]
    )
    assert bought == [("NUOC-OI", 2), ("OI-KG", 3)]
