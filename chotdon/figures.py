"""A session's figures, defined once. The progress line, the host's page, the metrics, the report
and a replay all count with these, so a host and an analyst read the same number:

- an order counts while its confirmed total is above zero: one per customer and stream, as its
  latest event (highest `seq`) stands; an order cancelled, or only waiting or in review, does
  not count (the Redis sink's summary script applies the same rule);
- revenue is the sum of those confirmed totals (VND);
- conversion is orders over the unique commenters.

    >>> from chotdon.records import OrderEvent
    >>> f = Figures()
    >>> f.apply(OrderEvent(kind="confirmed", stream="s", order_id="o1", customer="c",
    ...                    lines=[], total=160_000, comment_id="c1", ts=0, seq=1))
    >>> f.apply(OrderEvent(kind="cancelled", stream="s", order_id="o1", customer="c",
    ...                    lines=[], total=0, comment_id="c2", ts=1, seq=2))
    >>> (f.orders, f.revenue)
    (0, 0)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chotdon.records import OrderEvent


def counts_as_order(total: int) -> bool:
    return total > 0


def conversion(orders: int, commenters: int) -> float:
    return orders / commenters if commenters else 0.0


@dataclass
class Figures:
    """Orders and revenue kept as order events arrive, in constant time per event; an event
    older than the order's latest (a redelivery) changes nothing."""

    orders: int = 0
    revenue: int = 0
    _latest: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, events: Iterable[OrderEvent]) -> Figures:
        figures = cls()
        for event in events:
            figures.apply(event)
        return figures

    def apply(self, event: OrderEvent) -> None:
        key = (event.stream, event.order_id)
        seq, total = self._latest.get(key, (0, 0))
        if event.seq <= seq:
            return
        self._latest[key] = (event.seq, event.total)
        self.revenue += event.total - total
        self.orders += counts_as_order(event.total) - counts_as_order(total)
