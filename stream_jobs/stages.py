"""Stage code both shells run (the embedded runner and the Faust workers), around the pure cores."""

from __future__ import annotations

import msgspec

from chotdon.records import Comment, Intent, StockLevels, VariantStock
from parsers import PARSER_VERSION, Parser

from .order_book import StreamBook, pool_owner
from .quantities import Qty, qty


def parse_comment(parser: Parser, comment: Comment, current: str | None) -> Intent:
    """The comment's intent with the comment attached. A comment the platform reports deleted is
    not read: it only has to reach the order book, which undoes what it did."""
    if comment.deleted:
        return Intent(intent="other", parser_version=PARSER_VERSION, comment=comment)
    intent = parser.parse(comment.text, current)
    return msgspec.structs.replace(intent, comment=comment)


def stock_levels(book: StreamBook, ts: float) -> StockLevels:
    """The book's stock: per product (shared and owned stock together), and per owning variant."""
    waiting = book.waiting
    remaining: dict[str, Qty] = {}
    reserved: dict[str, Qty] = {}
    waited: dict[str, Qty] = {}
    variants: list[VariantStock] = []
    for key in book.initial:
        sku, variant = pool_owner(key)
        remaining[sku] = qty(remaining.get(sku, 0) + book.remaining[key])
        reserved[sku] = qty(reserved.get(sku, 0) + book.reserved[key])
        if key in waiting:
            waited[sku] = qty(waited.get(sku, 0) + waiting[key])
        if variant is not None:
            variants.append(
                VariantStock(
                    sku=sku,
                    variant=variant,
                    remaining=book.remaining[key],
                    reserved=book.reserved[key],
                    waiting=waiting.get(key, 0),
                )
            )
    return StockLevels(
        stream=book.stream,
        remaining=remaining,
        reserved=reserved,
        waiting=waited,
        variants=variants,
        ts=ts,
    )
