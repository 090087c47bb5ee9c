"""Windowed live metrics: windows, late records, unique commenters, revenue deltas, viewers."""

from __future__ import annotations

import random
from collections.abc import Sequence

import msgspec
import pytest

from chotdon.catalog import load_catalog
from chotdon.records import (
    INTENT_KINDS,
    Comment,
    Intent,
    IntentKind,
    MetricsSnapshot,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    Record,
    SetCurrent,
    ViewerCount,
)
from ingest.simulator import simulate
from stream_jobs.metrics import (
    Metrics,
    MetricsState,
    add,
    decode_state,
    encode_state,
    flush,
    new_state,
    snapshots,
    totals,
)

S = "kim-an-oi"


def comment(ts: float, cid: str, user: str = "fb:1000123", platform: str = "facebook") -> Comment:
    return Comment(
        stream=S, comment_id=cid, user_id=user, text="chốt 2 hộp", ts=ts, platform=platform
    )


def intent(ts: float, cid: str, kind: IntentKind = "order", user: str = "fb:1000123") -> Intent:
    return Intent(intent=kind, comment=comment(ts, cid, user))


def viewers(ts: float, n: int) -> ViewerCount:
    return ViewerCount(stream=S, viewers=n, ts=ts)


def event(
    ts: float,
    seq: int,
    total: int,
    kind: OrderEventKind = "confirmed",
    order: str = "o1",
    status: str = "confirmed",
) -> OrderEvent:
    lines = [] if total == 0 and kind == "cancelled" else [line(total, status)]
    return OrderEvent(
        kind=kind,
        stream=S,
        order_id=order,
        customer=f"facebook:{order}",
        customer_name="Nguyễn Thị Lan",
        lines=lines,
        total=total,
        phone=None,
        comment_id=f"c{seq}",
        ts=ts,
        seq=seq,
    )


