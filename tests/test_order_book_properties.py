"""Properties of order resolution over generated sessions: stock, totals, replay and deletion."""

from __future__ import annotations

import math
from collections import defaultdict

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from chotdon.catalog import Catalog, Product, load_catalog, parse_catalog
from chotdon.records import AdjustStock, Approve, Intent, IntentKind, Item, OrderEvent, Reject
from stream_jobs import (
    Action,
    ActionError,
    StreamBook,
    apply,
    apply_action,
    new_book,
    order_lines,
)
from stream_jobs.order_book import pool
from tests.test_order_book import make_intent, stored


def _scarce(catalog: str, sku: str, stock: float) -> Product:
    product = load_catalog(catalog).by_sku(sku)
    assert product is not None
    return msgspec.structs.replace(product, stock=stock)


# A shirt in size x colour: two combinations own stock (one at its own price), one has only its
# own price, and the rest share the shirt's stock.
SHIRT = parse_catalog(
    {
        "stream": "phien-thu",
        "products": [
            {
                "sku": "AO-THUN",
                "code": "A1",
                "name": "Áo thun",
                "unit": "cái",
                "price": 150_000,
                "stock": 1,
                "variants": {"size": ["M", "L"], "màu": ["trắng", "đen"]},
                "options": [
                    {"variant": "M / trắng", "stock": 2},
                    {"variant": "L / đen", "price": 170_000, "stock": 1},
                    {"variant": "M / đen", "price": 160_000},
                ],
            }
        ],
    }
).products[0]

# Little stock, so sessions sell out and waitlists fill: shoes need a size, guava is sold by kg.
CATALOG = Catalog(
    stream="phien-thu",
    title="Phiên thử",
    products=(
        _scarce("phu-xuyen", "GIAY-DA", 3),
        _scarce("phu-xuyen", "HOP-GO", 2),
        _scarce("kim-an", "OI-KG", 1.5),
        SHIRT,
    ),
)
STREAM = CATALOG.stream
SKUS = ["GIAY-DA", "HOP-GO", "OI-KG", "AO-THUN", "KHONG-CO"]

LINES = [("GIAY-DA", "40"), ("GIAY-DA", "42"), ("HOP-GO", None), ("OI-KG", None)]
LINES += [("AO-THUN", v) for v in SHIRT.variants]
VALID = {Item(sku, amount, variant) for sku, variant in LINES for amount in (0.5, 1, 2, 3)}
valid_items = st.sampled_from(sorted(VALID, key=str))
any_items = st.builds(
    Item,
    st.sampled_from(SKUS),
    st.sampled_from([None, 0, 0.1, 0.2, 1, 2]),
    st.sampled_from([None, "40", "42", "M / trắng", "L / đen", "M / đen", "L", "đen"]),
)
items = st.one_of(valid_items, valid_items, any_items)  # mostly lines that settle
kinds: st.SearchStrategy[IntentKind] = st.sampled_from(
    ["order", "order", "order", "change", "cancel", "cancel", "contact", "question"]
)


@st.composite
def comments(draw: st.DrawFn, deletions: bool = True, max_size: int = 40) -> list[Intent]:
    """A stream's comments in order; with `deletions`, some later report an earlier one deleted."""
    out: list[Intent] = []
    for i in range(draw(st.integers(1, max_size))):
        if deletions and out and draw(st.integers(0, 7)) == 0:
            target = draw(st.sampled_from(out)).comment
            assert target is not None
            out.append(
                make_intent(STREAM, target.comment_id, target.user_id, "other", deleted=True)
            )
            continue
        kind = draw(kinds)
        phone = draw(st.sampled_from([None, None, None, "0912345678", "0387654321"]))
        out.append(
            make_intent(
                STREAM,
                f"c{i}",
                draw(st.sampled_from(["lan", "hoa", "minh"])),
                kind,
                [] if kind == "contact" else draw(st.lists(items, max_size=2)),
                phone="0976543210" if kind == "contact" else phone,
            )
        )
    return out


