"""Lines, stock and the waitlist: the only code that moves stock between remaining and reserved.

Stock is kept per pool: a variant with stock of its own (a catalog option giving it `stock`) has a
pool of its own, keyed "SKU / variant"; every other variant of a product draws on the product's
shared pool, keyed by its sku. Each pool has its own waitlist, so size M selling out never
touches size L, and a variant without stock of its own still shares the product's.

Policy: all or nothing per request. A quantity asked for is confirmed only if the whole of it is
in stock; otherwise the whole of it waits, and a customer never loses stock already confirmed by
asking for more. Waiting parts are promoted first come first served, each only when it fits
whole, so a large request does not block smaller ones behind it. After every input no waiting
part fits in the stock left of its pool.
"""

from __future__ import annotations

from chotdon.catalog import Product

from .order_book import Line, Order, StreamBook, pool, refit
from .quantities import Qty, qty
from .step import Step


def find_line(order: Order, sku: str, variant: str | None) -> Line | None:
    return next((x for x in order.lines if x.sku == sku and x.variant == variant), None)


def add(step: Step, order: Order, product: Product, variant: str | None, amount: Qty) -> None:
    """Order `amount` more; a line already waiting grows and keeps its place in the queue."""
    line = find_line(order, product.sku, variant)
    if line is None:
        line = Line(sku=product.sku, variant=variant, unit_price=product.price_of(variant))
        order.lines.append(line)
    if line.waiting:
        _set_waiting(step.book, line, qty(line.waiting + amount))
    else:
        _confirm_or_wait(step.book, order, line, amount)


def set_qty(step: Step, order: Order, line: Line, amount: Qty) -> None:
    """Make the line `amount` in all (0 removes it): a decrease frees stock, an increase is
    confirmed if the extra is in stock, else the extra waits."""
    key = pool(step.book, line.sku, line.variant)
    extra = qty(amount - line.confirmed)
    if extra <= 0:
        _unwait(step.book, line)
        _release(step, key, -extra)
        line.confirmed = amount
    elif _reserve(step.book, key, extra):
        _unwait(step.book, line)
        line.confirmed = amount
    elif line.waiting:
        _set_waiting(step.book, line, extra)
    else:
        _wait(step.book, order, line, extra)
    if not line.confirmed and not line.waiting:
        order.lines.remove(line)


def set_variant(step: Step, order: Order, line: Line, product: Product, variant: str) -> None:
    """Move the customer's only line of the sku to another variant, at that variant's price.
    Between variants drawing on one pool nothing is reserved or freed and a waiting part keeps
    its place in the queue; otherwise the line's stock goes back to the old pool and is asked
    of the new one, the confirmed part and the waiting part each all or nothing."""
    book = step.book
    old, new = pool(book, line.sku, line.variant), pool(book, line.sku, variant)
    line.unit_price = product.price_of(variant)
    if old == new:
        if line.waiting:  # same ticket, same place
            book.waitlist[old][line.ticket] = (order.customer, variant)
        line.variant = variant
        return
    confirmed, waiting = line.confirmed, line.waiting
    _unwait(book, line)
    _release(step, old, confirmed)
    line.variant, line.confirmed = variant, 0
    if _reserve(book, new, confirmed):
        line.confirmed = confirmed
        if waiting:
            _confirm_or_wait(book, order, line, waiting)
    else:
        _wait(book, order, line, qty(confirmed + waiting))


def adjust(step: Step, key: str, delta: Qty) -> None:
    """Add or remove unreserved stock of a pool; the caller checks a removal is covered."""
    step.book.remaining[key] = qty(step.book.remaining[key] + delta)
    if delta > 0:
        step.freed.add(key)


def promote(step: Step) -> None:
    """Confirm, in queue order, each waiting part that now fits whole in the freed pools: the
    first ticket of those waiting an amount that fits, again while stock is left (a part passed
    over never fits later: the stock left only shrinks)."""
    book = step.book
    for key in sorted(step.freed):
        while (ticket := _first_fitting(book, key)) is not None:
            order = book.orders[book.waitlist[key][ticket][0]]
            line = next(x for x in order.lines if x.ticket == ticket)
            step.touch(order)
            _reserve(book, key, line.waiting)
            line.confirmed = qty(line.confirmed + line.waiting)
            _unwait(book, line)


def _first_fitting(book: StreamBook, key: str) -> int | None:
    left = book.remaining[key]
    firsts = [t.first() for amount, t in book.fitting.get(key, {}).items() if amount <= left]
    return min((t for t in firsts if t is not None), default=None)


def _confirm_or_wait(book: StreamBook, order: Order, line: Line, amount: Qty) -> None:
    if _reserve(book, pool(book, line.sku, line.variant), amount):
        line.confirmed = qty(line.confirmed + amount)
    else:
        _wait(book, order, line, amount)


def _reserve(book: StreamBook, key: str, amount: Qty) -> bool:
    """Reserve all of `amount` or nothing: the one place stock is taken, never below zero."""
    left = qty(book.remaining[key] - amount)
    if left < 0:
        return False
    book.remaining[key] = left
    book.reserved[key] = qty(book.reserved[key] + amount)
    return True


def _release(step: Step, key: str, amount: Qty) -> None:
    if amount:
        step.book.reserved[key] = qty(step.book.reserved[key] - amount)
        step.book.remaining[key] = qty(step.book.remaining[key] + amount)
        step.freed.add(key)


def _wait(book: StreamBook, order: Order, line: Line, amount: Qty) -> None:
    book.tickets += 1
    line.ticket = book.tickets
    _set_waiting(book, line, amount)
    key = pool(book, line.sku, line.variant)
    book.waitlist.setdefault(key, {})[line.ticket] = (order.customer, line.variant)


def _unwait(book: StreamBook, line: Line) -> None:
    if line.waiting:
        _dequeue(book, pool(book, line.sku, line.variant), line.ticket)
        _set_waiting(book, line, 0)
        line.ticket = 0


def _dequeue(book: StreamBook, key: str, ticket: int) -> None:
    queue = book.waitlist[key]
    del queue[ticket]
    if not queue:  # no empty queues: a rebuilt book must equal one that never saw the input
        del book.waitlist[key]


def _set_waiting(book: StreamBook, line: Line, amount: Qty) -> None:
    """The one place a line's waiting part changes, keeping the book's total per pool."""
    key = pool(book, line.sku, line.variant)
    total = qty(book.waiting.get(key, 0) - line.waiting + amount)
    if total:
        book.waiting[key] = total
    else:
        book.waiting.pop(key, None)
    refit(book, key, line.ticket, line.waiting, amount)
    line.waiting = amount
