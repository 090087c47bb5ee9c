"""The feed's read model: what the host's page shows for one stream, kept up to date from the
records that flow (order events, stock levels, viewer counts, comments, the current product).

Pure: `StreamView.apply(record)` updates the view and returns the updates to push to open pages.
The embedded runner feeds it in process; the distributed mode rebuilds it from Redis.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from chotdon.catalog import Catalog, Product
from chotdon.figures import Figures
from chotdon.phones import mask_phone, mask_phones_in
from chotdon.records import (
    AnyRecord,
    Comment,
    Intent,
    OrderEvent,
    OrderLine,
    SetCurrent,
    StockLevels,
    ViewerCount,
)

OrderStatus = Literal["confirmed", "waitlisted", "needs_review", "cancelled"]
UpdateKind = Literal["order", "summary", "stock", "reviews", "review"]
RECENT_TEXTS = 5000  # comment texts kept to show beside review items
REVIEW_TEXT_CHARS = 300  # of a comment shown beside its review item (the whole text is stored)
VIEWER_ORDERS = 500  # newest orders a read-only page gets on load (the host's page: all)
REVIEWS_SENT = 200  # review items a page gets at most, oldest first: the host settles those


class VariantRow(msgspec.Struct):
    """A variant with its own price or stock (a catalog option); without stock of its own
    (`own_stock` false) it draws on the product's and its stock figures stay 0."""

    variant: str
    price: int
    own_stock: bool
    initial: int | float = 0
    remaining: int | float = 0
    reserved: int | float = 0
    waiting: int | float = 0


class ProductRow(msgspec.Struct):
    """A product's stock, all of it (shared and every variant's own), and its variants'."""

    sku: str
    code: str
    name: str
    unit: str
    price: int
    initial: int | float
    remaining: int | float
    reserved: int | float = 0
    waiting: int | float = 0
    variants: list[str] = []  # the approve form offers these
    options: list[VariantRow] = []  # in catalog order


def product_row(p: Product) -> ProductRow:
    options = [
        VariantRow(
            o.variant,
            p.price_of(o.variant),
            own_stock=o.stock is not None,
            initial=o.stock or 0,
            remaining=o.stock or 0,
        )
        for o in p.options
    ]
    stock = p.stock + sum(o.initial for o in options)  # the product whole, as StockLevels has it
    return ProductRow(
        p.sku,
        p.code,
        p.name,
        p.unit,
        p.price,
        stock,
        stock,
        variants=list(p.variants),
        options=options,
    )


class OrderRow(msgspec.Struct):
    order_id: str
    customer: str
    customer_name: str
    phone: str | None
    total: int
    status: OrderStatus
    lines: list[OrderLine]
    ts: float
    seq: int


class ReviewRow(msgspec.Struct):
    review_id: str
    order_id: str
    customer_name: str
    text: str
    missing: str | None
    sku: str
    variant: str | None
    qty: int | float
    ts: float


@dataclass(slots=True)
class Update:
    """A change to push to open pages. Each carries the whole new state of what it names (one
    order, the summary, the stock, one review item — or the whole queue after a reload), so a
    page that missed earlier updates of the same `kind` and `key` loses nothing by getting only
    the latest."""

    kind: UpdateKind
    data: Any  # JSON-ready
    key: str = ""  # the order id for an order update
    # the event as pages get it, by masked: built once, however many pages are open
    sent: dict[bool, bytes] = field(default_factory=dict, compare=False, repr=False)


SUMMARY_CHANGED = Update("summary", None)  # within `apply`; the summary is built at its end


def status_of(lines: list[OrderLine]) -> OrderStatus:
    if not lines:
        return "cancelled"
    if any(line.status == "review" for line in lines):
        return "needs_review"
    if all(line.status == "waitlisted" for line in lines):
        return "waitlisted"
    return "confirmed"


def shortened(text: str) -> str:
    """A comment's text as the page shows it: at most REVIEW_TEXT_CHARS characters."""
    if len(text) <= REVIEW_TEXT_CHARS:
        return text
    return text[: REVIEW_TEXT_CHARS - 1] + "…"


def masked_order(row: OrderRow) -> OrderRow:
    """An order as a viewer (or the host's page without the token) may see it: no platform user
    id, phones masked in the phone field and wherever a customer typed one (the name too)."""
    return msgspec.structs.replace(
        row,
        customer="",
        customer_name=mask_phones_in(row.customer_name),
        phone=mask_phone(row.phone),
    )


