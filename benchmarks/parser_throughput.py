"""Parser throughput on one core: comments/s and time per comment (p50, p99).

    python benchmarks/parser_throughput.py [--comments 100000] [--seed 7]

Two figures: every comment parsed from scratch (`parse_uncached`), and the parser as the
pipeline runs it (`parse`, which remembers recent texts: a livestream repeats "chốt", "+1").
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

from chotdon.catalog import load_catalog
from ingest.comment_text import CommentTexts
from parsers import Parser


def corpus(n: int, seed: int) -> list[tuple[Parser, str, str | None]]:
    rng = random.Random(seed)
    parsers = [Parser(load_catalog(name)) for name in ("kim-an", "phu-xuyen")]
    makers = [CommentTexts(p.catalog, rng) for p in parsers]
    out = []
    for i in range(n):
        k = i % 2
        current = rng.choice(parsers[k].catalog.products) if rng.random() < 0.8 else None
        text = makers[k].text(makers[k].kind(), current)
        out.append((parsers[k], text, current.code if current else None))
    return out


def run(label: str, items: list[tuple[Parser, str, str | None]], cached: bool) -> None:
    times = []
    clock = time.perf_counter_ns
    start = clock()
    for parser, text, current in items:
        t0 = clock()
        if cached:
            parser.parse(text, current)
        else:
            parser.parse_uncached(text, current)
        times.append(clock() - t0)
    total = (clock() - start) / 1e9
    times.sort()
    p50 = statistics.median(times) / 1000
    p99 = times[int(len(times) * 0.99)] / 1000
    print(
        f"{label:<34} {len(items) / total:>10,.0f} comments/s   "
        f"p50 {p50:6.1f} µs   p99 {p99:6.1f} µs   ({total:.2f} s)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comments", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    print(f"building a corpus of {args.comments:,} comments…", file=sys.stderr)
    items = corpus(args.comments, args.seed)
    unique = len({(p.catalog.stream, t, c) for p, t, c in items})
    print(f"corpus: {len(items):,} comments, {unique:,} distinct (text, current) pairs")
    run("parse_uncached (every comment)", items, cached=False)
    run("parse (pipeline, with cache)", items, cached=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
