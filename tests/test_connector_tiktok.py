"""The TikTok bridge connector: a fake bridge pushes TikTok-Live-Connector events over the
WebSocket and HTTP POST endpoints, replaying history on every reconnect, into the shared runner."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, ViewerCount
from ingest.connectors.base import Backoff, Checkpoint, ConnectorRecord
from ingest.connectors.runner import Outcome, run_connector
from ingest.connectors.tiktok import TikTokBridgeConnector
from tests.fakes.tiktok_bridge import (
    T0_MS,
    FakeBridge,
    Generation,
    chat,
    gift,
    im_delete,
    msg_id,
    room_user,
    stream_end,
)

STREAM = "kim-an-oi"


class Session:
    """chotdon's listener run by the runner in the background, and a bridge talking to it."""

    def __init__(self, token: str | None = None, checkpoint: Checkpoint | None = None) -> None:
        self.connector = TikTokBridgeConnector(STREAM, "127.0.0.1", 0, token=token)
        self.records: list[ConnectorRecord] = []
        self.metrics = ConnectorMetrics()
        self.stop = asyncio.Event()
        self.logs: list[str] = []
        self.checkpoint = checkpoint
        self.task: asyncio.Task[Outcome] | None = None
        self.bridge = FakeBridge("", token=token)

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)

    async def start(self) -> FakeBridge:
        self.task = asyncio.create_task(
            run_connector(
                self.connector,
                self.emit,
                stop=self.stop,
                metrics=self.metrics,
                checkpoint=self.checkpoint,
                log=self.logs.append,
                backoff=Backoff(base=0.001, cap=0.01),
            )
        )
        await asyncio.wait_for(self.connector.started.wait(), 5)
        self.bridge.url = f"http://127.0.0.1:{self.connector.port}"
        return self.bridge

    async def outcome(self) -> Outcome:
        assert self.task is not None
        return await asyncio.wait_for(self.task, 5)

    @property
    def comments(self) -> list[Comment]:
        return [r for r in self.records if isinstance(r, Comment)]

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(
            name, {"platform": "tiktok", "stream": STREAM, **labels}
        )
        return value or 0.0

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                await asyncio.sleep(0.001)

        await asyncio.wait_for(wait(), 5)


@pytest.fixture
async def session() -> AsyncIterator[Session]:
    session = Session()
    yield session
    session.stop.set()
    if session.task is not None:
        await asyncio.wait_for(session.task, 5)


def ids(comments: list[Comment]) -> list[str]:
    return [c.comment_id for c in comments]


async def test_websocket_reconnects_replay_history_and_every_comment_arrives_once(
    session: Session,
) -> None:
    bridge = await session.start()
    bridge.history = [chat(0, "chốt A1"), chat(1, "chốt B2 sđt 0912345678")]
    await bridge.connect()
    await bridge.send(chat(2, "A1 x2"), gift(), chat(3, "lấy 1 B2"))
    await session.until(lambda: len(session.comments) == 4)
    await bridge.drop()
    await bridge.connect()  # the whole recent chat arrives again
    await bridge.send(chat(4, "chốt C3"))
    await session.until(lambda: len(session.comments) == 5)
    await bridge.drop()
    await bridge.connect()
    await bridge.send(chat(5, "hủy A1"), stream_end())
    outcome = await session.outcome()
    assert outcome.reason == "ended" and "streamEnd" in outcome.message
    assert ids(session.comments) == [msg_id(n) for n in range(6)]
    assert session.sample("chotdon_ingest_duplicates_total") == 4 + 5
    first = session.comments[1]
    assert (first.user_id, first.user_name, first.text, first.ts, first.platform) == (
        "6800000000000000001",
        "Khách 1",
        "chốt B2 sđt 0912345678",
        T0_MS / 1000 + 1,
        "tiktok",
    )


async def test_post_answers_what_was_accepted_and_dedupes_retries(session: Session) -> None:
    bridge = await session.start()
    events = [chat(n, f"chốt {n}", generation=1) for n in range(3)]  # v1
    assert await bridge.post(events) == (202, {"accepted": 3, "duplicates": 0, "rejected": []})
    assert await bridge.post(events) == (202, {"accepted": 0, "duplicates": 3, "rejected": []})
    assert ids(session.comments) == [msg_id(n) for n in range(3)]
    assert session.comments[2].user_id == "6800000000000000001"
    status, _ = await bridge.post([stream_end()])
    assert status == 202
    assert (await session.outcome()).reason == "ended"


@pytest.mark.parametrize("generation", [3, 2])
async def test_viewers_and_deletions(session: Session, generation: Generation) -> None:
    bridge = await session.start()
    events = [chat(0, "chốt A1", generation=generation)]
    events += [room_user(812, generation=generation), im_delete(0, generation=generation)]
    assert (await bridge.post(events))[0] == 202
    viewers = [r for r in session.records if isinstance(r, ViewerCount)]
    assert viewers == [ViewerCount(STREAM, 812, T0_MS / 1000, "tiktok")]
    assert [(c.comment_id, c.deleted) for c in session.comments] == [
        (msg_id(0), False),
        (msg_id(0), True),
    ]


