"""Order resolution: comments' intents and the host's actions become each stream's order book.

A functional core with no I/O, clock or environment; the runners (embedded, Faust) own the book,
feed it inputs in comment order, persist what changed (`take_changes`) and publish the events.

    >>> from chotdon.catalog import load_catalog
    >>> from chotdon.records import Comment, Intent, Item
    >>> catalog = load_catalog("kim-an")
    >>> c = Comment(stream="kim-an-oi", comment_id="c1", user_id="u1", text="chốt 2 hộp", ts=0)
    >>> intent = Intent(intent="order", items=[Item("OI-HOP", 2)], comment=c)
    >>> book, events = apply(new_book(catalog), intent, catalog)
    >>> events[0].kind, events[0].total, book.remaining["OI-HOP"]
    ('confirmed', 160000, 148)
"""

from .actions import Action, ActionError
from .book_rows import all_rows, restore_book, take_changes
from .events import order_lines, order_total
from .order_book import (
    Line,
    Missing,
    Order,
    Review,
    StreamBook,
    new_book,
)
from .resolver import apply, apply_action

__all__ = [
    "Action",
    "ActionError",
    "Line",
    "Missing",
    "Order",
    "Review",
    "StreamBook",
    "all_rows",
    "apply",
    "apply_action",
    "new_book",
    "order_lines",
    "order_total",
    "restore_book",
    "take_changes",
]
