"""Applying comments' intents and host actions to a stream's book: the pure core.

No I/O, no clock, no environment: a book and an input in, the same book (mutated in place, for
speed) and the order events out. Callers keep using the returned book and keep no references
to its parts across calls (undoing a deleted comment replaces them).

Inputs apply in the order given (the stream's comment order). Each comment id applies once; a
comment reported deleted is undone by rebuilding the book from its log without that comment, so
the book is exactly what it would be had the comment never been seen.
"""

from __future__ import annotations

import msgspec

from chotdon.catalog import Catalog
from chotdon.records import Intent, OrderEvent, decode

from . import rules
from .actions import Action, ActionError
from .events import snapshot
from .order_book import Entry, StreamBook, empty_book, entry_id
from .step import Step
from .stock import promote

ORDER_INTENTS = frozenset({"order", "change", "cancel"})  # and any intent carrying a phone


def apply(
    book: StreamBook, intent: Intent, catalog: Catalog
) -> tuple[StreamBook, list[OrderEvent]]:
    """Apply one comment's intent (with its `comment` attached). Questions and chatter without a
    phone change nothing and are not recorded."""
    comment = intent.comment
    if comment is None:
        raise ValueError("an intent needs its comment attached to be applied")
    if comment.stream != book.stream:
        raise ValueError(f"comment of stream {comment.stream!r} applied to {book.stream!r}")
    cid = comment.comment_id
    if cid in book.deleted:
        return book, []
    if comment.deleted:
        book.deleted.add(cid)
        book.log.append(intent)
        return book, _undo(book, cid, comment.ts, catalog) if book.log.seen(cid) else []
    step = _run(book, intent, catalog)
    return book, step.events(cid, comment.ts) if step is not None else []


def apply_action(
    book: StreamBook, action: Action, catalog: Catalog
) -> tuple[StreamBook, list[OrderEvent]]:
    """Apply a host action, once per `action_id` (an action without one is applied each time it
    arrives). Raises ActionError, leaving the book unchanged, when it cannot apply."""
    if action.stream != book.stream:
        raise ValueError(f"action for stream {action.stream!r} applied to {book.stream!r}")
    step = _run(book, action, catalog)
    return book, step.events(action.action_id, action.ts) if step is not None else []


def _run(book: StreamBook, entry: Entry, catalog: Catalog) -> Step | None:
    """Apply and log an input not yet seen; None if it is a repeat or changes nothing."""
    cid = entry_id(entry)
    if cid and book.log.seen(cid):
        if not isinstance(entry, Intent):
            _same_action(book, cid, entry)
        return None
    step = Step(book, catalog)
    if isinstance(entry, Intent):
        if not (entry.intent in ORDER_INTENTS or entry.phone):
            return None
        assert entry.comment is not None  # checked by `apply`
        rules.apply_intent(step, entry, entry.comment)
        entry = msgspec.structs.replace(entry, explanation=[])  # the log keeps what replay needs
    else:
        rules.apply_action(step, entry)
    promote(step)
    book.log.append(entry)
    return step


def _same_action(book: StreamBook, action_id: str, action: Action) -> None:
    """A repeat of an action applies nothing; its id on a different action is refused (a page
    that re-uses ids would otherwise get ok-and-nothing). The time stamp may differ."""
    logged = decode(book.log.rows[book.log.ids[action_id]])
    if not isinstance(logged, type(action)) or logged != msgspec.structs.replace(
        action, ts=getattr(logged, "ts", action.ts)
    ):
        raise ActionError(f"action_id {action_id!r} was already used for a different action")


def _undo(book: StreamBook, cid: str, ts: float, catalog: Catalog) -> list[OrderEvent]:
    """Rebuild the book from its log without comment `cid` and tell every order that changed.
    Host actions that no longer apply (approving `cid`'s review item, removing stock `cid` had
    freed) are dropped from the log. Its cost grows with the session: deletions are rare."""
    before = {customer: snapshot(book, order) for customer, order in book.orders.items()}
    fresh = empty_book(book.stream, book.initial)
    fresh.seq = book.seq
    book.log.drop(book.log.ids[cid], cid)
    for number, entry in book.log.entries():
        if _deletion(entry):
            continue
        try:
            _run(fresh, entry, catalog)
        except ActionError:  # e.g. approving a review item of `cid`
            book.log.drop(number, entry_id(entry))
    book.orders, book.waitlist, book.reviews = fresh.orders, fresh.waitlist, fresh.reviews
    book.waiting = fresh.waiting
    book.remaining, book.reserved = fresh.remaining, fresh.reserved
    book.tickets, book.opened = fresh.tickets, fresh.opened
    book.changed.update(before, fresh.orders)
    step = Step(book, catalog, before=before)
    return step.events(cid, ts)


def _deletion(entry: Entry) -> bool:
    return isinstance(entry, Intent) and entry.comment is not None and entry.comment.deleted
