"""A book as rows, so that what a checkpoint writes is what changed, not the session so far.

    head               stock, the event counter and the waitlist counter: a few hundred bytes
    customer rows      one per customer: the order and its pending review items
    log rows           one per logged input of the log's recent window, numbered
    block rows         one per block of older logged inputs, compressed (`BookLog`): when a
                       block is written, the rows of the inputs it holds are deleted

The log's journal (how the book stood before each recent input: `encode_state` and the customer
rows a step saved) is in memory only; `roll_back` puts a journal record back.

`take_changes` gives the head, the rows of the customers touched since the last take (None for
an order that no longer exists) and the log and block rows written or deleted, so that the
stored log grows as the book's own does; `restore_book` builds the book back from all rows
(orders in the order they were opened, as the live book has them, so that an undo after a
restart tells them in the same order). The waitlist is not stored: each
waiting line keeps its ticket, and the queues are the waiting lines in ticket order. The
embedded mode keeps the rows in SQLite, the distributed mode in a Faust table (the same bytes
either way).
"""

from __future__ import annotations

import msgspec

from chotdon.book_rows import BookRows
from chotdon.records import AdjustStock, Approve, Intent, Reject, decode

from .order_book import (
    Before,
    Head,
    Order,
    Review,
    StreamBook,
    WaitKey,
    empty_book,
    entry_id,
    pool,
    refit,
)
from .quantities import Qty, qty


class BookHead(msgspec.Struct, kw_only=True):
    stream: str
    initial: dict[str, Qty]
    remaining: dict[str, Qty]
    reserved: dict[str, Qty]
    seq: int
    tickets: int
    opened: int


class CustomerRow(msgspec.Struct, kw_only=True):
    order: Order
    reviews: list[Review]  # the order's pending review items, in its order


_encoder = msgspec.json.Encoder()
_head = msgspec.json.Decoder(BookHead)
_customer = msgspec.json.Decoder(CustomerRow)
_msgpack = msgspec.msgpack.Encoder()
_state = msgspec.msgpack.Decoder(Head)


def encode_head(book: StreamBook) -> bytes:
    return _encoder.encode(
        BookHead(
            stream=book.stream,
            initial=book.initial,
            remaining=book.remaining,
            reserved=book.reserved,
            seq=book.seq,
            tickets=book.tickets,
            opened=book.opened,
        )
    )


def encode_customer(book: StreamBook, customer: str) -> bytes | None:
    order = book.orders.get(customer)
    if order is None:
        return None
    reviews = [book.reviews[rid] for rid in order.reviews]
    return _encoder.encode(CustomerRow(order=order, reviews=reviews))


def has_changes(book: StreamBook) -> bool:
    return bool(book.changed or book.log.added or book.log.dropped or book.log.sealed)


def take_changes(book: StreamBook) -> BookRows:
    """What changed since the last take (and starts the next)."""
    customers = {customer: encode_customer(book, customer) for customer in sorted(book.changed)}
    book.changed = set()
    log, dropped, blocks = book.log.take()
    return BookRows(encode_head(book), customers, log, dropped, blocks)


def all_rows(book: StreamBook) -> BookRows:
    """The whole book as rows (a book restored from them equals it)."""
    customers = {customer: encode_customer(book, customer) for customer in book.orders}
    return BookRows(encode_head(book), customers, list(book.log.rows()))


def restore_book(rows: BookRows) -> StreamBook:
    """The book all its rows describe; raises ValueError for rows this module did not write."""
    h = _head.decode(rows.head)
    book = empty_book(h.stream, h.initial)
    book.remaining, book.reserved, book.seq = h.remaining, h.reserved, h.seq
    book.tickets, book.opened = h.tickets, h.opened
    waiting = _put_customers(book, [data for data in rows.customers.values() if data is not None])
    for ticket, key, wait_key, amount in sorted(waiting, key=lambda w: w[0]):
        book.waiting[key] = qty(book.waiting.get(key, 0) + amount)
        book.waitlist.setdefault(key, {})[ticket] = wait_key

    log = book.log
    for first, block in sorted(rows.blocks.items()):
        if block is not None:
            for number, data in log.put_block(first, block):
                log.index(number, _restored_id(book, number, data))
    for number, data in sorted(rows.log):
        if number < log.next:  # also in a block: a checkpoint cut short before deleting it
            log.dropped.append(number)
        else:
            log.put(number, data, _restored_id(book, number, data))
    log.seal()
    return book


def _restored_id(book: StreamBook, number: int, data: bytes) -> str:
    """The id of a logged input read back (a deletion report's comment is deleted again)."""
    entry = decode(data)
    if not isinstance(entry, Intent | Approve | Reject | AdjustStock):
        raise ValueError(f"log entry {number} of {book.stream} is a {type(entry).__name__}")
    if isinstance(entry, Intent) and entry.comment is not None and entry.comment.deleted:
        book.deleted.add(entry.comment.comment_id)
    return entry_id(entry)


def encode_state(book: StreamBook) -> bytes:
    """What of the head an input may change: stock per pool and the counters (`Before.head`)."""
    return _msgpack.encode(
        Head(book.remaining, book.reserved, book.waiting, book.tickets, book.opened)
    )


def roll_back(book: StreamBook, before: Before) -> None:
    """Put back the stock and counters and the customers' rows of `before` (orders it has None
    for go), so the book stands as it did then for everything `before` covers."""
    queued: dict[str, dict[int, WaitKey]] = {}  # the pools to re-queue: the entries to add
    for customer in before.customers:
        for key in _remove_customer(book, customer):
            queued.setdefault(key, {})
    rows = [data for data in before.customers.values() if data is not None]
    for ticket, key, wait_key, _ in _put_customers(book, rows):
        queued.setdefault(key, {})[ticket] = wait_key
    for key, adding in queued.items():  # out of the queue, then back in ticket order as they were
        queue = {
            t: w for t, w in book.waitlist.pop(key, {}).items() if w[0] not in before.customers
        }
        queue.update(adding)
        if queue:
            book.waitlist[key] = dict(sorted(queue.items()))
    h = _state.decode(before.head)
    book.remaining, book.reserved, book.waiting = h.remaining, h.reserved, h.waiting
    book.tickets, book.opened = h.tickets, h.opened


def _put_customers(book: StreamBook, rows: list[bytes]) -> list[tuple[int, str, WaitKey, Qty]]:
    """Put customers' rows in the book, in the order their orders were opened; their waiting
    lines as (ticket, pool, waitlist key, amount) for the caller to queue (their amounts are
    indexed for promotion here, as `_remove_customer` takes them out)."""
    waiting: list[tuple[int, str, WaitKey, Qty]] = []
    for row in sorted((_customer.decode(data) for data in rows), key=lambda r: r.order.number):
        order = row.order
        book.orders[order.customer] = order
        book.reviews.update((review.review_id, review) for review in row.reviews)
        for x in order.lines:
            if x.waiting:
                key = pool(book, x.sku, x.variant)
                waiting.append((x.ticket, key, (order.customer, x.variant), x.waiting))
                refit(book, key, x.ticket, 0, x.waiting)
    return waiting


def _remove_customer(book: StreamBook, customer: str) -> set[str]:
    """Take a customer's order and review items out of the book; the pools it waits for (the
    caller takes it out of their queues)."""
    order = book.orders.pop(customer, None)
    if order is None:
        return set()
    for rid in order.reviews:
        del book.reviews[rid]
    keys = set()
    for x in order.lines:
        if x.waiting:
            keys.add(key := pool(book, x.sku, x.variant))
            refit(book, key, x.ticket, x.waiting, 0)
    return keys
