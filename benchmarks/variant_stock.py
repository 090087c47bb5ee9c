"""The order book with stock per variant against the same catalog with one shared stock per
product: microseconds per intent at the start and at the end of a long session.

    python benchmarks/variant_stock.py [--intents 50000] [--seed 1]

One stream, the fashion catalog of tests/data/variants (a shirt whose six size-colour
combinations each own their stock, a dress with one), its stock multiplied so that most orders
are confirmed and some variants sell out. The intents are orders (70%), variant changes (15%)
and cancels (15%) from 2,000 customers, each a random variant; every 200 intents the host adds
stock to a variant, promoting its waitlist. Demand is far above stock, so waitlists grow to
thousands of entries. Goal: stock per variant costs no more per input than one shared stock.
What the last tenth costs above the first is the scan of those long waitlists when a little
stock comes back (promotion stops as soon as none is left).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import msgspec

from chotdon.catalog import Catalog, load_catalog
from chotdon.records import AdjustStock, Comment, Intent, IntentKind, Item
from stream_jobs import apply, apply_action, new_book

CATALOG = Path(__file__).resolve().parent.parent / "tests" / "data" / "variants" / "thoi-trang.json"
STOCK_SCALE = 50
SLICE = 0.1  # the share of the session each end's figure covers


def scaled(catalog: Catalog, shared: bool) -> Catalog:
    """The catalog with STOCK_SCALE times the stock; with `shared`, the variants' own stock is
    added to their product's (prices kept) so every variant draws on one stock."""
    products = []
    for p in catalog.products:
        own = sum(o.stock or 0 for o in p.options)
        options = tuple(
            msgspec.structs.replace(
                o, stock=None if shared or o.stock is None else o.stock * STOCK_SCALE
            )
            for o in p.options
        )
        stock = (p.stock + (own if shared else 0)) * STOCK_SCALE
        products.append(msgspec.structs.replace(p, stock=stock, options=options))
    return msgspec.structs.replace(catalog, products=tuple(products))


def session(catalog: Catalog, n: int, seed: int) -> list[Intent | AdjustStock]:
    rng = random.Random(seed)
    choices = [(p.sku, v) for p in catalog.products for v in p.variants or (None,)]
    owned = [(p.sku, o.variant) for p in catalog.products for o in p.options if o.stock]
    weights: dict[IntentKind, int] = {"order": 14, "change": 3, "cancel": 3}
    kinds = [kind for kind, n in weights.items() for _ in range(n)]
    out: list[Intent | AdjustStock] = []
    variant: str | None
    for i in range(n):
        if i % 200 == 199 and owned:
            sku, variant = rng.choice(owned)
            out.append(
                AdjustStock(
                    stream=catalog.stream, sku=sku, variant=variant, delta=5, action_id=f"a{i}"
                )
            )
            continue
        sku, variant = rng.choice(choices)
        kind = rng.choice(kinds)
        qty = None if kind != "order" else rng.choice([1, 1, 2, 3])
        comment = Comment(
            stream=catalog.stream,
            comment_id=f"c{i}",
            user_id=f"u{rng.randrange(2000)}",
            text="",
            ts=float(i),
        )
        out.append(Intent(intent=kind, items=[Item(sku, qty, variant)], comment=comment))
    return out


def run(catalog: Catalog, ops: list[Intent | AdjustStock], edge: int) -> tuple[float, ...]:
    """CPU seconds per input over the first `edge` inputs, the last `edge`, and all of them
    (CPU time: the machine may be shared, and the book does no I/O)."""
    book = new_book(catalog)
    marks = [time.process_time()]
    for i, op in enumerate(ops, 1):
        if isinstance(op, Intent):
            book, _ = apply(book, op, catalog)
        else:
            book, _ = apply_action(book, op, catalog)
        if i in (edge, len(ops) - edge):
            marks.append(time.process_time())
    marks.append(time.process_time())
    first, last, whole = marks[1] - marks[0], marks[3] - marks[2], marks[3] - marks[0]
    return first / edge, last / edge, whole / len(ops)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--intents", type=int, default=50_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    base = load_catalog(CATALOG)
    edge = max(1, int(args.intents * SLICE))
    print(f"{args.intents:,} inputs, one stream; CPU µs per input (first / last {SLICE:.0%}, all)")
    for label, shared in (("stock per variant", False), ("shared stock", True)):
        catalog = scaled(base, shared)
        first, last, whole = run(catalog, session(catalog, args.intents, args.seed), edge)
        print(f"{label:18} {first * 1e6:7.1f} {last * 1e6:7.1f} {whole * 1e6:7.1f}")


if __name__ == "__main__":
    main()