def line(total: int, status: str) -> OrderLine:
    if status == "confirmed":
        return OrderLine(sku="OI-HOP", variant=None, qty=total // 80_000, unit_price=80_000)
    return OrderLine(sku="OI-HOP", variant=None, qty=1, unit_price=80_000, status="waitlisted")


def run(
    records: Sequence[Record], windows: tuple[int, ...] = (10,)
) -> tuple[MetricsState, list[MetricsSnapshot]]:
    state, out = new_state(S, windows), []
    for record in records:
        state, closed = add(state, record)
        out += closed
    return state, out


# --- windows ---


def test_a_record_at_the_window_end_closes_it_and_opens_the_next() -> None:
    state, closed = run([comment(1000.0, "a"), comment(1009.999, "b")])
    assert closed == []
    state, closed = add(state, comment(1010.0, "c"))
    assert [(s.window_start, s.window_s, s.comments) for s in closed] == [(1000.0, 10, 2)]
    assert state.open[10].start == 1010.0


def test_windows_are_aligned_on_the_epoch() -> None:
    state, _ = run([comment(1234.5, "a")], windows=(10, 60))
    assert state.open[10].start == 1230.0
    assert state.open[60].start == 1200.0


def test_each_window_size_closes_on_its_own() -> None:
    _, closed = run([comment(t, f"c{t}") for t in (0.5, 5, 12, 25, 59, 61)], windows=(10, 60))
    tens = [(s.window_start, s.comments) for s in closed if s.window_s == 10]
    sixties = [(s.window_start, s.comments) for s in closed if s.window_s == 60]
    assert tens == [(0.0, 2), (10.0, 1), (20.0, 1), (50.0, 1)]
    assert sixties == [(0.0, 5)]


def test_windows_where_nothing_arrived_emit_nothing() -> None:
    _, closed = run([comment(5, "a"), comment(47, "b")])
    assert [s.window_start for s in closed] == [0.0]


def test_flush_closes_the_open_windows_and_keeps_the_session_totals() -> None:
    state, _ = run([comment(5, "a"), comment(7, "b", user="fb:2")], windows=(10, 60))
    state, closed = flush(state)
    got = sorted((s.window_s, s.comments, s.commenters) for s in closed)
    assert got == [(10, 2, 2), (60, 2, 2)]
    assert state.open == {}
    assert totals(state).comments == 2
    assert flush(state)[1] == []
    state, closed = add(state, comment(8, "c"))  # a record after a flush opens a window again
    assert closed == [] and state.open[10].comments == 1


def test_a_late_record_counts_in_the_open_window_and_is_never_lost() -> None:
    records = [comment(1, "a"), comment(15, "b"), comment(3, "late"), comment(16, "c")]
    state, closed = run(records)
    state, rest = flush(state)
    by_start = {s.window_start: s for s in closed + rest}
    assert by_start[0.0].comments == 1
    assert (by_start[10.0].comments, by_start[10.0].late) == (3, 1)
    assert sum(s.comments for s in by_start.values()) == len(records)


def test_out_of_order_records_lose_nothing_in_any_window_size() -> None:
    records = [r for r in _session() if isinstance(r, Comment)]
    rng = random.Random(4)
    jittered = sorted(records, key=lambda c: c.ts + rng.uniform(-3, 3))  # a little disorder
    out = list(snapshots(jittered, windows_s=(10, 60)))
    for size in (10, 60):
        assert sum(s.comments for s in out if s.window_s == size) == len(records)
    assert sum(s.late for s in out) > 0


# --- comments, commenters, intents ---


def test_unique_commenters_count_each_person_once() -> None:
    records = [
        comment(1, "a", "fb:1"),
        comment(2, "b", "fb:1"),
        comment(3, "c", "fb:2"),
        comment(4, "d", "fb:1", platform="tiktok"),  # another platform, another person
    ]
    state, _ = run(records)
    (snap,) = flush(state)[1]
    assert (snap.comments, snap.commenters) == (4, 3)


def test_a_comment_and_its_intent_count_as_one_comment() -> None:
    c = comment(1, "a")
    state, _ = run([c, Intent(intent="order", comment=c), c])  # and a redelivered copy
    (snap,) = flush(state)[1]
    assert snap.comments == 1
    assert snap.intents["order"] == 1
    assert totals(state).comments == 1


def test_intents_by_kind_list_every_kind() -> None:
    kinds: list[IntentKind] = ["order", "order", "question", "other", "cancel"]
    state, _ = run([intent(i, f"c{i}", k) for i, k in enumerate(kinds)])
    (snap,) = flush(state)[1]
    assert set(snap.intents) == set(INTENT_KINDS)
    assert snap.intents == {
        "order": 2,
        "change": 0,
        "cancel": 1,
        "question": 1,
        "contact": 0,
        "other": 1,
    }
    assert snap.comments == 5


def test_a_deleted_comment_report_is_not_a_new_comment() -> None:
    gone = msgspec.structs.replace(comment(2, "a"), deleted=True)
    state, _ = run([comment(1, "a"), gone])
    assert flush(state)[1][0].comments == 1


def test_an_intent_without_its_comment_is_refused() -> None:
    with pytest.raises(ValueError, match="comment"):
        add(new_state(S), Intent(intent="order"))


def test_a_record_of_another_stream_is_refused() -> None:
    other = msgspec.structs.replace(comment(1, "a"), stream="phu-xuyen")
    with pytest.raises(ValueError, match="phu-xuyen"):
        add(new_state(S), other)


def test_records_that_are_no_metric_change_nothing() -> None:
    state, closed = add(new_state(S), SetCurrent(stream=S, code="A1", ts=99.0))
    assert closed == [] and state.open == {} and state.latest_ts is None


def test_window_sizes_must_be_positive_whole_seconds() -> None:
    with pytest.raises(ValueError):
        new_state(S, (0,))
    with pytest.raises(ValueError):
        new_state(S, ())


# --- orders and revenue ---


def test_revenue_is_the_change_of_the_confirmed_totals() -> None:
    state, _ = run([event(1, 1, 160_000), event(2, 2, 240_000, "updated")])
    (snap,) = flush(state)[1]
    assert (snap.orders, snap.revenue) == (1, 240_000)


def test_a_cancel_brings_revenue_and_orders_down_in_its_window() -> None:
    records = [
        event(1, 1, 160_000),
        event(2, 2, 80_000, order="o2"),
        event(12, 3, 0, "cancelled"),
    ]
    state, closed = run(records)
    (last,) = flush(state)[1]
    assert (closed[0].revenue, closed[0].orders) == (240_000, 2)
    # orders as chotdon.figures counts them: the windows add up to the orders counting now
    assert (last.revenue, last.orders, last.cancelled) == (-160_000, -1, 1)
    assert (totals(state).orders, totals(state).revenue) == (1, 80_000)


def test_an_order_counts_once_when_it_is_ordered_again_after_a_cancel() -> None:
    state, _ = run([event(1, 1, 80_000), event(2, 2, 0, "cancelled"), event(3, 3, 160_000)])
    (snap,) = flush(state)[1]
    assert (snap.orders, snap.cancelled, snap.revenue) == (1, 1, 160_000)


def test_an_order_counts_when_its_first_line_is_confirmed_whatever_the_event_kind() -> None:
    records = [
        event(1, 1, 0, "waitlisted", status="waitlisted"),  # no stock: not an order yet
        event(2, 2, 80_000, "needs_review"),  # confirmed, and a review item opened
    ]
    state, _ = run(records)
    (snap,) = flush(state)[1]
    assert (snap.orders, snap.revenue) == (1, 80_000)


def test_a_redelivered_event_is_counted_once() -> None:
    first = event(1, 1, 160_000)
    state, _ = run([first, event(2, 2, 240_000, "updated"), first])
    (snap,) = flush(state)[1]
    assert snap.revenue == 240_000 and snap.orders == 1


# --- viewers ---


def test_viewers_are_the_last_report_of_the_window_and_its_peak() -> None:
    state, closed = run([viewers(1, 200), viewers(5, 900), viewers(8, 700), viewers(12, 650)])
    assert (closed[0].viewers, closed[0].viewers_peak) == (700, 900)
    t = totals(state)
    assert (t.viewers, t.viewers_peak) == (650, 900)


def test_a_late_viewer_count_does_not_replace_a_newer_one() -> None:
    state, _ = run([viewers(12, 500), viewers(9, 800)])
    (snap,) = flush(state)[1]
    assert (snap.viewers, snap.viewers_peak, snap.late) == (500, 800, 1)
    assert totals(state).viewers == 500


def test_a_window_without_a_report_carries_the_last_known_count() -> None:
    _, closed = run([viewers(1, 300), comment(14, "a"), comment(25, "b")])
    assert [(s.window_start, s.viewers, s.viewers_peak) for s in closed] == [
        (0.0, 300, 300),
        (10.0, 300, 300),
    ]


# --- the feed's session totals ---


def test_comments_per_minute_count_the_last_60_seconds() -> None:
    state, _ = run([comment(t, f"c{t}") for t in (0, 10, 30, 65, 70)], windows=(10, 60))
    assert totals(state).comments_per_minute == 3  # 30, 65, 70 are within (10, 70]
    assert totals(state, now=200.0).comments_per_minute == 0
    assert totals(state).comments == 5


def test_comments_per_minute_keep_a_bounded_memory_over_a_long_stream() -> None:
    state = new_state(S, (60,))
    for i in range(6000):  # 5 a second for 20 minutes
        state, _ = add(state, comment(i / 5, f"c{i}"))
        assert len(state.per_second) <= 2 * 61 + 1
    assert totals(state).comments_per_minute == 60 * 5  # seconds 1140..1199, 5 each
    assert totals(state).comments == 6000


def test_session_totals_for_the_feed() -> None:
    records = [
        viewers(1, 400),
        comment(2, "a"),
        event(3, 1, 160_000),
        viewers(6, 1200),
        event(70, 2, 80_000, order="o2"),
        viewers(71, 900),
    ]
    state, _ = run(records, windows=(10, 60))
    t = totals(state)
    assert (t.orders, t.revenue, t.viewers, t.viewers_peak) == (2, 240_000, 900, 1200)
    assert Metrics().totals("nobody").comments == 0


# --- state, several streams ---


def test_a_state_restored_from_its_encoding_continues_the_same() -> None:
    records = _session()
    whole = list(snapshots(records))
    state, out = new_state(S), []
    for i, record in enumerate(records):
        if i % 97 == 0:  # as if a worker restarted from its table
            state = decode_state(encode_state(state))
        state, closed = add(state, record)
        out += closed
    out += flush(state)[1]
    assert out == whole


def test_metrics_keeps_one_state_a_stream() -> None:
    catalog = load_catalog("kim-an")
    records = list(simulate([catalog, catalog], rate=3, duration=40, seed=2, start_ts=0))
    out = list(snapshots(records, windows_s=(10,)))
    comments = [r for r in records if isinstance(r, Comment)]
    for stream in (S, f"{S}-2"):
        mine = [s for s in out if s.stream == stream]
        assert sum(s.comments for s in mine) == sum(c.stream == stream for c in comments)
        starts = [s.window_start for s in mine]
        assert starts == sorted(starts) and len(starts) == len(set(starts))


def _session() -> list[Comment | ViewerCount | SetCurrent]:
    catalog = load_catalog("kim-an")
    return list(simulate([catalog], rate=4, duration=120, seed=11, start_ts=1_764_230_400.0))
