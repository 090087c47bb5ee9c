"""The order book of one stream: the state the resolver reads and updates.

Orders, lines and review items are msgspec Structs; the book keeps them per customer and the
log of the inputs that changed it (`BookLog`): deleting a comment rolls the book back to before
it and replays what came after (see `resolver`). How a book is stored, a row per customer so
that what a checkpoint writes is what changed, is in `book_rows`.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, TypeAlias

import msgspec

from chotdon.catalog import VARIANT_JOIN, Catalog, Product
from chotdon.records import AdjustStock, Approve, Comment, Intent, Reject, decode, encode

from .quantities import Qty

Missing = Literal["product", "sku", "variant", "qty", "line"]
"""What a review item lacks: "product" (none named, none current), "sku" (not in this stream's
catalog), "variant" (a size or colour the product needs, missing or unknown), "qty" (no usable
quantity), "line" (a change matching none or several of the customer's lines)."""

WaitKey: TypeAlias = tuple[str, str | None]  # (customer, variant) of a line waiting for a pool
Entry: TypeAlias = Intent | Approve | Reject | AdjustStock


class Line(msgspec.Struct, kw_only=True):
    """One sku and variant in an order. `confirmed` holds reserved stock; `waiting` is the part no
    stock was left for, queued whole on the waitlist of the stock it draws on (see `pool`)."""

    sku: str
    variant: str | None
    unit_price: int  # VND, the catalog price of its variant when the line was opened
    confirmed: Qty = 0
    waiting: Qty = 0
    ticket: int = 0  # place in its pool's waitlist while `waiting` (the book's `tickets` then)


class Review(msgspec.Struct, frozen=True, kw_only=True):
    """A line the resolver would not guess, waiting for the host: the comment, who wrote it,
    what the parser understood and what is missing."""

    review_id: str
    comment_id: str
    customer: str
    customer_name: str
    text: str
    ts: float
    intent: Literal["order", "change"]  # approving a change sets the line instead of adding
    missing: Missing
    sku: str | None
    variant: str | None
    qty: Qty | None
    unit_price: int  # 0 when the sku is unknown


class Order(msgspec.Struct, kw_only=True):
    order_id: str
    customer: str  # platform:user_id
    number: int = 0  # the book's `opened` when this order was opened: the books' order
    customer_name: str = ""
    phone: str | None = None
    lines: list[Line] = []
    reviews: list[str] = []  # ids of this customer's pending review items, oldest first


WINDOW = 2000
"""Logged inputs an undo rolls back over without replaying the session: at ~20 order comments a
second in a busy stream, the last 100 s at least (the window holds `WINDOW` to 2 x `WINDOW`)."""


class Before(NamedTuple):
    """How the book stood before a logged input, as far as that input changed it: what rolling
    the book back over the input restores."""

    head: bytes  # stock per pool (remaining, reserved, waiting) and the counters (see `Head`)
    customers: dict[str, bytes | None]  # rows of the customers it touched (None: no order yet)


class Head(msgspec.Struct, array_like=True):
    remaining: dict[str, Qty]
    reserved: dict[str, Qty]
    waiting: dict[str, Qty]
    tickets: int
    opened: int


class Block(NamedTuple):
    """Older logged inputs, compressed together: (number, entry) pairs in number order."""

    first: int
    last: int
    data: bytes


_pairs = msgspec.msgpack.Decoder(list[tuple[int, bytes]])


class BookLog:
    """The inputs that changed a book, in the order applied, each encoded once as a record, with
    the index of their ids (what makes applying a comment or action twice change nothing).

    Entries are numbered; what changed since `take` is what a commit or a checkpoint writes: the
    entries appended, the numbers of the entries that left (dropped, or moved into a block) and
    the blocks written or gone, by their first number (a block keeps its range when entries
    leave it: its key in a store never changes). A deleted comment is logged as its deletion
    report (an Intent whose comment is `deleted`), so the deleted ids come back with the log
    after a restart.

    The last `WINDOW` to 2 x `WINDOW` entries (from `base` on) are kept as they are, each
    applied live with how the book stood before it (`journal`): an undo rolls back over them
    and replays only what came after the deleted comment. Older entries are compressed in
    blocks of `WINDOW`, read again only to undo a comment older than the window (rare: the
    book is then rebuilt from the start) or to check a repeated action id. What grows with the
    session is the id index (a comment id and a number per logged input, ~110 bytes: exact
    dedup and undo need every id) and the compressed blocks (~40 bytes per input), against
    ~400 bytes per input when every entry was kept as it is; the window and its journal stay
    under ~4 MB per stream (`python benchmarks/book_state.py`). The stores keep the log alike:
    a row per entry of the window, a row per block (the same bytes).
    """

    __slots__ = (
        "added",
        "base",
        "blocks",
        "dropped",
        "ids",
        "journal",
        "next",
        "recent",
        "sealed",
        "window",
    )

    def __init__(self, window: int = WINDOW) -> None:
        self.ids: dict[str, int] = {}  # comment or action id -> number
        self.recent: dict[int, bytes] = {}  # number -> encoded entry, from `base` on, in order
        self.journal: dict[int, Before] = {}  # for each entry from `base` on, but deletions
        self.blocks: list[Block] = []  # the entries before `base`
        self.base = 0  # the first number an undo can roll back to
        self.next = 0
        self.window = window
        self.added: dict[int, bytes] = {}
        self.dropped: list[int] = []  # since `take`: entries that left the window
        self.sealed: dict[int, bytes | None] = {}  # since `take`: blocks by first (None: gone)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BookLog) and list(self.rows()) == list(other.rows())

    def __repr__(self) -> str:
        return f"BookLog({len(self.ids)} ids, {len(self.recent)} recent, {len(self.blocks)} blocks)"

    def seen(self, entry_id: str) -> bool:
        return entry_id in self.ids

    def append(self, entry: Entry, before: Before | None) -> None:
        """Log an input applied live (`before`: how the book stood, None for a deletion)."""
        data = encode(entry)
        self.added[self.next] = data
        if before is not None:
            self.journal[self.next] = before
        self.put(self.next, data, entry_id(entry))
        if len(self.recent) >= 2 * self.window:
            self._compress(self.window)

    def put(self, number: int, data: bytes, eid: str) -> None:
        """Restore an entry (numbers ascending, after the blocks; `seal` once all are in)."""
        self.recent[number] = data
        self.index(number, eid)

    def put_block(self, first: int, data: bytes) -> list[tuple[int, bytes]]:
        """Restore a block written from `first` on (ascending, before the entries); its (number,
        entry) pairs, for the caller to `index`."""
        pairs = _pairs.decode(zlib.decompress(data))
        self.blocks.append(Block(first, pairs[-1][0], data))
        return pairs

    def index(self, number: int, eid: str) -> None:
        if eid:
            self.ids[eid] = number
        self.next = number + 1

    def seal(self) -> None:
        """After a restore: the entries put have no journal, an undo of one rebuilds the book."""
        self._compress(len(self.recent))
        self.base = self.next

    def drop(self, number: int, eid: str) -> None:
        if self.recent.pop(number, None) is None:
            self._drop_old(number)
        elif self.added.pop(number, None) is None:  # stored as an entry: its row goes
            self.dropped.append(number)
        self.journal.pop(number, None)
        if eid:
            del self.ids[eid]

    def get(self, number: int) -> bytes:
        if number in self.recent:
            return self.recent[number]
        return dict(_unpack(self._block(number)))[number]

    def rows(self, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """The encoded entries numbered from `start` on, in order (a copy: dropping while
        iterating is allowed)."""
        if start < self.base:
            for block in list(self.blocks):
                if block.last >= start:
                    yield from ((n, d) for n, d in _unpack(block) if n >= start)
        yield from [(n, d) for n, d in self.recent.items() if n >= start]

    def entries(self, start: int = 0) -> Iterator[tuple[int, Entry]]:
        """The entries numbered from `start` on, in order (dropping while iterating is allowed)."""
        for number, data in self.rows(start):
            entry = decode(data)
            assert isinstance(entry, Intent | Approve | Reject | AdjustStock)
            yield number, entry

    def take(self) -> tuple[list[tuple[int, bytes]], list[int], dict[int, bytes | None]]:
        """Since the last take: the entries appended, the numbers of those that left and the
        blocks written (None: gone)."""
        added, dropped, sealed = list(self.added.items()), self.dropped, self.sealed
        self.added, self.dropped, self.sealed = {}, [], {}
        return added, dropped, sealed

    def _compress(self, count: int) -> None:
        """Move the oldest `count` recent entries (and their journal) into blocks."""
        moving = list(itertools.islice(self.recent.items(), count))
        for start in range(0, len(moving), self.window):
            chunk = moving[start : start + self.window]
            block = Block(chunk[0][0], chunk[-1][0], _block_data(chunk))
            self.blocks.append(block)
            self.sealed[block.first] = block.data
        for number, _ in moving:
            del self.recent[number]
            self.journal.pop(number, None)
            if self.added.pop(number, None) is None:  # stored as an entry: its row goes
                self.dropped.append(number)
        self.base = next(iter(self.recent), self.next)

    def _block(self, number: int) -> Block:
        return self.blocks[self._block_index(number)]

    def _block_index(self, number: int) -> int:
        i = bisect.bisect_right(self.blocks, number, key=lambda b: b.first) - 1
        if i < 0 or self.blocks[i].last < number:
            raise KeyError(number)
        return i

    def _drop_old(self, number: int) -> None:
        i = self._block_index(number)
        block = self.blocks[i]
        left = [(n, d) for n, d in _unpack(block) if n != number]
        if left:  # the same range, so that it is stored under the same key
            self.blocks[i] = block._replace(data=_block_data(left))
        else:
            del self.blocks[i]
        self.sealed[block.first] = self.blocks[i].data if left else None


def _unpack(block: Block) -> list[tuple[int, bytes]]:
    return _pairs.decode(zlib.decompress(block.data))


def _block_data(pairs: list[tuple[int, bytes]]) -> bytes:
    return zlib.compress(msgspec.msgpack.encode(pairs), 1)  # fast; similar inputs compress well


class Tickets:
    """The tickets of a pool's lines waiting one same amount, the first in O(log n): a heap of
    them, with those that left taken out lazily (and the heap rebuilt when they are the most)."""

    __slots__ = ("heap", "live")

    def __init__(self) -> None:
        self.heap: list[int] = []
        self.live: set[int] = set()

    def add(self, ticket: int) -> None:
        self.live.add(ticket)
        heapq.heappush(self.heap, ticket)

    def remove(self, ticket: int) -> None:
        self.live.discard(ticket)
        if len(self.heap) > 2 * len(self.live) + 8:
            self.heap = sorted(self.live)

    def first(self) -> int | None:
        while self.heap and self.heap[0] not in self.live:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None


def refit(book: StreamBook, key: str, ticket: int, old: Qty, new: Qty) -> None:
    """Move a waiting line's ticket in its pool's `fitting` from amount `old` to `new` (0: not
    waiting)."""
    if old == new:
        return
    fitting = book.fitting.setdefault(key, {})
    if old:
        tickets = fitting[old]
        tickets.remove(ticket)
        if not tickets.live:
            del fitting[old]
    if new:
        fitting.setdefault(new, Tickets()).add(ticket)
    if not fitting:
        del book.fitting[key]


def entry_id(entry: Entry) -> str:
    """The id an entry applies once by ("" for an action without one, and for deletions)."""
    if isinstance(entry, Intent):
        assert entry.comment is not None  # checked by `resolver.apply`
        return "" if entry.comment.deleted else entry.comment.comment_id
    return entry.action_id


@dataclass(eq=True, kw_only=True)
class StreamBook:
    """Everything the resolver knows about one stream. Stock is per pool (a product's shared
    stock, keyed by sku, or a variant's own, see `pool`): `remaining` + `reserved` per pool equals
    `initial` plus the host's stock adjustments; the resolver mutates the book in place and
    notes in `changed` the customers whose order it touched (for `book_rows.take_changes`)."""

    stream: str
    initial: dict[str, Qty]  # stock per pool when the session started
    remaining: dict[str, Qty]  # free to reserve
    reserved: dict[str, Qty]  # held by confirmed lines
    orders: dict[str, Order] = field(default_factory=dict)  # by customer
    waitlist: dict[str, dict[int, WaitKey]] = field(default_factory=dict)  # by pool, ticket order
    # the waitlist's tickets by pool and waiting amount: what fits is found without a scan
    fitting: dict[str, dict[Qty, Tickets]] = field(default_factory=dict, compare=False, repr=False)
    waiting: dict[str, Qty] = field(default_factory=dict)  # by pool: its lines' waiting parts
    reviews: dict[str, Review] = field(default_factory=dict)  # pending
    log: BookLog = field(default_factory=BookLog)
    deleted: set[str] = field(default_factory=set)  # comment ids the platform reported deleted
    seq: int = 0  # of the last event emitted
    tickets: int = 0  # of the last line that started waiting
    opened: int = 0  # orders opened
    changed: set[str] = field(default_factory=set, compare=False)  # customers, since a take


def new_book(catalog: Catalog, stream: str | None = None) -> StreamBook:
    """An empty book for `stream` (the catalog's by default), stocked from the catalog."""
    initial = {key: stock for p in catalog.products for key, stock in pools(p).items()}
    return empty_book(catalog.stream if stream is None else stream, initial)


def empty_book(stream: str, initial: dict[str, Qty]) -> StreamBook:
    return StreamBook(
        stream=stream,
        initial=initial,
        remaining=dict(initial),
        reserved=dict.fromkeys(initial, 0),
    )


def variant_pool(sku: str, variant: str) -> str:
    """The key of the stock a variant owns (the catalog keeps " / " out of skus)."""
    return f"{sku}{VARIANT_JOIN}{variant}"


def pool(book: StreamBook, sku: str, variant: str | None) -> str:
    """The stock a line of `sku` in `variant` draws on: the variant's own, else the product's."""
    if variant is not None:
        own = variant_pool(sku, variant)
        if own in book.initial:
            return own
    return sku


def pool_owner(key: str) -> tuple[str, str | None]:
    """The sku and variant (None for a product's shared stock) of a pool key."""
    sku, _, variant = key.partition(VARIANT_JOIN)
    return sku, variant or None


def pools(product: Product) -> dict[str, Qty]:
    """A product's pools and their stock at the start: shared first, then each owned variant's."""
    out: dict[str, Qty] = {product.sku: product.stock}
    for option in product.options:
        if option.stock is not None:
            out[variant_pool(product.sku, option.variant)] = option.stock
    return out


def customer_key(comment: Comment) -> str:
    return f"{comment.platform}:{comment.user_id}"


def order_id(stream: str, customer: str) -> str:
    """Short, stable across restarts and replicas: one customer has one order per stream."""
    return hashlib.blake2b(f"{stream}\n{customer}".encode(), digest_size=6).hexdigest()


def review_id(comment_id: str, index: int) -> str:
    """The `index`-th unsettled item of a comment (0 for a comment naming nothing)."""
    return f"{comment_id}#{index}"
