"""The order book of one stream: the state the resolver reads and updates, and its encoding.

The book is plain msgspec Structs, so the distributed mode can keep it in a Faust table and the
embedded mode in SQLite (`encode_state`/`decode_state`). It holds the log of the inputs that
changed it: deleting a comment rebuilds the book from that log without it (see `resolver`).
"""

from __future__ import annotations

import hashlib
from typing import Literal, TypeAlias

import msgspec

from chotdon.catalog import VARIANT_JOIN, Catalog, Product
from chotdon.records import AdjustStock, Approve, Comment, Intent, Reject

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
    customer_name: str = ""
    phone: str | None = None
    lines: list[Line] = []
    reviews: list[str] = []  # ids of this customer's pending review items, oldest first


class StreamBook(msgspec.Struct, kw_only=True):
    """Everything the resolver knows about one stream. Stock is per pool (a product's shared
    stock, keyed by sku, or a variant's own, see `pool`): `remaining` + `reserved` per pool equals
    `initial` plus the host's stock adjustments; the resolver mutates the book in place."""

    stream: str
    initial: dict[str, Qty]  # stock per pool when the session started
    remaining: dict[str, Qty]  # free to reserve
    reserved: dict[str, Qty]  # held by confirmed lines
    orders: dict[str, Order] = {}  # by customer
    waitlist: dict[str, list[WaitKey]] = {}  # by pool, first come first served; no empty lists
    reviews: dict[str, Review] = {}  # pending, oldest first
    log: list[Entry] = []  # the inputs that changed the book, in the order applied
    seen: set[str] = set()  # comment and action ids in the log
    deleted: set[str] = set()  # comment ids the platform reported deleted
    seq: int = 0  # of the last event emitted


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


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(StreamBook)


def encode_state(book: StreamBook) -> bytes:
    return _encoder.encode(book)


def decode_state(data: bytes | str) -> StreamBook:
    """The book `encode_state` wrote; raises msgspec.DecodeError for anything else."""
    return _decoder.decode(data)
