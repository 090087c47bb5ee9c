"""The bookkeeping of applying one input to a book."""

from __future__ import annotations

from dataclasses import dataclass, field

from chotdon.catalog import Catalog, Product
from chotdon.records import OrderEvent

from .book_rows import encode_customer
from .events import Snapshot, events_since, snapshot
from .order_book import Order, StreamBook, order_id


@dataclass(slots=True)
class Step:
    """One input being applied: how each order it touches stood before (one event per changed
    order, and its row for rolling the book back: `saved`, None for an order it opened) and
    which skus got stock back (their waitlists are promoted once, at the end)."""

    book: StreamBook
    catalog: Catalog
    before: dict[str, Snapshot] = field(default_factory=dict)
    saved: dict[str, bytes | None] = field(default_factory=dict)
    freed: set[str] = field(default_factory=set)

    def product(self, sku: str | None) -> Product | None:
        """The catalog product, if this book stocks it."""
        product = self.catalog.by_sku(sku) if sku else None
        return product if product is not None and product.sku in self.book.initial else None

    def order(self, customer: str, name: str = "") -> Order:
        """The customer's order, opened if new, recorded as it stood before this input."""
        order = self.book.orders.get(customer)
        if order is None:
            self.saved.setdefault(customer, None)
            self.book.opened += 1
            order = Order(
                order_id=order_id(self.book.stream, customer),
                customer=customer,
                number=self.book.opened,
            )
            self.book.orders[customer] = order
        self.touch(order)
        if name:
            order.customer_name = name
        return order

    def touch(self, order: Order) -> None:
        """Call before changing an order this input did not open through `order`."""
        if order.customer not in self.before:
            self.before[order.customer] = snapshot(self.book, order)
            if order.customer not in self.saved:  # a new customer's order was saved as None
                self.saved[order.customer] = encode_customer(self.book, order.customer)

    def events(self, cause: str, ts: float) -> list[OrderEvent]:
        self.book.changed.update(self.before)
        return events_since(self.book, self.before, cause, ts)
