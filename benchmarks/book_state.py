"""The order books' state over one long session: memory by structure and the time of one
deletion's undo, at 10k, 100k and 200k comments.

    python benchmarks/book_state.py [--sizes 10000,100000,200000] [--streams 2]

The pure core alone (`StreamProcessor`, as both shells call it), on the simulated session of
`embedded_scaling.py`, with the changes taken every 500 records as a shell's batch takes them.
Two passes over the same session:

- undo: at each size, the platform reports deleted the order comment 200 order comments back
  (a recent deletion) and the first order comment of the session (the oldest); the time of each
  undo, on the live book (the session then goes on without those comments).
- memory: under tracemalloc, what the books hold at each size, by the source line that
  allocated it (the top lines of the core, with the structure each fills), and in all.
"""

from __future__ import annotations

import argparse
import linecache
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from pathlib import Path

from embedded_scaling import catalogs, session

from chotdon.records import Comment, SetCurrent
from stream_jobs import take_changes
from stream_jobs.order_book import new_book
from stream_jobs.processor import StreamProcessor

BATCH = 500  # records between takes, as a shell's batch
RECENT = 200  # a recent deletion: this many order comments back
ROOT = str(Path(__file__).resolve().parent.parent)
TOP = 10
FIRST = 10  # early order comments kept, one deleted at each size


def run(sizes: list[int], streams: int, seed: int, at_size: Callable[[int, Undo], None]) -> None:
    """Feed one session of max(sizes) comments; call `at_size` at each size reached."""
    processors = {c.stream: StreamProcessor(c, new_book(c)) for c in catalogs(streams)}
    undo = Undo(processors)
    comments = 0
    for n, record in enumerate(session(max(sizes), streams, seed), 1):
        p = processors[record.stream]
        if isinstance(record, SetCurrent):
            p.current = record.code
        elif isinstance(record, Comment):
            intent, _ = p.comment(record)
            if record.stream == undo.stream and intent.intent == "order":
                undo.seen(record)
            comments += not record.deleted
            if comments in sizes and not record.deleted:
                at_size(comments, undo)
        if n % BATCH == 0:
            for q in processors.values():
                take_changes(q.book)


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
    tracemalloc.start()
    base = tracemalloc.take_snapshot()

    def at_size(comments: int, _undo: Undo) -> None:
        snap = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, f"{ROOT}/*"), tracemalloc.Filter(False, f"{ROOT}/.venv/*")]
        )
        stats = snap.compare_to(base, "lineno")
        total = sum(s.size_diff for s in stats)
        print(f"{comments:>9,} comments: {total / 2**20:6.1f} MB allocated by the project, held")
        for s in stats[:TOP]:
            frame = s.traceback[0]
            where = f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
            code = linecache.getline(frame.filename, frame.lineno).strip()[:60]
            mb, per = s.size_diff / 2**20, s.size_diff / comments
            print(f"    {mb:6.1f} MB {per:5.0f} B/comment  {where:<28} {code}")

    run(sizes, streams, seed, at_size)
    tracemalloc.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,100000,200000", help="comments")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    print(f"order books of {args.streams} streams over one session")
    undo_pass(sizes, args.streams, args.seed)
    if not args.skip_memory:
        memory_pass(sizes, args.streams, args.seed)


if __name__ == "__main__":
    main()
