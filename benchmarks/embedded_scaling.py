"""The embedded mode over one long session: throughput and peak memory at 10k, 50k and 200k
comments, beside the parser's own single-core throughput on the same comments.

    python benchmarks/embedded_scaling.py [--sizes 10000,50000,200000] [--streams 2]
    python benchmarks/embedded_scaling.py --instructions 1000,3000   # valgrind, a few minutes

Each size is one simulated session (2 streams, the bundled catalogs, 50 comments/s each) run as
`chotdon run --no-serve --exit-at-end` runs it (the store, the feed's views, the metrics), into a
fresh SQLite file, in a child process: throughput is comments over the session's wall time,
peak memory the child's maximum resident set. The parser column parses the same comments with
the product on screen, as the pipeline does, on one core in this process.

The split says where a comment's time goes: the parser's µs per comment, the rest of the
pipeline's (the session's µs per comment less the parser's: reading, resolving, SQLite, the
feed, the metrics), both in wall time and in CPU time (all the child's threads; it moves less
than wall time when other processes share the cores). The parser build (pure Python or
compiled with mypyc: `make parsers`) is printed, as it moves the parser's figure most. A second
table splits the rest's CPU time by stage: resolving (the stream core run alone in this process,
less the parser), the rest of the event loop's thread (of it the garbage collector's, timed by
gc.callbacks), and the SQLite writer's thread (the child's other threads).

On a machine others share, rates and CPU times move with their load; `--instructions A,B`
counts instead, with valgrind, the instructions of a session of A and of B comments, and of the
same comments read and parsed, and read only: the difference between the sizes, per comment,
is what a comment costs the session and the parser, start-up left out.

Goals (issue 12): throughput at 200k within 20% of 10k; peak memory at 200k under 400 MB;
throughput at least 70% of the parser's.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from chotdon.catalog import Catalog, load_catalog
from chotdon.records import Comment, SetCurrent
from ingest.simulator import SimRecord, simulate, stream_catalogs, write_jsonl
from ingest.sources import JsonLinesSource, SourceRecord, read_record
from parsers import BUILD, Parser
from stream_jobs.book_rows import take_changes
from stream_jobs.embedded import BATCH_SIZE
from stream_jobs.embedded_session import SessionOptions, run_session
from stream_jobs.order_book import new_book
from stream_jobs.processor import StreamProcessor

RATE = 50.0  # comments/s per stream
START_TS = 1_760_000_000.0


def catalogs(streams: int) -> list[Catalog]:
    return stream_catalogs([load_catalog("kim-an"), load_catalog("phu-xuyen")], streams)


def session(comments: int, streams: int, seed: int) -> list[SimRecord]:
    """The first `comments` comments of a simulated session, with its other records."""
    return list(session_records(comments, streams, seed))


def session_records(comments: int, streams: int, seed: int) -> Iterator[SimRecord]:
    """`session`, one record at a time."""
    duration = comments / (RATE * streams) * 1.1 + 10  # the simulator's counts vary a little
    seen = 0
    for record in simulate(
        catalogs(streams), rate=RATE, duration=duration, seed=seed, start_ts=START_TS
    ):
        if isinstance(record, Comment):
            if seen == comments:
                return
            seen += 1
        yield record


def parser_us(records: Sequence[SourceRecord], streams: int) -> tuple[float, float]:
    """(wall µs, CPU µs per comment) of the parser alone, as the pipeline calls it
    (`parse`, with its cache)."""
    parsers = {c.stream: Parser(c) for c in catalogs(streams)}
    current: dict[str, str | None] = {}
    comments = [r for r in records if isinstance(r, Comment | SetCurrent)]
    started, cpu = time.perf_counter(), time.process_time()
    n = 0
    for record in comments:
        if isinstance(record, SetCurrent):
            current[record.stream] = record.code
        else:
            parsers[record.stream].parse(record.text, current.get(record.stream))
            n += 1
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return wall / n * 1e6, cpu / n * 1e6


def core_us(records: list[SimRecord], streams: int) -> float:
    """CPU µs per comment of the stream core alone, as the runner calls it: each comment parsed
    and resolved into its stream's book, each batch's changes and stock levels taken."""
    processors = {c.stream: StreamProcessor(c, new_book(c)) for c in catalogs(streams)}
    cpu, n = time.process_time(), 0
    for i, record in enumerate(records, 1):
        if isinstance(record, SetCurrent):
            processors[record.stream].current = record.code
        elif isinstance(record, Comment):
            processors[record.stream].comment(record)
            n += 1
        if i % BATCH_SIZE == 0:
            for p in processors.values():
                take_changes(p.book)
                p.take_stock()
    return (time.process_time() - cpu) / n * 1e6


class Collections:
    """The CPU time the garbage collector takes (gc.callbacks: told at each start and stop)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._told)

    def _told(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started


def child(source: str, db: str, streams: int) -> None:
    """One session in this process; prints comments, wall seconds and CPU seconds as JSON: all
    the threads', the event loop's thread's (the rest is the SQLite writer's and the file
    reader's threads) and the collector's (in the loop's thread, mostly)."""
    options = SessionOptions(catalogs(streams), db, serve=False)
    collections = Collections()
    started, cpu, loop = time.perf_counter(), time.process_time(), time.thread_time()
    stats = asyncio.run(run_session(options, JsonLinesSource(source), log=lambda _m: None))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {"comments": stats.comments, "seconds": wall, "cpu": cpu, "peak_kb": peak_kb()}
    result |= {"loop_cpu": time.thread_time() - loop, "gc_cpu": collections.seconds}
    print(json.dumps(result))


def peak_kb() -> int:
    """This process's peak resident set since its exec (VmHWM). Its rusage would not do: a child
    started by fork/vfork + exec keeps the parent's high-water mark in ru_maxrss."""
    return status_kb("self", "VmHWM:")


def status_kb(pid: int | str, field: str) -> int:
    """A kB figure of /proc/<pid>/status ("VmHWM:", "VmRSS:")."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field))


@dataclass
class Session:
    """One embedded session's figures, per comment (µs) where not said."""

    comments: int
    wall: float
    cpu: float  # all threads
    loop_cpu: float  # the event loop's thread: reading, parsing, resolving, the feed, metrics
    gc_cpu: float  # the collector's, within loop_cpu mostly
    peak_mb: float


def embedded(source: Path, db: Path, streams: int) -> Session:
    """One session in a child process."""
    cmd = [sys.executable, __file__, "--child", str(source), str(db), "--streams", str(streams)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE)
    if proc.returncode:
        raise SystemExit(f"the embedded session failed (exit {proc.returncode})")
    result = json.loads(proc.stdout)
    n = result["comments"]
    per = {k: result[k] / n * 1e6 for k in ("seconds", "cpu", "loop_cpu", "gc_cpu")}
    return Session(
        n, per["seconds"], per["cpu"], per["loop_cpu"], per["gc_cpu"], result["peak_kb"] / 1024
    )


CALLGRIND_KINDS = ("session", "parse", "read")


def parse_child(source: str, streams: int, parse: bool) -> None:
    """The source's records read (and, with `parse`, each comment parsed as `parser_us` does):
    what `instructions` subtracts from the session."""
    with open(source, "rb") as f:
        records = [read_record(line.decode()) for line in f]
    if parse:
        parser_us(records, streams)


def callgrind(kind: str, source: Path, db: Path, streams: int) -> int:
    """Instructions valgrind counts in a child: an embedded session, or the records read and
    parsed, or only read."""
    out = db.with_suffix(".callgrind")
    child_args = (
        ["--child", str(source), str(db)] if kind == "session" else [f"--{kind}", str(source)]
    )
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable]
    cmd += [__file__, *child_args, "--streams", str(streams)]
    subprocess.run(cmd, check=True, capture_output=True)
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    out.unlink()
    return int(totals.split()[1])


