"""Order events: the order as it now stands, compared with how it stood before an input.

An input emits one event per order whose lines or phone it changed, so a promotion caused by
one customer's cancel also tells the promoted customer's order.
"""

from __future__ import annotations

from typing import NamedTuple

from chotdon.records import LineStatus, OrderEvent, OrderEventKind, OrderLine

from .order_book import Line, Order, StreamBook
from .quantities import Qty


class Snapshot(NamedTuple):
    order: Order  # identity (ids, name); its lines may have changed since
    lines: list[OrderLine]
    phone: str | None


def order_lines(book: StreamBook, order: Order) -> list[OrderLine]:
    """Confirmed and waitlisted parts of each line, then the pending review items."""
    out: list[OrderLine] = []
    for line in order.lines:
        if line.confirmed:
            out.append(_part(line, line.confirmed, "confirmed"))
        if line.waiting:
            out.append(_part(line, line.waiting, "waitlisted"))
    for rid in order.reviews:
        review = book.reviews[rid]
        out.append(
            OrderLine(
                sku=review.sku or "",
                variant=review.variant,
                qty=review.qty or 0,
                unit_price=review.unit_price,
                status="review",
                review_id=rid,
                missing=review.missing,
            )
        )
    return out


def _part(line: Line, amount: Qty, status: LineStatus) -> OrderLine:
    return OrderLine(
        sku=line.sku, variant=line.variant, qty=amount, unit_price=line.unit_price, status=status
    )


def order_total(lines: list[OrderLine]) -> int:
    """VND of the confirmed lines, rounded once so fractional kilograms do not drift."""
    return round(sum(line.qty * line.unit_price for line in lines if line.status == "confirmed"))


def snapshot(book: StreamBook, order: Order) -> Snapshot:
    return Snapshot(order, order_lines(book, order), order.phone)


def event_kind(before: list[OrderLine], after: list[OrderLine]) -> OrderEventKind:
    """The most telling change: emptied, a new review item, more waitlisted, first confirmed."""
    if not after:
        return "cancelled"
    if {x.review_id for x in after if x.review_id} - {x.review_id for x in before}:
        return "needs_review"
    waited = {(x.sku, x.variant): x.qty for x in before if x.status == "waitlisted"}
    if any(x.status == "waitlisted" and x.qty > waited.get((x.sku, x.variant), 0) for x in after):
        return "waitlisted"
    if not any(x.status == "confirmed" for x in before) and any(
        x.status == "confirmed" for x in after
    ):
        return "confirmed"
    return "updated"


def events_since(
    book: StreamBook, before: dict[str, Snapshot], cause: str, ts: float
) -> list[OrderEvent]:
    """Events for the orders in `before` that changed, numbered on from `book.seq`. An order
    that had no lines and still has none (a phone given before ordering) emits nothing."""
    events: list[OrderEvent] = []
    for customer, old in before.items():
        order = book.orders.get(customer)
        now = snapshot(book, order) if order is not None else Snapshot(old.order, [], None)
        if (now.lines, now.phone) == (old.lines, old.phone) or not (now.lines or old.lines):
            continue
        book.seq += 1
        events.append(
            OrderEvent(
                kind=event_kind(old.lines, now.lines),
                stream=book.stream,
                order_id=now.order.order_id,
                customer=customer,
                customer_name=now.order.customer_name,
                lines=now.lines,
                total=order_total(now.lines),
                phone=now.phone,
                comment_id=cause,
                ts=ts,
                seq=book.seq,
            )
        )
    return events