@st.composite
def sessions(draw: st.DrawFn) -> list[Intent | Action]:
    """Comments with host actions in between: approvals (mostly with a valid detail) and
    rejections of the session's review items, stock added and removed."""
    ops: list[Intent | Action] = list(draw(comments()))
    review = st.sampled_from(sorted(_likely_reviews(ops)) or ["c0#0"])
    actions = st.one_of(
        st.builds(
            lambda rid, line, amount: Approve(
                stream=STREAM, review_id=rid, sku=line[0], variant=line[1], qty=amount
            ),
            review,
            st.sampled_from(LINES) | items.map(lambda item: (item.sku, item.variant)),
            st.sampled_from([0, 0.5, 1, 2]),
        ),
        st.builds(lambda rid: Reject(stream=STREAM, review_id=rid), review),
        st.builds(
            lambda sku, variant, delta: AdjustStock(
                stream=STREAM, sku=sku, variant=variant, delta=delta
            ),
            st.sampled_from(SKUS),
            st.sampled_from([None, None, "M / trắng", "L / đen", "M / đen", "40"]),
            st.sampled_from([-2, -1, -0.3, 1, 2.5]),
        ),
    )
    for n, (at, action) in enumerate(draw(st.lists(st.tuples(st.integers(1, 40), actions)))):
        ops.insert(at, msgspec.structs.replace(action, action_id=f"a{n}"))
    return ops


def _likely_reviews(ops: list[Intent | Action]) -> set[str]:
    """Ids of the review items the comments probably raise, for approvals to hit."""
    out = set()
    for op in ops:
        if isinstance(op, Intent) and op.comment and op.intent in ("order", "change"):
            cid = op.comment.comment_id
            out |= {f"{cid}#{i}" for i, x in enumerate(op.items) if x not in VALID} or {f"{cid}#0"}
    return out


def run(
    ops: list[Intent] | list[Intent | Action], book: StreamBook | None = None, check: bool = False
) -> tuple[StreamBook, list[OrderEvent]]:
    book = book or new_book(CATALOG)
    events: list[OrderEvent] = []
    for op in ops:
        if isinstance(op, Intent):
            book, new = apply(book, op, CATALOG)
        else:
            try:
                book, new = apply_action(book, op, CATALOG)
            except ActionError:
                new = []
        events += new
        if check:
            assert_consistent(book, events)
    return book, events


