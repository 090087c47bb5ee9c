"""`faust_fixes` copies private Faust code: it must notice a Faust that is not the one it read."""

from __future__ import annotations

import asyncio

import pytest

from stream_jobs import faust_fixes
from stream_jobs.faust_fixes import COPIED_FROM, check_faust, source_digest, upstream_changes


def test_the_installed_faust_is_the_one_the_fixes_were_made_for() -> None:
    check_faust()
    assert upstream_changes() == []


def test_another_faust_release_is_refused_at_start_up() -> None:
    with pytest.raises(RuntimeError, match=f"faust-streaming 0.16.0 .* of {COPIED_FROM}"):
        check_faust("0.16.0")


def test_an_upstream_method_that_changed_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def changed_upstream() -> None:
        """Stands for a Faust release whose method reads differently."""

    upstream = dict(faust_fixes.UPSTREAM)
    upstream["Consumer._add_gap"] = (changed_upstream, upstream["Consumer._add_gap"][1])
    monkeypatch.setattr(faust_fixes, "UPSTREAM", upstream)
    assert upstream_changes() == ["Consumer._add_gap"]
    with pytest.raises(RuntimeError, match=r"Consumer\._add_gap"):
        check_faust(COPIED_FROM)
    assert source_digest(changed_upstream) != upstream["Consumer._add_gap"][1]


def test_the_per_record_cost_fix_watches_the_faust_code_it_copies_and_relies_on() -> None:
    watched = set(faust_fixes.UPSTREAM)
    assert {"Consumer._drain_messages", "Stream.noack_take", "Stream._py_aiter", "Stream.ack"} <= (
        watched
    )


async def test_a_hand_off_that_had_to_wait_finishes_where_it_waited() -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def hand_off() -> str:
        steps.append("inline")
        got = await gate
        steps.append(got)
        return got + "!"

    coro = hand_off()
    waiting = coro.send(None)  # what the consumer does: run it until it waits
    assert steps == ["inline"]
    task = asyncio.ensure_future(faust_fixes._finish(coro, waiting))
    await asyncio.sleep(0)
    assert not task.done()
    gate.set_result("queued")
    assert await task == "queued!"
    assert steps == ["inline", "queued"]


async def test_a_waiting_hand_off_that_loses_the_race_is_cancelled_inside() -> None:
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cleaned: list[bool] = []

    async def hand_off() -> None:
        try:
            await gate
        finally:
            cleaned.append(True)

    coro = hand_off()
    task = asyncio.ensure_future(faust_fixes._finish(coro, coro.send(None)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [True]
    assert gate.cancelled()
