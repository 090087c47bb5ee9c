"""Live metrics of a stream: tumbling windows over event time, and session totals for the feed.

Pure: records in, closed windows out; no clock, no I/O. One `MetricsState` a stream holds the open
window of each size (10 s and 60 s by default) and what the windows share: each order's last
total and the session totals. It is a msgspec Struct, so the distributed
mode keeps it in a Faust table keyed by stream and the embedded mode in memory or SQLite
(`encode_state`/`decode_state`).

Windows are aligned on the epoch ([t - t mod size, + size)) and advance by the records' `ts`:

- a record at or after the open window's end closes it (its snapshot is returned) and opens the
  window holding that record; windows in which nothing arrived emit nothing;
- a late record (ts before the open window) is counted in the open window and in its `late`
  field, never dropped: platform clocks and networks reorder a little;
- `flush` closes the open windows at the end of a stream.

What is counted, per window:

- comments and unique commenters, from `Comment` records or from the comment an `Intent` carries
  (each comment id once per window, so a runner may feed both); reports of deleted comments are
  not new comments and are ignored;
- intents by kind, from `Intent` records (each comment id once per window);
- orders: the change, in the window, of the session's orders as `chotdon.figures` counts them
  (an order counts while its confirmed total is above zero): +1 when an order starts counting,
  whatever its event's kind (a first confirmation may also waitlist a line), -1 when a cancel
  empties it, so the windows add up to the orders on the host's page; `cancelled` counts the
  "cancelled" events;
- revenue: the change of each order's confirmed total (an `OrderEvent` carries the total after
  the change), so a cancel brings revenue down. Events already seen (`seq` not above the last
  one) are dropped, so a redelivered event is counted once;
- viewers: the last count reported in the window (by ts) and its peak; a window with no report
  carries the last known count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence

import msgspec

from chotdon.figures import counts_as_order
from chotdon.records import (
    INTENT_KINDS,
    Comment,
    Intent,
    MetricsSnapshot,
    OrderEvent,
    Record,
    ViewerCount,
)

WINDOWS_S: tuple[int, ...] = (10, 60)
RATE_WINDOW_S = 60  # the feed's comments per minute count the last minute


class Window(msgspec.Struct, kw_only=True):
    """The open window of one size."""

    start: float
    size: int
    comments: int = 0
    comment_ids: set[str] = set()
    commenters: set[str] = set()
    intent_ids: set[str] = set()
    intents: dict[str, int] = {}
    orders: int = 0
    cancelled: int = 0
    revenue: int = 0
    viewers: int | None = None  # None: no report in this window yet
    viewers_ts: float = 0.0
    viewers_peak: int = 0
    late: int = 0


class MetricsState(msgspec.Struct, kw_only=True):
    """Everything one stream's metrics need between records."""

    stream: str
    windows_s: tuple[int, ...] = WINDOWS_S
    open: dict[int, Window] = {}  # by window size
    totals: dict[str, int] = {}  # order id -> confirmed total (VND) after its last event
    last_seq: int = 0
    latest_ts: float | None = None  # event time: the largest ts seen
    per_second: dict[int, int] = {}  # comments by whole second, the last minute only
    comments: int = 0
    orders: int = 0  # counting now (chotdon.figures)
    revenue: int = 0
    viewers: int = 0
    viewers_ts: float | None = None
    viewers_peak: int = 0


class SessionTotals(msgspec.Struct, frozen=True, kw_only=True):
    """The figures at the top of the host's feed."""

    stream: str
    comments: int
    comments_per_minute: int  # in the 60 s up to `now`
    orders: int
    revenue: int  # VND
    viewers: int  # the latest report
    viewers_peak: int


def new_state(stream: str, windows_s: Sequence[int] = WINDOWS_S) -> MetricsState:
    if not windows_s or any(not isinstance(s, int) or s <= 0 for s in windows_s):
        raise ValueError(f"window sizes must be whole seconds > 0, got {list(windows_s)}")
    return MetricsState(stream=stream, windows_s=tuple(windows_s))