def instructions(sizes: list[int], streams: int, seed: int, work: Path) -> None:
    """Load-independent figures: instructions per comment of the session, of the parser (parse
    less read) and of the rest, from the difference between two sizes (start-up cancels)."""
    counts: dict[str, list[int]] = {kind: [] for kind in CALLGRIND_KINDS}
    for size in sizes:
        source = work / f"session-{size}.jsonl"
        with source.open("wb") as f:
            write_jsonl(session(size, streams, seed), f)
        for kind in CALLGRIND_KINDS:
            counts[kind].append(callgrind(kind, source, work / f"{kind}-{size}.db", streams))
    n = sizes[1] - sizes[0]
    per = {kind: (c[1] - c[0]) / n / 1e3 for kind, c in counts.items()}
    parser = per["parse"] - per["read"]
    rest = per["session"] - parser
    print(f"instructions per comment (valgrind; sessions of {sizes[0]:,} and {sizes[1]:,})")
    print(f"  embedded {per['session']:,.0f} k: the parser {parser:,.0f} k, the rest {rest:,.0f} k")
    print(f"  the parser's share of them {parser / per['session']:.0%}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000,50000,200000", help="comments per session")
    p.add_argument("--streams", type=int, default=2)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument(
        "--instructions",
        metavar="A,B",
        help="instead: instructions per comment counted by valgrind between sessions of A and B "
        "comments (a few minutes; e.g. 1000,3000)",
    )
    p.add_argument("--child", nargs=2, metavar=("SOURCE", "DB"), help=argparse.SUPPRESS)
    p.add_argument("--parse", metavar="SOURCE", help=argparse.SUPPRESS)
    p.add_argument("--read", metavar="SOURCE", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.streams)
        return
    if args.parse or args.read:
        parse_child(args.parse or args.read, args.streams, parse=bool(args.parse))
        return
    work = Path(tempfile.mkdtemp(prefix="chotdon-embedded-bench-"))
    if args.instructions:
        instructions([int(s) for s in args.instructions.split(",")], args.streams, args.seed, work)
        return
    print(f"embedded mode, one session each, {args.streams} streams; cpus: {os.cpu_count()}")
    print(f"parser build: {BUILD}; load average {os.getloadavg()[0]:.1f} at the start")
    print(
        f"{'':9}  {'throughput (comments/s)':^29}  {'peak':>6}  {'wall µs/comment':^15}  ", end=""
    )
    print(f"{'CPU µs/comment':^21}")
    print(f"{'comments':>9}  {'embedded':>8} {'parser':>6} {'ratio':>5} {'vs 1st':>7}  ", end="")
    print(f"{'memory':>6}  {'parser':>7} {'rest':>7}  {'parser':>7} {'rest':>7} {'ratio':>5}")
    first = 0.0
    splits = []
    for size in (int(s) for s in args.sizes.split(",")):
        records = session(size, args.streams, args.seed)
        source = work / f"session-{size}.jsonl"
        with source.open("wb") as f:
            write_jsonl(records, f)
        run = embedded(source, work / f"session-{size}.db", args.streams)
        parse_wall, parse_cpu = parser_us(records, args.streams)
        rate, parsed = 1e6 / run.wall, 1e6 / parse_wall
        first = first or rate
        print(f"{run.comments:>9,}  {rate:>8,.0f} {parsed:>6,.0f} {rate / parsed:>5.0%}", end="")
        print(f" {rate / first:>7.0%}  {run.peak_mb:>3,.0f} MB", end="")
        print(f"  {parse_wall:>7.1f} {run.wall - parse_wall:>7.1f}", end="")
        print(f"  {parse_cpu:>7.1f} {run.cpu - parse_cpu:>7.1f} {parse_cpu / run.cpu:>5.0%}")
        splits.append((run, parse_cpu, core_us(records, args.streams)))
        source.unlink()
    print(
        "ratio: the embedded throughput over the parser's (the parser's share of a comment's "
        "time); rest: the pipeline's µs per comment\nbeyond the parser's (reading, resolving, "
        f"SQLite, the feed's views, the metrics)\n(SQLite files in {work})"
    )
    print("\nthe rest's CPU µs per comment, by stage")
    print(f"{'comments':>9}  {'resolving':>9} {'loop, other':>11} {'of it GC':>8}  ", end="")
    print(f"{'SQLite writer':>13}")
    for run, parse_cpu, core_cpu in splits:
        print(f"{run.comments:>9,}  {core_cpu - parse_cpu:>9.1f}", end="")
        print(
            f" {run.loop_cpu - core_cpu:>11.1f} {run.gc_cpu:>8.1f}  {run.cpu - run.loop_cpu:>13.1f}"
        )
    print(
        "resolving: the stream core (parse, resolve, each batch's changes taken) in this process "
        "less the parser;\nloop, other: the rest of the event loop's thread (reading and "
        "decoding, the feed's views, the metrics, batching,\ngarbage collection); SQLite writer: "
        "the other threads (encoding and committing each batch; reading the file)"
    )


if __name__ == "__main__":
    main()