@pytest.mark.parametrize("generation", [3, 2, 1])
async def test_every_generation_reads_the_same_comment(
    session: Session, generation: Generation
) -> None:
    bridge = await session.start()
    assert (await bridge.post([chat(7, "chốt 2 hộp", user=4, generation=generation)]))[0] == 202
    [comment] = session.comments
    assert (comment.comment_id, comment.user_id, comment.user_name, comment.text) == (
        msg_id(7),
        "6800000000000000004",
        "Khách 4",
        "chốt 2 hộp",
    )


async def test_the_hosts_own_comments_are_not_orders(session: Session) -> None:
    bridge = await session.start()
    host_says = chat(0, "chốt đơn nào cả nhà, 2 hộp 150k", user=99, anchor=True)
    status, answer = await bridge.post([host_says, chat(1, "chốt 2 hộp")])
    assert (status, answer["accepted"]) == (202, 1)
    assert ids(session.comments) == [msg_id(1)]


async def test_malformed_events_are_rejected_the_rest_accepted(session: Session) -> None:
    bridge = await session.start()
    bad = chat(1, "x")
    del bad["data"]["common"]["msgId"]
    status, answer = await bridge.post([chat(0, "chốt A1"), bad, chat(2, "chốt A2")])
    assert status == 400 and answer["accepted"] == 2
    assert [r["index"] for r in answer["rejected"]] == [1]
    status, answer = await bridge.post(b"{not json")
    assert status == 400 and "invalid JSON" in answer["error"]
    assert session.sample("chotdon_ingest_malformed_total") == 2
    assert ids(session.comments) == [msg_id(0), msg_id(2)]


async def test_token_is_required_when_set() -> None:
    session = Session(token="bridge-secret")
    bridge = await session.start()
    bridge.token = None
    assert (await bridge.post([chat(0, "a")]))[0] == 401
    bridge.token = "bridge-secret"
    assert (await bridge.post([chat(0, "a")]))[0] == 202
    await bridge.connect(query_token=True)  # a WebSocket client without headers
    await bridge.send(chat(1, "b"))
    await session.until(lambda: len(session.comments) == 2)
    await bridge.drop()
    bridge.token = "wrong"
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await bridge.connect()
    session.stop.set()
    assert (await session.outcome()).reason == "stopped"
    assert session.sample("chotdon_ingest_errors_total", kind="auth") == 2


async def test_browser_requests_are_refused(session: Session) -> None:
    bridge = await session.start()
    status, _ = await bridge.post([chat(0, "a")], headers={"Origin": "https://evil.example"})
    assert status == 403 and session.comments == []


async def test_restart_drops_the_replayed_history(tmp_path: Path) -> None:
    path = tmp_path / "tiktok.json"
    first = Session(checkpoint=Checkpoint(path))
    bridge = await first.start()
    await bridge.connect()
    await bridge.send(*(chat(n, f"chốt {n}") for n in range(4)))
    await first.until(lambda: len(first.comments) == 4)
    first.stop.set()  # SIGTERM
    assert (await first.outcome()).reason == "stopped"
    await bridge.drop()
    assert json.loads(path.read_text())["last_ts"] == T0_MS / 1000 + 3

    second = Session(checkpoint=Checkpoint(path))
    bridge.url = (await second.start()).url
    second.bridge = bridge
    await bridge.connect()  # replays chats 0-3
    await bridge.send(chat(4, "chốt 4"), stream_end())
    assert (await second.outcome()).reason == "ended"
    assert ids(second.comments) == [msg_id(4)]
    assert second.sample("chotdon_ingest_duplicates_total") == 4
    assert not second.comments[0].history


BRIDGE = Path(__file__).resolve().parent.parent / "bridges" / "tiktok" / "bridge.mjs"


@pytest.mark.skipif(shutil.which("node") is None, reason="the reference bridge needs Node.js")
async def test_reference_bridge_forwards_a_live_to_the_connector(
    session: Session, tmp_path: Path
) -> None:
    """The Node bridge's forwarding path, fed by a fake event source instead of TikTok (which
    cannot be reached here): v3 events, a replayed history, the host's comment, the end."""
    await session.start()
    events = [chat(0, "chốt A1"), chat(1, "chốt B2")]
    events += [chat(0, "chốt A1"), chat(1, "chốt B2")]  # a reconnect replays the recent chat
    events += [gift(), room_user(120), chat(2, "xin chào cả nhà", user=9, anchor=True)]
    events += [im_delete(1), chat(3, "lấy 2 A1"), stream_end()]
    replay = tmp_path / "events.jsonl"
    replay.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    env = {
        **os.environ,
        "CHOTDON_TIKTOK_URL": session.bridge.url,
        "CHOTDON_BRIDGE_REPLAY": str(replay),
    }
    node = await asyncio.create_subprocess_exec(
        "node", str(BRIDGE), env=env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(node.communicate(), 20)
    assert node.returncode == 0, stderr.decode()
    assert (await session.outcome()).reason == "ended"
    assert [(c.comment_id, c.deleted) for c in session.comments] == [
        (msg_id(0), False),
        (msg_id(1), False),
        (msg_id(1), True),
        (msg_id(3), False),
    ]
    assert [r.viewers for r in session.records if isinstance(r, ViewerCount)] == [120]
    assert session.sample("chotdon_ingest_duplicates_total") == 2