def add(state: MetricsState, record: Record) -> tuple[MetricsState, list[MetricsSnapshot]]:
    """Count one record: a Comment, an Intent (with its comment), a ViewerCount or an OrderEvent;
    other records change nothing. Returns the state (updated in place, as the resolver does with
    its book) and the snapshots of the windows this record closed."""
    stream, ts = _stream_and_ts(record)
    if stream is None or ts is None or _ignored(state, record):
        return state, []
    if stream != state.stream:
        raise ValueError(f"record of stream {stream!r} added to the metrics of {state.stream!r}")
    closed = _advance(state, ts)
    state.latest_ts = ts if state.latest_ts is None else max(state.latest_ts, ts)
    windows = list(state.open.values())
    for window in windows:
        window.late += int(ts < window.start)
    if isinstance(record, Comment):
        _comment(state, windows, record)
    elif isinstance(record, Intent):
        _intent(state, windows, record)
    elif isinstance(record, ViewerCount):
        _viewers(state, windows, record)
    elif isinstance(record, OrderEvent):
        _order_event(state, windows, record)
    return state, closed


def flush(state: MetricsState) -> tuple[MetricsState, list[MetricsSnapshot]]:
    """Close the open windows (the stream ended). The session totals stay."""
    closed = [_snapshot(state, w) for w in state.open.values()]
    state.open = {}
    return state, closed


def totals(state: MetricsState, now: float | None = None) -> SessionTotals:
    """Session totals; comments per minute count the 60 s up to `now` (event time, by default
    the latest record's ts)."""
    at = state.latest_ts if now is None else now
    recent = 0
    if at is not None:
        since = math.floor(at) - RATE_WINDOW_S
        recent = sum(n for second, n in state.per_second.items() if since < second <= at)
    return SessionTotals(
        stream=state.stream,
        comments=state.comments,
        comments_per_minute=recent,
        orders=state.orders,
        revenue=state.revenue,
        viewers=state.viewers,
        viewers_peak=state.viewers_peak,
    )


# --- the windows ---


def _stream_and_ts(record: Record) -> tuple[str | None, float | None]:
    if isinstance(record, Intent):
        if record.comment is None:
            raise ValueError("an intent needs its comment attached to be counted")
        return record.comment.stream, record.comment.ts
    if isinstance(record, Comment | ViewerCount | OrderEvent):
        return record.stream, record.ts
    return None, None


def _ignored(state: MetricsState, record: Record) -> bool:
    """Records that are no new activity: deleted-comment reports and redelivered events."""
    if isinstance(record, Comment):
        return record.deleted
    if isinstance(record, Intent):
        return record.comment is not None and record.comment.deleted
    if isinstance(record, OrderEvent):
        return record.seq <= state.last_seq
    return False


def _window_start(ts: float, size: int) -> float:
    return float(math.floor(ts / size) * size)


def _advance(state: MetricsState, ts: float) -> list[MetricsSnapshot]:
    """Close each window `ts` is past and open the one holding `ts` (or keep the open one)."""
    closed = []
    for size in state.windows_s:
        window = state.open.get(size)
        if window is not None and ts < window.start + size:
            continue
        if window is not None:
            closed.append(_snapshot(state, window))
        state.open[size] = Window(start=_window_start(ts, size), size=size)
    return closed


def _snapshot(state: MetricsState, window: Window) -> MetricsSnapshot:
    viewers = window.viewers if window.viewers is not None else state.viewers
    return MetricsSnapshot(
        stream=state.stream,
        window_start=window.start,
        window_s=window.size,
        comments=window.comments,
        commenters=len(window.commenters),
        intents={kind: window.intents.get(kind, 0) for kind in INTENT_KINDS},
        orders=window.orders,
        cancelled=window.cancelled,
        revenue=window.revenue,
        viewers=viewers,
        viewers_peak=max(window.viewers_peak, viewers),
        late=window.late,
    )