def assert_consistent(book: StreamBook, events: list[OrderEvent]) -> None:
    """Stock per pool (a product's shared stock, or a variant's own) never negative and adding
    up; every line at its variant's price."""
    added: defaultdict[str, float] = defaultdict(float)
    for _, entry in book.log.entries():
        if isinstance(entry, AdjustStock):
            added[pool(book, entry.sku, entry.variant)] += entry.delta
    confirmed: defaultdict[str, float] = defaultdict(float)
    waiting, reviews = [], []
    for customer, order in book.orders.items():
        assert len({(x.sku, x.variant) for x in order.lines}) == len(order.lines)  # merged
        for line in order.lines:
            assert line.confirmed > 0 or line.waiting > 0
            product = CATALOG.by_sku(line.sku)
            assert product is not None and line.unit_price == product.price_of(line.variant)
            key = pool(book, line.sku, line.variant)
            assert key == (
                f"{line.sku} / {line.variant}" if product.owns_stock(line.variant) else line.sku
            )
            confirmed[key] += line.confirmed
            if line.waiting:
                assert line.waiting > book.remaining[key]  # nothing waits that would fit
                waiting.append((key, customer, line.variant))
        reviews += [(rid, customer) for rid in order.reviews]
    assert set(book.initial) == set(book.remaining) == set(book.reserved)
    for key, start in book.initial.items():
        assert book.remaining[key] >= 0 and book.reserved[key] >= 0
        assert math.isclose(book.remaining[key] + book.reserved[key], start + added[key])
        assert math.isclose(book.reserved[key], confirmed[key], abs_tol=1e-9)
    queued = [(key, c, v) for key, queue in book.waitlist.items() for c, v in queue.values()]
    assert sorted(queued, key=str) == sorted(waiting, key=str) and all(book.waitlist.values())
    assert all(list(queue) == sorted(queue) for queue in book.waitlist.values())  # ticket order
    indexed = {(k, t, a) for k, by in book.fitting.items() for a, ts in by.items() for t in ts.live}
    assert indexed == {
        (pool(book, x.sku, x.variant), x.ticket, x.waiting)
        for order in book.orders.values()
        for x in order.lines
        if x.waiting
    }  # what fits is looked up by amount: the index holds each waiting line, at its amount
    per_pool: defaultdict[str, float] = defaultdict(float)
    for order in book.orders.values():
        for line in order.lines:
            per_pool[pool(book, line.sku, line.variant)] += line.waiting
    assert book.waiting.keys() == {k for k, v in per_pool.items() if v}  # no zero totals
    assert all(math.isclose(book.waiting[k], per_pool[k]) for k in book.waiting)
    assert sorted(reviews) == sorted((rid, r.customer) for rid, r in book.reviews.items())

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for event in events:
        confirmed_lines = [x for x in event.lines if x.status == "confirmed"]
        assert event.total == round(sum(x.qty * x.unit_price for x in confirmed_lines))
    last = {e.customer: e for e in events}
    for customer, order in book.orders.items():  # a sink keeping the last event is up to date
        lines = order_lines(book, order)
        if customer in last:
            assert last[customer].lines == lines
            assert not lines or last[customer].phone == order.phone
        else:
            assert lines == []


# No deadline on the properties below: a shared, loaded machine can take 250 ms over one example
# the book applies in 10 ms; speed is measured by benchmarks/variant_stock.py, not by a test.


def order_book_view(book: StreamBook) -> tuple[object, ...]:
    """What the book says about orders and stock (not its event counter or tombstones)."""
    logged = [
        e
        for _, e in book.log.entries()
        if not (isinstance(e, Intent) and e.comment and e.comment.deleted)
    ]
    return (book.orders, book.remaining, book.reserved, book.waitlist, book.reviews, logged)


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_stock_totals_waitlist_and_events_stay_consistent(ops: list[Intent | Action]) -> None:
    book, _ = run(ops, check=True)
    assert stored(book) == book


@settings(deadline=None)
@given(comments())
def test_replaying_a_stream_again_changes_nothing(ops: list[Intent]) -> None:
    book, _ = run(ops)
    once = stored(book)
    book, events = run(ops, book)
    assert events == [] and book == once


@settings(deadline=None)
@given(comments(), st.data())
def test_duplicates_interleaved_give_the_same_book_and_events(
    ops: list[Intent], data: st.DataObject
) -> None:
    noisy = list(ops)
    for _ in range(data.draw(st.integers(1, 10))):
        source = data.draw(st.integers(0, len(ops) - 1))
        # a redelivery comes after the original (at or after its position in the noisy list)
        first = noisy.index(ops[source])
        noisy.insert(data.draw(st.integers(first + 1, len(noisy))), ops[source])
    assert run(noisy, check=True) == run(ops)


@settings(max_examples=200, deadline=None)
@given(comments(deletions=False), st.data())
def test_deleting_a_comment_equals_never_having_seen_it(
    ops: list[Intent], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(ops) - 1))
    at = data.draw(st.integers(index + 1, len(ops)))
    gone = ops[index].comment
    assert gone is not None
    deletion = make_intent(STREAM, gone.comment_id, gone.user_id, "other", deleted=True)
    deleted, _ = run([*ops[:at], deletion, *ops[at:]], check=True)
    never, _ = run(ops[:index] + ops[index + 1 :])
    assert order_book_view(deleted) == order_book_view(never)
