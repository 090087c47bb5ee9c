"""The parser's outputs on every labelled set and on 100,000 simulated comments, kept in a
compressed golden file so a change that should not change behaviour (a speed-up) can be proved
not to. When a change is an intended, named fix, regenerate the file in its own commit:

    .venv/bin/python -m tests.golden --write

The file's first line is the SHA-256 of the inputs (set, catalog, current product and text of
every comment, in order), so a changed corpus is told apart from a changed parser; then one line
per comment: [intent, [[sku, qty, variant]…], phone, confidence, [[rule, start, end]…]].
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys
from collections.abc import Iterator
from pathlib import Path

from chotdon.catalog import Catalog, load_catalog
from chotdon.records import Intent
from ingest.comment_text import distinct_texts
from parsers import Parser

from .scoring import DATA

GOLDEN = Path(__file__).parent / "golden" / "parser_outputs.jsonl.xz"
SIMULATED = 100_000
SEED = 7
BUNDLED = ("kim-an", "phu-xuyen")

Case = tuple[str, str, str | None, str]  # set, catalog, current, text


def _catalog(name: str) -> Catalog:
    """A bundled catalog, or one the labelled sets bring (tests/data/catalogs/NAME.json)."""
    own = DATA / "catalogs" / f"{name}.json"
    return load_catalog(own if own.is_file() else name)


def cases() -> Iterator[Case]:
    """Every labelled comment (a set without catalogs, the real comments, is read against each
    bundled catalog), then the simulated ones."""
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                for name in [case["catalog"]] if "catalog" in case else BUNDLED:
                    yield path.name, name, case.get("current"), case["text"]
    catalogs = {load_catalog(name).stream: name for name in BUNDLED}
    for catalog, text, current in distinct_texts(
        [load_catalog(name) for name in BUNDLED], SIMULATED, SEED
    ):
        yield "simulated", catalogs[catalog.stream], current, text


def output(intent: Intent) -> str:
    return json.dumps(
        [
            intent.intent,
            [[i.sku, i.qty, i.variant] for i in intent.items],
            intent.phone,
            intent.confidence,
            [[m.rule, m.start, m.end] for m in intent.explanation],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def run() -> tuple[list[Case], str, list[str]]:
    """The cases, the digest of the inputs and the parser's output for each."""
    parsers: dict[str, Parser] = {}
    digest = hashlib.sha256()
    all_cases, outputs = [], []
    for case in cases():
        _, name, current, text = case
        if name not in parsers:
            parsers[name] = Parser(_catalog(name))
        digest.update(json.dumps(case, ensure_ascii=False).encode() + b"\n")
        all_cases.append(case)
        outputs.append(output(parsers[name].parse_uncached(text, current)))
    return all_cases, digest.hexdigest(), outputs


def read_golden() -> tuple[str, list[str]]:
    digest, *outputs = lzma.decompress(GOLDEN.read_bytes()).decode().splitlines()
    return digest, outputs


def write_golden() -> int:
    _, digest, outputs = run()
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_bytes(lzma.compress("\n".join([digest, *outputs, ""]).encode(), preset=9))
    return len(outputs)


def main() -> int:
    ap = argparse.ArgumentParser(description="The parser's golden outputs.")
    ap.add_argument("--write", action="store_true", help=f"rewrite {GOLDEN.name}")
    if ap.parse_args().write:
        print(f"{GOLDEN}: {write_golden():,} outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
