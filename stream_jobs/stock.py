"""Lines, stock and the waitlist: the only code that moves stock between remaining and reserved.

Policy: all or nothing per request. A quantity asked for is confirmed only if the whole of it is
in stock; otherwise the whole of it waits, and a customer never loses stock already confirmed by
asking for more. Waiting parts are promoted first come first served, each only when it fits
whole, so a large request does not block smaller ones behind it. After every input no waiting
part fits in the stock left.
"""

from __future__ import annotations

from chotdon.catalog import Product

from .order_book import Line, Order, StreamBook
from .quantities import Qty, qty
from .step import Step


def find_line(order: Order, sku: str, variant: str | None) -> Line | None:
    return next((x for x in order.lines if x.sku == sku and x.variant == variant), None)


def add(step: Step, order: Order, product: Product, variant: str | None, amount: Qty) -> None:
    """Order `amount` more; a line already waiting grows and keeps its place in the queue."""
    line = find_line(order, product.sku, variant)
    if line is None:
        line = Line(sku=product.sku, variant=variant, unit_price=product.price)
        order.lines.append(line)
    if line.waiting:
        line.waiting = qty(line.waiting + amount)
    elif _reserve(step.book, line.sku, amount):
        line.confirmed = qty(line.confirmed + amount)
    else:
        _wait(step.book, order, line, amount)


def set_qty(step: Step, order: Order, line: Line, amount: Qty) -> None:
    """Make the line `amount` in all (0 removes it): a decrease frees stock, an increase is
    confirmed if the extra is in stock, else the extra waits."""
    extra = qty(amount - line.confirmed)
    if extra <= 0:
        _unwait(step.book, order, line)
        _release(step, line.sku, -extra)
        line.confirmed = amount
    elif _reserve(step.book, line.sku, extra):
        _unwait(step.book, order, line)
        line.confirmed = amount
    elif line.waiting:
        line.waiting = extra
    else:
        _wait(step.book, order, line, extra)
    if not line.confirmed and not line.waiting:
        order.lines.remove(line)


def set_variant(step: Step, order: Order, line: Line, variant: str) -> None:
    """Move the customer's only line of the sku to another variant. Stock is per sku, so nothing
    is reserved or freed, and a waiting part keeps its place in the queue."""
    if line.waiting:
        queue = step.book.waitlist[line.sku]
        queue[queue.index((order.customer, line.variant))] = (order.customer, variant)
    line.variant = variant


def adjust(step: Step, sku: str, delta: Qty) -> None:
    """Add or remove unreserved stock; the caller checks a removal is covered."""
    step.book.remaining[sku] = qty(step.book.remaining[sku] + delta)
    if delta > 0:
        step.freed.add(sku)


def promote(step: Step) -> None:
    """Confirm, in queue order, each waiting part that now fits whole in the freed skus."""
    book = step.book
    for sku in sorted(step.freed):
        queue = book.waitlist.get(sku)
        for key in list(queue or ()):
            order = book.orders[key[0]]
            line = find_line(order, sku, key[1])
            assert line is not None and line.waiting, "waitlist out of step with the lines"
            if line.waiting <= book.remaining[sku]:
                step.touch(order)
                _reserve(book, sku, line.waiting)
                line.confirmed, line.waiting = qty(line.confirmed + line.waiting), 0
                _dequeue(book, sku, key)


def _reserve(book: StreamBook, sku: str, amount: Qty) -> bool:
    """Reserve all of `amount` or nothing: the one place stock is taken, never below zero."""
    left = qty(book.remaining[sku] - amount)
    if left < 0:
        return False
    book.remaining[sku] = left
    book.reserved[sku] = qty(book.reserved[sku] + amount)
    return True


def _release(step: Step, sku: str, amount: Qty) -> None:
    if amount:
        step.book.reserved[sku] = qty(step.book.reserved[sku] - amount)
        step.book.remaining[sku] = qty(step.book.remaining[sku] + amount)
        step.freed.add(sku)


def _wait(book: StreamBook, order: Order, line: Line, amount: Qty) -> None:
    line.waiting = amount
    book.waitlist.setdefault(line.sku, []).append((order.customer, line.variant))


def _unwait(book: StreamBook, order: Order, line: Line) -> None:
    if line.waiting:
        line.waiting = 0
        _dequeue(book, line.sku, (order.customer, line.variant))


def _dequeue(book: StreamBook, sku: str, key: tuple[str, str | None]) -> None:
    queue = book.waitlist[sku]
    queue.remove(key)
    if not queue:  # no empty queues: a rebuilt book must equal one that never saw the input
        del book.waitlist[sku]