# --- what each record adds ---


def _comment(state: MetricsState, windows: list[Window], comment: Comment) -> None:
    new = False
    for window in windows:
        if comment.comment_id in window.comment_ids:
            continue
        new = True
        window.comment_ids.add(comment.comment_id)
        window.comments += 1
        window.commenters.add(f"{comment.platform}:{comment.user_id}")
    if new:
        state.comments += 1
        second = math.floor(comment.ts)
        state.per_second[second] = state.per_second.get(second, 0) + 1
        _prune_rate(state)


def _prune_rate(state: MetricsState) -> None:
    """Forget the seconds older than a minute, once there are two minutes of them: bounded, and
    O(1) a comment on average (`totals` counts only the last minute anyway)."""
    if state.latest_ts is None or len(state.per_second) <= 2 * (RATE_WINDOW_S + 1):
        return
    since = math.floor(state.latest_ts) - RATE_WINDOW_S
    for second in [s for s in state.per_second if s <= since]:
        del state.per_second[second]


def _intent(state: MetricsState, windows: list[Window], intent: Intent) -> None:
    comment = intent.comment
    assert comment is not None  # checked by _stream_and_ts
    _comment(state, windows, comment)
    for window in windows:
        if comment.comment_id not in window.intent_ids:
            window.intent_ids.add(comment.comment_id)
            window.intents[intent.intent] = window.intents.get(intent.intent, 0) + 1


def _viewers(state: MetricsState, windows: list[Window], count: ViewerCount) -> None:
    for window in windows:
        if window.viewers is None or count.ts >= window.viewers_ts:
            window.viewers, window.viewers_ts = count.viewers, count.ts
        window.viewers_peak = max(window.viewers_peak, count.viewers)
    if state.viewers_ts is None or count.ts >= state.viewers_ts:
        state.viewers, state.viewers_ts = count.viewers, count.ts
    state.viewers_peak = max(state.viewers_peak, count.viewers)


def _order_event(state: MetricsState, windows: list[Window], event: OrderEvent) -> None:
    state.last_seq = event.seq
    old = state.totals.get(event.order_id, 0)
    delta = event.total - old
    orders = counts_as_order(event.total) - counts_as_order(old)
    state.totals[event.order_id] = event.total
    state.orders += orders
    state.revenue += delta
    for window in windows:
        window.revenue += delta
        window.orders += orders
        window.cancelled += int(event.kind == "cancelled")


# --- several streams, and the state's encoding ---


class Metrics:
    """The metrics of every stream a runner sees, one state each (the embedded mode's table)."""

    def __init__(self, windows_s: Sequence[int] = WINDOWS_S) -> None:
        self.windows_s = tuple(windows_s)
        self.states: dict[str, MetricsState] = {}

    def add(self, record: Record) -> list[MetricsSnapshot]:
        stream, _ = _stream_and_ts(record)
        if stream is None:
            return []
        state = self.states.get(stream)
        if state is None:
            state = self.states[stream] = new_state(stream, self.windows_s)
        return add(state, record)[1]

    def flush(self) -> list[MetricsSnapshot]:
        return [s for state in self.states.values() for s in flush(state)[1]]

    def totals(self, stream: str, now: float | None = None) -> SessionTotals:
        state = self.states.get(stream)
        return totals(state if state is not None else new_state(stream, self.windows_s), now)


def snapshots(
    records: Iterable[Record], windows_s: Sequence[int] = WINDOWS_S
) -> Iterator[MetricsSnapshot]:
    """Every window of a finished session (or file), the open ones flushed at the end."""
    metrics = Metrics(windows_s)
    for record in records:
        yield from metrics.add(record)
    yield from metrics.flush()


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(MetricsState)


def encode_state(state: MetricsState) -> bytes:
    return _encoder.encode(state)


def decode_state(data: bytes | str) -> MetricsState:
    """The state `encode_state` wrote; raises msgspec.DecodeError for anything else."""
    return _decoder.decode(data)
