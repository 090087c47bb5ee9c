"""Parser throughput on one core, on comments it has never seen.

    python benchmarks/parser_throughput.py [--comments 100000] [--seed 7] [--cli] [--no-pure]

Prints, in one run (compare figures of one run only: the machine is shared):
- which build of the parser it measured: compiled (`make parsers`, what ships) or pure Python
  (no build, or CHOTDON_PURE=1);
- `parse_uncached` on distinct comments (each signed with a viewer's name, a filler word and an
  emoji, so no cache answers): comments/s, p50 and p99 per comment;
- the floor: a loop that only reads the JSON line, normalises the text (NFC) and writes the line
  back, and how many times slower the parser is;
- the parser as the pipeline runs it (`parse`, with its cache of recent texts);
- the worst case of 1,000-character comments (real-shaped ones run together, and hostile ones);
- with `--cli`: `chotdon parse` on the same lines of one catalog (JSON Lines on stdin), against
  the floor program run the same way;
- when it measured the compiled build (unless `--no-pure`): the pure-Python parser on the same
  comments, in a second process, and how many times faster the compiled one is.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

from chotdon.catalog import load_catalog
from ingest.comment_text import distinct_texts
from parsers import BUILD, Parser
from parsers.build import PURE
from parsers.text import MAX_CHARS

CATALOGS = ("kim-an", "phu-xuyen")
BUILDS = {"compiled": "mypyc, `make parsers`", "pure": f"Python; {PURE.env}=1 or no build"}
Corpus = list[tuple[Parser, str, str | None]]

# The floor program: what any JSON Lines tool has to do per comment, and nothing more.
FLOOR = """\
import json, sys, unicodedata
out = sys.stdout
for line in sys.stdin:
    record = json.loads(line)
    record["text"] = unicodedata.normalize("NFC", record["text"])
    out.write(json.dumps(record, ensure_ascii=False) + "\\n")
"""


def corpus(n: int, seed: int) -> Corpus:
    parsers = {name: Parser(load_catalog(name)) for name in CATALOGS}
    by_stream = {p.catalog.stream: p for p in parsers.values()}
    texts = distinct_texts([p.catalog for p in parsers.values()], n, seed)
    return [(by_stream[c.stream], text, current) for c, text, current in texts]


def long_comments(items: Corpus) -> Corpus:
    """1,000-character comments: real ones run together, and hostile ones made of what costs
    the parser most (numbers, units, product words, cue words, clause breaks)."""
    out: Corpus = []
    parser = items[0][0]
    for k in range(0, min(len(items), 20_000), 100):
        run = [t for p, t, _ in items[k : k + 100] if p is parser]
        text = " ".join(run)[:MAX_CHARS]
        out.append((parser, text, items[k][2]))
    for unit in (
        "1 ",
        "2 hộp ",
        "ổi ",
        "chốt ",
        "hai mươi lăm ",
        "a1 x2 ",
        "size 41 ",
        "không lấy ",
        "hôm qua ",
        "?",
        ", ",
        "0912345678 ",
        "1kg2 ",
        "bao nhiêu ",
        "hộp quà ổi kim an ",
        "chốt 2 hộp ổi và 1 chai nước ép, ",
    ):
        out.append((parser, (unit * MAX_CHARS)[:MAX_CHARS], None))
    return out


def timed(items: Corpus, call: Callable[[Parser, str, str | None], object]) -> list[int]:
    clock = time.perf_counter_ns
    times = []
    for parser, text, current in items:
        t0 = clock()
        call(parser, text, current)
        times.append(clock() - t0)
    return times


def report(label: str, times: list[int]) -> float:
    total = sum(times) / 1e9
    times = sorted(times)
    p50 = statistics.median(times) / 1000
    p99 = times[int(len(times) * 0.99)] / 1000
    rate = len(times) / total
    print(
        f"{label:<38} {rate:>10,.0f} comments/s   p50 {p50:7.1f} µs   p99 {p99:7.1f} µs"
        f"   max {times[-1] / 1000:8.1f} µs"
    )
    return rate


def floor_rate(lines: list[str]) -> float:
    """The floor, in this process: read the JSON line, NFC, write it back."""
    out = io.StringIO()
    start = time.perf_counter()
    for line in lines:
        record = json.loads(line)
        record["text"] = unicodedata.normalize("NFC", record["text"])
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(lines) / (time.perf_counter() - start)


def through_cli(lines: list[str]) -> None:
    """`chotdon parse` against the floor program, both fed the same file on stdin."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "comments.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        runs = {
            "chotdon parse (CLI, start-up included)": [
                sys.executable,
                "-m",
                "chotdon",
                "parse",
                "--catalog",
                CATALOGS[0],
            ],
            "floor program (JSON + NFC, same way)": [sys.executable, "-c", FLOOR],
        }
        rates = {}
        for label, cmd in runs.items():
            with path.open("rb") as stdin:
                start = time.perf_counter()
                subprocess.run(cmd, stdin=stdin, stdout=subprocess.DEVNULL, check=True)
                rates[label] = len(lines) / (time.perf_counter() - start)
            print(f"{label:<38} {rates[label]:>10,.0f} comments/s")
        cli, floor = rates.values()
        print(f"{'CLI / floor':<38} {floor / cli:>10.1f}x slower than the floor")


def pure_rate(comments: int, seed: int) -> float:
    """parse_uncached's rate on the same corpus, measured by the pure-Python parser in a child."""
    cmd = [sys.executable, __file__, f"--comments={comments}", f"--seed={seed}", "--rate-only"]
    env = {**os.environ, PURE.env: "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comments", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--cli", action="store_true", help="also time `chotdon parse` on stdin")
    ap.add_argument("--no-pure", action="store_true", help="skip the pure-Python comparison")
    ap.add_argument("--rate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"building a corpus of {args.comments:,} distinct comments…", file=sys.stderr)
    items = corpus(args.comments, args.seed)
    if args.rate_only:
        times = timed(items, Parser.parse_uncached)
        print(len(times) / (sum(times) / 1e9))
        return 0
    load = os.getloadavg()[0]  # other work on the machine moves every figure below
    print(f"parser build: {BUILD} ({BUILDS[BUILD]}); load average {load:.1f} at the start")
    print(f"corpus: {len(items):,} comments, all distinct (text, current) pairs")
    rate = report("parse_uncached (distinct comments)", timed(items, Parser.parse_uncached))
    lines = [
        json.dumps({"id": f"c{k}", "text": t, "current": c}, ensure_ascii=False) + "\n"
        for k, (_, t, c) in enumerate(items)
    ]
    floor = floor_rate(lines)
    print(f"{'floor (JSON line + NFC + write)':<38} {floor:>10,.0f} comments/s")
    print(f"{'parse_uncached / floor':<38} {floor / rate:>10.1f}x slower than the floor")
    report("parse (pipeline, with cache)", timed(items, Parser.parse))
    report(
        "1,000-character comments (uncached)", timed(long_comments(items), Parser.parse_uncached)
    )
    if args.cli:
        first = items[0][0]
        through_cli([line for (p, _, _), line in zip(items, lines, strict=True) if p is first])
    if BUILD == "compiled" and not args.no_pure:
        pure = pure_rate(args.comments, args.seed)
        print(f"{'parse_uncached, pure Python':<38} {pure:>10,.0f} comments/s")
        print(f"{'compiled / pure':<38} {rate / pure:>10.1f}x faster than pure Python")
    return 0


if __name__ == "__main__":
    sys.exit(main())
