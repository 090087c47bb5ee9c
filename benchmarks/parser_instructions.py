"""Parser cost in CPU instructions per comment, counted by valgrind (load-independent: on a
shared machine, comments/s moves with the neighbours' load; instruction counts do not).

    python benchmarks/parser_instructions.py [--comments 2000] [--seed 11]
    CHOTDON_PURE=1 python benchmarks/parser_instructions.py   # the pure-Python parser

Runs this script twice under `valgrind --tool=callgrind`: once building the corpus of distinct
comments (the one benchmarks/parser_throughput.py uses) and once building it and parsing every
comment uncached; the difference, divided by the comments, is what the parser costs each. It
counts the build that runs here (printed): compiled by `make parsers`, or pure Python.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from parser_throughput import BUILDS, corpus

from parsers import BUILD


def child(n: int, seed: int, parse: bool) -> None:
    items = corpus(n, seed)
    if parse:
        for parser, text, current in items:
            parser.parse_uncached(text, current)


def instructions(n: int, seed: int, parse: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--child",
            "parse" if parse else "corpus",
            f"--comments={n}",
            f"--seed={seed}",
        ]
        subprocess.run(cmd, check=True, capture_output=True)
        for line in out.read_text().splitlines():
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("callgrind wrote no totals")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comments", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--child", choices=["corpus", "parse"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.comments, args.seed, args.child == "parse")
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    base = instructions(args.comments, args.seed, parse=False)
    total = instructions(args.comments, args.seed, parse=True)
    per = (total - base) / args.comments
    print(f"parser build: {BUILD} ({BUILDS[BUILD]})")
    print(
        f"parse_uncached: {per:,.0f} instructions per comment ({args.comments:,} distinct comments)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
