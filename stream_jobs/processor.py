"""One stream's processing: the pure core both shells call (the embedded runner and the Faust
jobs), so that both modes decide alike.

A comment is parsed with the product on screen and applied to the stream's book; a host action
is applied or refused (`ActionError`, the one error a record can cause); and the stock levels
are said once per batch, if anything changed them, stamped with the time of the latest record
of this stream that did. No I/O, no clock: the records' own times only.

    >>> from chotdon.catalog import load_catalog
    >>> from chotdon.records import Comment
    >>> from stream_jobs.order_book import new_book
    >>> catalog = load_catalog("kim-an")
    >>> p = StreamProcessor(catalog, new_book(catalog))
    >>> intent, events = p.comment(Comment(stream="kim-an-oi", comment_id="c1", user_id="u1",
    ...                                    text="chốt 2 hộp ổi", ts=5.0))
    >>> intent.intent, events[0].kind, p.take_stock().ts, p.take_stock()
    ('order', 'confirmed', 5.0, None)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chotdon.catalog import Catalog
from chotdon.records import Comment, Intent, OrderEvent, StockLevels
from parsers import Parser

from .actions import Action
from .order_book import StreamBook
from .resolver import apply, apply_action
from .stages import parse_comment, stock_levels


@dataclass(eq=False)
class StreamProcessor:
    catalog: Catalog
    book: StreamBook
    current: str | None = None  # the product on screen
    _parser: Parser | None = field(default=None, init=False, repr=False)
    _stock_ts: float | None = field(default=None, init=False, repr=False)  # since take_stock

    @property
    def parser(self) -> Parser:
        if self._parser is None or self._parser.catalog is not self.catalog:
            self._parser = Parser(self.catalog)
        return self._parser

    def parse(self, comment: Comment) -> Intent:
        """The comment's intent, read with the product on screen."""
        return parse_comment(self.parser, comment, self.current)

    def resolve(self, intent: Intent) -> list[OrderEvent]:
        """Apply a comment's intent (its comment attached) to the book."""
        self.book, events = apply(self.book, intent, self.catalog)
        if events and intent.comment is not None:
            self._stock_changed(intent.comment.ts)
        return events

    def comment(self, comment: Comment) -> tuple[Intent, list[OrderEvent]]:
        intent = self.parse(comment)
        return intent, self.resolve(intent)

    def action(self, action: Action) -> list[OrderEvent]:
        """Apply a host action; raises ActionError, changing nothing, when it cannot apply."""
        self.book, events = apply_action(self.book, action, self.catalog)
        self._stock_changed(action.ts)
        return events

    def take_stock(self) -> StockLevels | None:
        """The stock levels, if they may have changed since the last take."""
        if self._stock_ts is None:
            return None
        levels = stock_levels(self.book, self._stock_ts)
        self._stock_ts = None
        return levels

    def _stock_changed(self, ts: float) -> None:
        self._stock_ts = ts if self._stock_ts is None else max(self._stock_ts, ts)
