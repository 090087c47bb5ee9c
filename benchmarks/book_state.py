"""The order books' state over one long session: the cost per comment slice by slice, memory
by structure and the time of one deletion's undo, at 10k, 100k and 200k comments.

    python benchmarks/book_state.py [--sizes 10000,100000,200000] [--streams 2] [--slice 10000]

The pure core alone (`StreamProcessor`, as both shells call it), on the simulated session of
`embedded_scaling.py`, with the changes taken every 500 records as a shell's batch takes them.
Three passes over the same session:

- cost per comment (issue 12: it must not grow with the session): for each slice of `--slice`
  comments up to the largest size, the thread CPU µs per comment of resolving into the book
  (`StreamProcessor.resolve`) and of the feed's views (`StreamView.apply` of each batch's
  intents and order events, as the embedded runner's hub applies them), and the last slice's
  over the first's (and the median of the last five's: one slice may hold a collection of the
  garbage collector's old generation).

- undo: at each size, the platform reports deleted the order comment 200 order comments back
  (a recent deletion) and the first order comment of the session (the oldest); the time of each
  undo, on the live book (the session then goes on without those comments).
- memory: at each size, the log's structures (the id index, the entries kept as they are, the
  journal of how the book stood before each, the compressed blocks of older entries: flat
  containers of bytes, measured with sys.getsizeof), and under tracemalloc all that the
  project's code allocated and still holds (the books, the parsers' caches), with its top lines.
"""

from __future__ import annotations

import argparse
import linecache
import statistics
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path

from embedded_scaling import catalogs, session_records

from chotdon.records import AnyRecord, Comment, SetCurrent
from sinks.feed.view import StreamView
from stream_jobs import take_changes
from stream_jobs.order_book import new_book
from stream_jobs.processor import StreamProcessor

BATCH = 500  # records between takes, as a shell's batch
RECENT = 200  # a recent deletion: this many order comments back
ROOT = str(Path(__file__).resolve().parent.parent)
TOP = 10
MB = 2**20
FIRST = 10  # early order comments kept, one deleted at each size
LATE = 5  # slices at the end whose median is compared with the first


def run(
    sizes: list[int],
    streams: int,
    seed: int,
    at_size: Callable[[int, Undo], None],
    timing: Timing | None = None,
) -> None:
    """Feed one session of max(sizes) comments; call `at_size` at each size reached. With
    `timing`, resolving is timed and each batch also goes through the feed's views."""
    processors = {c.stream: StreamProcessor(c, new_book(c)) for c in catalogs(streams)}
    undo = Undo(processors)
    comments = 0
    for n, record in enumerate(session_records(max(sizes), streams, seed), 1):
        p = processors[record.stream]
        if isinstance(record, SetCurrent):
            p.current = record.code
        elif isinstance(record, Comment):
            intent = p.parse(record)
            started = time.thread_time_ns()
            events = p.resolve(intent)
            if timing is not None:
                timing.resolved(record.stream, time.thread_time_ns() - started, [intent, *events])
            if record.stream == undo.stream and intent.intent == "order":
                undo.seen(record)
            comments += not record.deleted
            if comments in sizes and not record.deleted:
                at_size(comments, undo)
        if n % BATCH == 0:
            for q in processors.values():
                take_changes(q.book)
            if timing is not None:
                timing.batch()


class Timing:
    """Thread CPU time of resolving, and of the feed's views applying each batch's records."""

    def __init__(self, streams: int) -> None:
        self.views = {c.stream: StreamView.for_catalog(c) for c in catalogs(streams)}
        self.pending: dict[str, list[AnyRecord]] = {stream: [] for stream in self.views}
        self.resolve_ns = self.views_ns = 0

    def resolved(self, stream: str, ns: int, records: list[AnyRecord]) -> None:
        self.resolve_ns += ns
        self.pending[stream] += records

    def batch(self) -> None:
        started = time.thread_time_ns()
        for stream, records in self.pending.items():
            self.views[stream].apply(*records)
            records.clear()
        self.views_ns += time.thread_time_ns() - started

    def lap(self) -> tuple[int, int]:
        """(resolve, views) nanoseconds since the last lap."""
        laps = self.resolve_ns, self.views_ns
        self.resolve_ns = self.views_ns = 0
        return laps


def slices_pass(size: int, streams: int, seed: int, every: int) -> None:
    print(f"{'comments':>9}  {'resolve':>7}  {'views':>5}  (thread CPU µs/comment in the slice)")
    timing = Timing(streams)
    figures: list[tuple[float, float]] = []

    def at_size(comments: int, _undo: Undo) -> None:
        resolve, views = (ns / every / 1000 for ns in timing.lap())
        figures.append((resolve, views))
        print(f"{comments:>9,}  {resolve:>7.1f}  {views:>5.1f}")

    run(list(range(every, size + 1, every)), streams, seed, at_size, timing)
    (first_resolve, first_views), (last_resolve, last_views) = figures[0], figures[-1]
    late = figures[-LATE:]  # a slice may hold a collection of the old generation: the median
    late_resolve, late_views = (statistics.median(f[i] for f in late) for i in (0, 1))
    print(
        f"last slice over the first: resolve {last_resolve / first_resolve:.2f}x,"
        f" views {last_views / first_views:.2f}x; median of the last {len(late)} over the first:"
        f" resolve {late_resolve / first_resolve:.2f}x, views {late_views / first_views:.2f}x"
    )