def masked_review(row: ReviewRow) -> ReviewRow:
    return msgspec.structs.replace(
        row, customer_name=mask_phones_in(row.customer_name), text=mask_phones_in(row.text)
    )


@dataclass
class StreamView:
    stream: str
    title: str
    target_revenue: int
    products: dict[str, ProductRow]
    current: str | None = None
    orders: dict[str, OrderRow] = field(default_factory=dict)
    reviews: dict[str, ReviewRow] = field(default_factory=dict)
    viewers: int = 0
    viewers_peak: int = 0
    comments: int = 0
    last_seq: int = 0
    version: int = 0  # +1 each change
    last_ts: float = 0.0  # latest event time seen: host actions are stamped on the stream's clock
    # [second, comments] of the last minute: per-second buckets keep a busy stream's memory small
    _recent: deque[list[int]] = field(default_factory=deque)
    _recent_total: int = 0  # the sum of `_recent`'s counts
    _texts: OrderedDict[str, str] = field(default_factory=OrderedDict)  # id -> text, bounded
    # kept as orders change: the summary goes out on every comment and must not scan every order
    figures: Figures = field(default_factory=Figures)
    _review_ids: dict[str, list[str]] = field(default_factory=dict)  # order id -> its reviews

    @classmethod
    def for_catalog(cls, catalog: Catalog, stream: str | None = None) -> StreamView:
        products = {p.sku: product_row(p) for p in catalog.products}
        return cls(stream or catalog.stream, catalog.title, catalog.target_revenue, products)

    # -- derived figures -------------------------------------------------------------------

    @property
    def revenue(self) -> int:
        return self.figures.revenue

    @property
    def order_count(self) -> int:
        return self.figures.orders

    @property
    def comments_per_minute(self) -> int:
        self._expire(self.last_ts)
        return self._recent_total

    def _expire(self, now: float) -> None:
        while self._recent and self._recent[0][0] <= now - 60:
            self._recent_total -= self._recent.popleft()[1]

    def summary(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "title": self.title,
            "target_revenue": self.target_revenue,
            "revenue": self.revenue,
            "orders": self.order_count,
            "viewers": self.viewers,
            "viewers_peak": self.viewers_peak,
            "comments": self.comments,
            "comments_per_minute": self.comments_per_minute,
            "current": self.current,
        }

    def health(self, now: float) -> dict[str, Any]:
        """The stream's line on the operations page: its summary, the reviews waiting, and how
        long ago (seconds, `now` on the platform's clock) its last comment or event was."""
        seen = max(0.0, now - self.last_ts) if self.last_ts else None
        return {**self.summary(), "reviews": len(self.reviews), "last_seen_s": seen}

    def snapshot(self, masked: bool) -> dict[str, Any]:
        """Everything the page needs on load; phones masked unless the host is signed in, and
        for a read-only page only the newest VIEWER_ORDERS orders (what a viewer scrolls)."""
        newest = lambda o: o.seq  # noqa: E731
        if masked:
            orders = heapq.nlargest(VIEWER_ORDERS, self.orders.values(), key=newest)
        else:
            orders = sorted(self.orders.values(), key=newest, reverse=True)
        return {
            "summary": self.summary(),
            "products": msgspec.to_builtins(list(self.products.values())),
            "orders": [self._order_json(o, masked) for o in orders],
            "reviews": self._reviews_json(masked),
        }

    def _order_json(self, row: OrderRow, masked: bool) -> Any:
        return msgspec.to_builtins(masked_order(row) if masked else row)

    def _reviews_json(self, masked: bool) -> Any:
        rows = heapq.nsmallest(REVIEWS_SENT, self.reviews.values(), key=lambda r: r.ts)
        if masked:
            rows = [masked_review(r) for r in rows]
        return msgspec.to_builtins(rows)

    # -- applying records ------------------------------------------------------------------

    def apply(self, *records: AnyRecord) -> list[Update]:
        """Apply records in order; the updates for open pages: the latest of each (kind, key)
        in the order of their last change (each is a whole state, so the earlier ones carry
        nothing more), the summary built once. `version` moves when the view changes, so what
        is built from it (a snapshot, a CSV) can be reused until then."""
        latest: dict[tuple[str, str], Update] = {}
        for record in records:
            for update in self._apply(record):
                key = (update.kind, update.key)
                latest.pop(key, None)
                latest[key] = update
        if not latest:
            return []
        self.version += 1
        if ("summary", "") in latest:
            latest["summary", ""] = Update("summary", self.summary())
        return list(latest.values())

    def _apply(self, record: AnyRecord) -> list[Update]:
        ts = getattr(record, "ts", 0.0)
        if isinstance(ts, float | int) and ts > self.last_ts:
            self.last_ts = float(ts)
        if isinstance(record, OrderEvent):
            return self._order(record)
        if isinstance(record, StockLevels):
            for sku, row in self.products.items():
                row.remaining = record.remaining.get(sku, row.remaining)
                row.reserved = record.reserved.get(sku, row.reserved)
                row.waiting = record.waiting.get(sku, 0)
            for level in record.variants:
                product = self.products.get(level.sku)
                for option in product.options if product else ():
                    if option.variant == level.variant and option.own_stock:
                        option.remaining, option.reserved = level.remaining, level.reserved
                        option.waiting = level.waiting
            return [Update("stock", msgspec.to_builtins(list(self.products.values())))]
        if isinstance(record, ViewerCount):
            self.viewers = record.viewers
            self.viewers_peak = max(self.viewers_peak, record.viewers)
            return [SUMMARY_CHANGED]
        if isinstance(record, Intent) and record.comment is not None:
            return self._comment(record.comment)
        if isinstance(record, Comment):
            return self._comment(record)
        if isinstance(record, SetCurrent):
            self.current = record.code
            return [SUMMARY_CHANGED]
        return []

    def _comment(self, comment: Comment) -> list[Update]:
        self.comments += 1
        self.last_ts = max(self.last_ts, comment.ts)
        second = int(comment.ts)
        if self._recent and self._recent[-1][0] >= second:  # same second, or a late comment
            self._recent[-1][1] += 1
        else:
            self._recent.append([second, 1])
        self._recent_total += 1
        self._texts[comment.comment_id] = shortened(comment.text)
        if len(self._texts) > RECENT_TEXTS:
            self._texts.popitem(last=False)
        return [SUMMARY_CHANGED]

    def _order(self, event: OrderEvent) -> list[Update]:
        if event.seq <= self.last_seq:
            return []  # already applied: events arrive at least once
        self.last_seq = event.seq
        row = OrderRow(
            order_id=event.order_id,
            customer=event.customer,
            customer_name=event.customer_name,
            phone=event.phone,
            total=event.total,
            status=status_of(event.lines),
            lines=[line for line in event.lines if line.status != "review"],
            ts=event.ts,
            seq=event.seq,
        )
        self.figures.apply(event)
        self.orders[event.order_id] = row
        before = {r: self.reviews.pop(r) for r in self._review_ids.pop(event.order_id, ())}
        for line in event.lines:
            if line.status == "review" and line.review_id:
                comment_id = line.review_id.split("#", 1)[0]
                self._review_ids.setdefault(event.order_id, []).append(line.review_id)
                self.reviews[line.review_id] = ReviewRow(
                    review_id=line.review_id,
                    order_id=event.order_id,
                    customer_name=event.customer_name,
                    text=self._texts.get(comment_id, ""),
                    missing=line.missing,
                    sku=line.sku,
                    variant=line.variant,
                    qty=line.qty,
                    ts=event.ts,
                )
        updates = [Update("order", row, row.order_id), SUMMARY_CHANGED]
        # the review queue changes by deltas: an item added or changed, or gone (looked up one
        # by one: `before.keys() - self.reviews.keys()` would walk every pending review item)
        for rid in before:
            if rid not in self.reviews:
                updates.append(Update("review", {"review_id": rid, "gone": True}, rid))
        for rid in self._review_ids.get(event.order_id, ()):
            if before.get(rid) != self.reviews[rid]:
                updates.append(Update("review", self.reviews[rid], rid))
        return updates

    def update_json(self, update: Update, masked: bool) -> Any:
        """An update as sent to one page (masked or not)."""
        if update.kind == "order":
            return self._order_json(update.data, masked)
        if update.kind == "reviews":
            return self._reviews_json(masked)
        if update.kind == "review" and isinstance(update.data, ReviewRow):
            return msgspec.to_builtins(masked_review(update.data) if masked else update.data)
        return update.data
