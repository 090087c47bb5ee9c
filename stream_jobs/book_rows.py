"""A book as rows, so that what a checkpoint writes is what changed, not the session so far.

    head               stock, the event counter and the waitlist counter: a few hundred bytes
    customer rows      one per customer: the order and its pending review items
    log rows           one per logged input, appended, numbered (dropped ones are deleted)

`take_changes` gives the head, the rows of the customers touched since the last take (None for
an order that no longer exists) and the log rows appended or dropped; `restore_book` builds the
book back from all rows (orders in the order they were opened, as the live book has them, so
that an undo after a restart tells them in the same order). The waitlist is not stored: each
waiting line keeps its ticket, and the queues are the waiting lines in ticket order. The
embedded mode keeps the rows in SQLite, the distributed mode in a Faust table (the same bytes
either way).
"""

from __future__ import annotations

import msgspec

from chotdon.book_rows import BookRows
from chotdon.records import AdjustStock, Approve, Intent, Reject, decode

from .order_book import Order, Review, StreamBook, WaitKey, empty_book, entry_id, pool
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
    return bool(book.changed or book.log.added or book.log.dropped)


def take_changes(book: StreamBook) -> BookRows:
    """What changed since the last take (and starts the next)."""
    customers = {customer: encode_customer(book, customer) for customer in sorted(book.changed)}
    book.changed = set()
    log, dropped = book.log.take()
    return BookRows(encode_head(book), customers, log, dropped)


def all_rows(book: StreamBook) -> BookRows:
    """The whole book as rows (a book restored from them equals it)."""
    customers = {customer: encode_customer(book, customer) for customer in book.orders}
    return BookRows(encode_head(book), customers, list(book.log.rows.items()))


def restore_book(rows: BookRows) -> StreamBook:
    """The book all its rows describe; raises ValueError for rows this module did not write."""
    h = _head.decode(rows.head)
    book = empty_book(h.stream, h.initial)
    book.remaining, book.reserved, book.seq = h.remaining, h.reserved, h.seq
    book.tickets, book.opened = h.tickets, h.opened
    customers = [_customer.decode(data) for data in rows.customers.values() if data is not None]
    waiting: list[tuple[int, str, WaitKey]] = []
    for row in sorted(customers, key=lambda r: r.order.number):
        order = row.order
        book.orders[order.customer] = order
        book.reviews.update((review.review_id, review) for review in row.reviews)
        for x in order.lines:
            if x.waiting:
                key = pool(book, x.sku, x.variant)
                waiting.append((x.ticket, key, (order.customer, x.variant)))
                book.waiting[key] = qty(book.waiting.get(key, 0) + x.waiting)
    for _ticket, key, wait_key in sorted(waiting):
        book.waitlist.setdefault(key, []).append(wait_key)

    for number, data in sorted(rows.log):
        entry = decode(data)
        if not isinstance(entry, Intent | Approve | Reject | AdjustStock):
            raise ValueError(f"log entry {number} of {h.stream} is a {type(entry).__name__}")
        if isinstance(entry, Intent) and entry.comment is not None and entry.comment.deleted:
            book.deleted.add(entry.comment.comment_id)
        book.log.put(number, data, entry_id(entry))
    return book