class Undo:
    """Deletion reports for order comments of the first stream: its first, and a recent one."""

    def __init__(self, processors: dict[str, StreamProcessor]) -> None:
        self.processors = processors
        self.stream = next(iter(processors))
        self.first: list[Comment] = []  # the session's first order comments
        self.recent: deque[Comment] = deque(maxlen=RECENT)

    def seen(self, comment: Comment) -> None:
        if len(self.first) < FIRST:
            self.first.append(comment)
        self.recent.append(comment)

    def times(self) -> tuple[float, float]:
        """Milliseconds of undoing a recent order comment, then the oldest one standing."""
        return self.delete(self.recent[0]), self.delete(self.first.pop(0))

    def delete(self, comment: Comment) -> float:
        p = self.processors[self.stream]
        report = Comment(
            stream=comment.stream,
            comment_id=comment.comment_id,
            user_id=comment.user_id,
            text="",
            ts=comment.ts + 1,
            deleted=True,
        )
        intent = p.parse(report)
        started = time.perf_counter()
        p.resolve(intent)
        return (time.perf_counter() - started) * 1000


def undo_pass(sizes: list[int], streams: int, seed: int) -> None:
    print(f"{'comments':>9}  {'undo recent':>11}  {'undo first':>10}")

    def at_size(comments: int, undo: Undo) -> None:
        recent, first = undo.times()
        print(f"{comments:>9,}  {recent:>8.1f} ms  {first:>7.1f} ms")

    run(sizes, streams, seed, at_size)


def memory_pass(sizes: list[int], streams: int, seed: int) -> None:
    print(
        f"{'comments':>9}  {'logged':>7}  {'log ids':>8}  {'log kept':>8}  {'journal':>8}"
        f"  {'log blocks':>10}  {'traced':>8}  (MB, all streams; traced: all the project's code"
        " holds)"
    )
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    tops: list[str] = []

    def at_size(comments: int, undo: Undo) -> None:
        logs = [p.book.log for p in undo.processors.values()]
        ids = sum(sys.getsizeof(log.ids) + sum(map(sys.getsizeof, log.ids)) for log in logs)
        kept = sum(
            sys.getsizeof(log.recent) + sum(map(sys.getsizeof, log.recent.values())) for log in logs
        )
        journal = sum(
            sys.getsizeof(log.journal)
            + sum(
                sys.getsizeof(b)
                + sys.getsizeof(b.head)
                + sys.getsizeof(b.customers)
                + sum(map(sys.getsizeof, b.customers.values()))
                for b in log.journal.values()
            )
            for log in logs
        )
        blocks = sum(
            sys.getsizeof(log.blocks)
            + sum(sys.getsizeof(b) + sys.getsizeof(b.data) for b in log.blocks)
            for log in logs
        )
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, f"{ROOT}/*"), tracemalloc.Filter(False, f"{ROOT}/.venv/*")]
        )
        stats = snap.compare_to(base, "lineno")
        traced = sum(s.size_diff for s in stats)
        logged = sum(len(log.ids) for log in logs)
        print(
            f"{comments:>9,}  {logged:>7,}  {ids / MB:>8.1f}  {kept / MB:>8.1f}"
            f"  {journal / MB:>8.1f}  {blocks / MB:>10.1f}  {traced / MB:>8.1f}"
        )
        tops.append(f"at {comments:,} comments, the lines that allocated what is held:")
        for s in stats[:TOP]:
            frame = s.traceback[0]
            where = f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
            code = linecache.getline(frame.filename, frame.lineno).strip()[:56]
            held = f"{s.size_diff / MB:6.1f} MB {s.size_diff / comments:5.0f} B/comment"
            tops.append(f"  {held}  {where:<30} {code}")

    run(sizes, streams, seed, at_size)
    tracemalloc.stop()
    print("\n".join(tops))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,200000", help="comments")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--slice", type=int, default=10_000, help="comments per timed slice")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--only-slices", action="store_true")
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"order books of {args.streams} streams over one session")
    slices_pass(sizes[-1], args.streams, args.seed, args.slice)
    if args.only_slices:
        return
    undo_pass(sizes, args.streams, args.seed)
    if not args.skip_memory:
        memory_pass(sizes, args.streams, args.seed)


if __name__ == "__main__":
    main()
