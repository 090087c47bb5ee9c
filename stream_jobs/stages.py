"""Stage code both shells run (the embedded runner and the Faust workers), around the pure cores."""

from __future__ import annotations

import msgspec

from chotdon.records import Comment, Intent, StockLevels
from parsers import PARSER_VERSION, Parser

from .order_book import StreamBook


def parse_comment(parser: Parser, comment: Comment, current: str | None) -> Intent:
    """The comment's intent with the comment attached. A comment the platform reports deleted is
    not read: it only has to reach the order book, which undoes what it did."""
    if comment.deleted:
        return Intent(intent="other", parser_version=PARSER_VERSION, comment=comment)
    intent = parser.parse(comment.text, current)
    return msgspec.structs.replace(intent, comment=comment)


def stock_levels(book: StreamBook, ts: float) -> StockLevels:
    waiting: dict[str, int | float] = {}
    for order in book.orders.values():
        for line in order.lines:
            if line.waiting:
                waiting[line.sku] = waiting.get(line.sku, 0) + line.waiting
    return StockLevels(
        stream=book.stream,
        remaining=dict(book.remaining),
        reserved=dict(book.reserved),
        waiting=waiting,
        ts=ts,
    )
