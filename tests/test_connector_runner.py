"""The run loop every connector shares, driven by a scripted connector: dedupe, retries,
stops, checkpoints, malformed payloads, metrics, the adapters to JSON Lines and the embedded
runner; and the `chotdon ingest PLATFORM` flags."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from chotdon.prometheus import ConnectorMetrics
from chotdon.records import Comment, ViewerCount, decode
from ingest.connectors.base import (
    AuthError,
    Backoff,
    Checkpoint,
    ConnectorRecord,
    QuotaExceeded,
    RateLimited,
    SessionEnded,
    TransientError,
)
from ingest.connectors.cli import (
    add_arguments,
    cmd_ingest_platform,
    default_checkpoint,
    platforms,
)
from ingest.connectors.runner import (
    Batch,
    ConnectorSource,
    EmitError,
    Malformed,
    Outcome,
    UsageError,
    jsonl_emit,
    run_connector,
    stable_comment,
)

STREAM = "kim-an-oi"
T0 = 1_795_737_600.0
LABELS = {"platform": "test", "stream": STREAM}


def comment(n: int, *, deleted: bool = False, history: bool = False) -> Comment:
    return Comment(
        stream=STREAM,
        comment_id=f"c{n}",
        user_id=f"u{n % 3}",
        user_name="Hoa Trần",
        text="" if deleted else f"chốt {n} hộp",
        ts=T0 + n,
        platform="test",
        deleted=deleted,
        history=history,
    )


Step = Batch | BaseException | None  # None: block until cancelled (a quiet stream)


class Scripted:
    """Plays steps in order; after an exception, the next `batches()` call (the reconnect)
    goes on with the following step. Records what it was restored from."""

    platform = "test"
    stream = STREAM

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.restored: dict[str, Any] | None = None
        self.connects = 0

    def restore(self, state: Mapping[str, Any]) -> None:
        self.restored = dict(state)

    async def batches(self) -> AsyncIterator[Batch]:
        self.connects += 1
        while self.steps:
            step = self.steps.pop(0)
            if step is None:
                await asyncio.Event().wait()
            elif isinstance(step, BaseException):
                raise step
            else:
                yield step


class Harness:
    def __init__(self) -> None:
        self.metrics = ConnectorMetrics()
        self.sleeps: list[float] = []
        self.logs: list[str] = []
        self.records: list[ConnectorRecord] = []
        self.now = T0 + 100

    async def emit(self, record: ConnectorRecord) -> None:
        self.records.append(record)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    async def run(
        self,
        connector: Scripted,
        *,
        stop: asyncio.Event | None = None,
        checkpoint: Checkpoint | None = None,
        emit: Any = None,
    ) -> Outcome:
        run = run_connector(
            connector,
            emit or self.emit,
            stop=stop or asyncio.Event(),
            metrics=self.metrics,
            checkpoint=checkpoint,
            log=self.logs.append,
            backoff=Backoff(base=1.0, cap=8.0, rng=random.Random(3)),
            sleep=self.sleep,
            clock=lambda: self.now,
        )
        return await asyncio.wait_for(run, 10)  # a safety net, not a timing assertion

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, {**LABELS, **labels}) or 0.0

    @property
    def ids(self) -> list[str]:
        return [r.comment_id for r in self.records if isinstance(r, Comment)]


async def test_duplicates_are_dropped_and_ids_made_stable() -> None:
    h = Harness()
    viewers = ViewerCount(stream=STREAM, viewers=120, ts=T0, platform="test")
    connector = Scripted(
        Batch([comment(1), comment(2), viewers], requests=1),
        Batch([comment(2), comment(3), comment(1)], requests=1),
        Batch([comment(2, deleted=True), comment(2, deleted=True)], requests=1),
        SessionEnded("buổi live đã kết thúc"),
    )

    outcome = await h.run(connector)

    assert outcome == Outcome("ended", "buổi live đã kết thúc") and outcome.exit_code == 0
    assert h.ids == ["test:c1", "test:c2", "test:c3", "test:c2"]
    assert h.records[2] == viewers and h.records[-1] == stable_comment(comment(2, deleted=True))
    assert h.value("chotdon_ingest_comments_total") == 4
    assert h.value("chotdon_ingest_duplicates_total") == 3
    assert h.value("chotdon_ingest_polls_total") == 3
    assert h.value("chotdon_ingest_session_state") == 0


def test_stable_ids_keep_an_existing_prefix() -> None:
    c = stable_comment(comment(1))
    assert c.comment_id == "test:c1" and stable_comment(c) is c


async def test_transient_errors_back_off_with_jitter_and_reconnect() -> None:
    h = Harness()
    connector = Scripted(
        Batch([comment(1)]),
        TransientError("502 Bad Gateway"),
        ConnectionResetError("Connection reset by peer"),  # a raw network error, unconverted
        TransientError("timeout"),
        Batch([comment(2)], wait=3.0),
        TransientError("again"),
        Batch([comment(3)]),
        SessionEnded("xong"),
    )

    assert (await h.run(connector)).reason == "ended"

    assert h.ids == ["test:c1", "test:c2", "test:c3"]
    assert connector.connects == 5
    backoffs = [h.sleeps[0], h.sleeps[1], h.sleeps[2], h.sleeps[4]]
    assert h.sleeps[3] == 3.0  # the connector's own polling interval
    assert 0 <= backoffs[0] <= 1 and 0 <= backoffs[1] <= 2 and 0 <= backoffs[2] <= 4
    assert 0 <= backoffs[3] <= 1  # a success resets the backoff
    assert h.value("chotdon_ingest_errors_total", kind="transient") == 4
    assert any("retrying in" in line for line in h.logs)


async def test_rate_limits_wait_at_least_what_the_platform_asks() -> None:
    h = Harness()
    connector = Scripted(RateLimited("slow down", retry_after=30.0), Batch([comment(1)]), None)
    stop = asyncio.Event()
    task = asyncio.create_task(h.run(connector, stop=stop))
    while not h.records:
        await asyncio.sleep(0)
    stop.set()

    assert (await task).reason == "stopped"
    assert h.sleeps[0] >= 30.0
    assert h.value("chotdon_ingest_errors_total", kind="rate_limited") == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [(AuthError("token hết hạn"), "auth"), (QuotaExceeded("hết quota hôm nay"), "quota")],
)
async def test_auth_and_quota_stop_with_a_message_and_a_metric(
    error: Exception, reason: str
) -> None:
    h = Harness()
    connector = Scripted(Batch([comment(1)]), error, Batch([comment(2)]))

    outcome = await h.run(connector)

    assert outcome == Outcome(reason, str(error))  # type: ignore[arg-type]
    assert outcome.exit_code == 78
    assert h.ids == ["test:c1"] and connector.connects == 1  # no crash loop
    assert h.value("chotdon_ingest_errors_total", kind=reason) == 1
    assert h.value("chotdon_ingest_session_state") == 0
    assert h.logs[-1] == f"test {STREAM}: stopped: {error}"


async def test_stop_interrupts_a_quiet_stream_and_saves_the_checkpoint(tmp_path: Path) -> None:
    h, path = Harness(), tmp_path / "cp.json"
    connector = Scripted(Batch([comment(1)], state={"cursor": "A"}), None)
    stop = asyncio.Event()
    task = asyncio.create_task(h.run(connector, stop=stop, checkpoint=Checkpoint(path)))
    while not h.records:
        await asyncio.sleep(0)
    stop.set()

    assert await task == Outcome("stopped")
    saved = json.loads(path.read_text())
    assert saved["cursor"] == "A" and saved["_recent_ids"] == ["test:c1"]


async def test_a_restart_resumes_from_the_checkpoint_and_drops_what_it_sent(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.json"
    first = Harness()
    await first.run(
        Scripted(
            Batch([comment(1), comment(2)], state={"cursor": "A"}),
            Batch([comment(3)], state={"cursor": "B"}),
            SessionEnded("restart"),
        ),
        checkpoint=Checkpoint(path),
    )
    # The platform's resume point overlaps (a whole-second `since`): c3 comes again.
    second = Harness()
    connector = Scripted(Batch([comment(3), comment(4)], state={"cursor": "C"}), SessionEnded("x"))
    await second.run(connector, checkpoint=Checkpoint(path))

    assert connector.restored == {"cursor": "B"}
    assert first.ids + second.ids == ["test:c1", "test:c2", "test:c3", "test:c4"]
    assert json.loads(path.read_text())["cursor"] == "C"


async def test_malformed_payloads_are_logged_masked_counted_and_skipped() -> None:
    h = Harness()
    bad = Malformed("no created_time", '{"id": "9", "message": "gọi 0912.345.678 ạ"}')
    connector = Scripted(Batch([comment(1)], malformed=[bad, bad]), SessionEnded("x"))

    await h.run(connector)

    assert h.ids == ["test:c1"]
    assert h.value("chotdon_ingest_malformed_total") == 2
    assert "0912***678" in h.logs[0] and "345.678" not in "".join(h.logs)


async def test_lag_is_measured_on_live_comments_only() -> None:
    h = Harness()
    await h.run(Scripted(Batch([comment(1, history=True)]), SessionEnded("x")))
    assert h.value("chotdon_ingest_lag_seconds") == 0
    await h.run(Scripted(Batch([comment(40)]), SessionEnded("x")))
    assert h.value("chotdon_ingest_lag_seconds") == 60


async def test_a_failed_emit_stops_the_run_and_keeps_the_last_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    sent: list[ConnectorRecord] = []

    async def emit(record: ConnectorRecord) -> None:
        if len(sent) == 2:
            raise ConnectionError("Kafka is down")
        sent.append(record)

    connector = Scripted(
        Batch([comment(1)], state={"cursor": "A"}),
        Batch([comment(2), comment(3)], state={"cursor": "B"}),
    )
    h = Harness()
    with pytest.raises(EmitError, match="Kafka is down"):
        await h.run(connector, checkpoint=Checkpoint(path), emit=emit)

    saved = json.loads(path.read_text())
    assert saved["cursor"] == "A" and saved["_recent_ids"] == ["test:c1"]


async def test_acks_tell_a_pusher_what_was_emitted() -> None:
    loop = asyncio.get_running_loop()
    first: asyncio.Future[Any] = loop.create_future()
    second: asyncio.Future[Any] = loop.create_future()
    connector = Scripted(
        Batch([comment(1), comment(2)], ack=first),
        Batch([comment(2)], ack=second, errors=[("signature", "bad signature from shopA")]),
        SessionEnded("x"),
    )
    h = Harness()
    await h.run(connector)

    assert (first.result().emitted, first.result().duplicates) == (2, 0)
    assert (second.result().emitted, second.result().duplicates) == (0, 1)
    assert h.value("chotdon_ingest_errors_total", kind="signature") == 1


async def test_jsonl_emit_writes_records_the_runner_can_read() -> None:
    out = io.BytesIO()
    emit = jsonl_emit(out)
    await emit(comment(1))
    await emit(ViewerCount(stream=STREAM, viewers=5, ts=T0))
    lines = out.getvalue().splitlines()
    assert [decode(line) for line in lines] == [
        comment(1),
        ViewerCount(stream=STREAM, viewers=5, ts=T0),
    ]


async def test_connector_source_feeds_the_embedded_runner(tmp_path: Path) -> None:
    path = tmp_path / "cp.json"
    connector = Scripted(
        Batch([comment(1), comment(2)], state={"cursor": "A"}),
        Batch([comment(2), comment(3)], state={"cursor": "B"}),
        SessionEnded("hết live"),
    )
    source = ConnectorSource(connector, checkpoint=Checkpoint(path), log=lambda _m: None)

    got = [(p, r) async for p, r in source.records(start=41)]

    assert source.name == f"test:{STREAM}"
    assert [p for p, _ in got] == [42, 43, 44]
    assert [r.comment_id for _, r in got if isinstance(r, Comment)] == [
        "test:c1",
        "test:c2",
        "test:c3",
    ]
    assert source.outcome == Outcome("ended", "hết live")
    assert json.loads(path.read_text())["cursor"] == "B"


async def test_connector_source_left_early_never_checkpoints_an_untaken_record(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.json"
    connector = Scripted(
        Batch([comment(1)], state={"cursor": "A"}),
        Batch([comment(2), comment(3)], state={"cursor": "B"}),
        None,
    )
    source = ConnectorSource(connector, checkpoint=Checkpoint(path), log=lambda _m: None)
    records = source.records()
    async for _position, record in records:
        if isinstance(record, Comment) and record.comment_id == "test:c2":
            break  # the consumer stops with c3 not taken
    await records.aclose()  # type: ignore[attr-defined]

    saved = json.loads(path.read_text())
    assert saved["cursor"] == "A" and "test:c3" not in saved["_recent_ids"]


# -- `chotdon ingest PLATFORM`: the flags every platform gets, credentials from the environment --


def ingest_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chotdon ingest")
    add_arguments(p)
    return p


def test_every_platform_is_a_sub_command_with_the_common_flags() -> None:
    p = ingest_parser()
    assert set(platforms()) == {"facebook", "youtube", "shopee", "tiktok", "webhook"}

    args = p.parse_args(["facebook", "--stream", STREAM, "--video", "771234567890123"])
    assert args.func is cmd_ingest_platform and args.platform_spec.name == "facebook"
    assert (args.to, args.checkpoint, args.metrics) == ("stdout", None, None)

    args = p.parse_args(["webhook", "--listen", "0.0.0.0:9000", "--metrics", ":9100"])
    assert args.listen == ("0.0.0.0", 9000) and args.metrics == ("127.0.0.1", 9100)
    assert "stream" not in vars(args)  # a pushed record names its stream

    for wrong in (
        ["facebook", "--video", "1"],  # no --stream
        ["facebook", "--stream", STREAM, "--video", "1", "--to", "file"],
        ["webhook", "--listen", "nowhere"],
    ):
        with pytest.raises(SystemExit):
            p.parse_args(wrong)
    # Neither --video, --page-id nor --listen: nothing to read (a usage error, exit 2).
    args = p.parse_args(["facebook", "--stream", STREAM])
    with pytest.raises(UsageError, match="--video"):
        args.platform_spec.build(args, {"FACEBOOK_ACCESS_TOKEN": "t"})


def test_a_missing_credential_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FACEBOOK_ACCESS_TOKEN", raising=False)
    args = ingest_parser().parse_args(["facebook", "--stream", STREAM, "--video", "1"])

    assert cmd_ingest_platform(args) == 2
    assert "FACEBOOK_ACCESS_TOKEN" in capsys.readouterr().err


def test_checkpoints_default_to_the_configured_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CHOTDON_CHECKPOINT_DIR", str(tmp_path))
    assert default_checkpoint("facebook", "kim-an oi/2") == tmp_path / "facebook-kim-an_oi_2.json"
