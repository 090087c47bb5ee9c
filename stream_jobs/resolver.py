"""Applying comments' intents and host actions to a stream's book: the pure core.

No I/O, no clock, no environment: a book and an input in, the same book (mutated in place, for
speed) and the order events out. Callers keep using the returned book and keep no references
to its parts across calls (undoing a deleted comment replaces them).

Inputs apply in the order given (the stream's comment order). Each comment id applies once; a
comment reported deleted is undone by rolling the book back to before it and replaying the
inputs after it without it, so the book is exactly what it would be had the comment never been
seen. The rollback reads the log's journal (`order_book.BookLog`): an undo costs what came after
the comment, within the log's window, not what the session holds.
"""

from __future__ import annotations

import msgspec

from chotdon.catalog import Catalog
from chotdon.records import Intent, OrderEvent, decode

from . import rules
from .actions import Action, ActionError
from .book_rows import encode_state, roll_back
from .events import Snapshot, snapshot
from .order_book import Before, Entry, StreamBook, empty_book, entry_id
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
        book.log.append(intent, None)
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
    if isinstance(entry, Intent):
        if not (entry.intent in ORDER_INTENTS or entry.phone):
            return None
        entry = msgspec.structs.replace(entry, explanation=[])  # the log keeps what replay needs
    step, before = _step(book, entry, catalog)
    book.log.append(entry, before)
    return step


def _step(book: StreamBook, entry: Entry, catalog: Catalog) -> tuple[Step, Before]:
    """Apply an input; raises ActionError, changing nothing, for an action that cannot apply."""
    head = encode_state(book)
    step = Step(book, catalog)
    if isinstance(entry, Intent):
        assert entry.comment is not None  # checked by `apply`
        rules.apply_intent(step, entry, entry.comment)
    else:
        rules.apply_action(step, entry)
    promote(step)
    return step, Before(head, step.saved)


def _same_action(book: StreamBook, action_id: str, action: Action) -> None:
    """A repeat of an action applies nothing; its id on a different action is refused (a page
    that re-uses ids would otherwise get ok-and-nothing). The time stamp may differ."""
    logged = decode(book.log.get(book.log.ids[action_id]))
    if not isinstance(logged, type(action)) or logged != msgspec.structs.replace(
        action, ts=getattr(logged, "ts", action.ts)
    ):
        raise ActionError(f"action_id {action_id!r} was already used for a different action")


def _undo(book: StreamBook, cid: str, ts: float, catalog: Catalog) -> list[OrderEvent]:
    """Make the book what it would be without comment `cid` and tell every order that changed.

    A comment in the log's window: roll the book back to before it (the journal) and replay the
    inputs after it, a cost bounded by the window. An older one: rebuild the book from the whole
    log (rare: platforms report deletions soon). Host actions that no longer apply (approving
    `cid`'s review item, removing stock `cid` had freed) are dropped from the log."""
    log = book.log
    start = log.ids[cid]
    before = _roll_back(book, start) if start >= log.base else _clear(book)
    log.drop(start, cid)
    for number, entry in log.entries(start if start >= log.base else 0):
        if _deletion(entry):
            continue
        try:
            step, journal = _step(book, entry, catalog)
        except ActionError:  # e.g. approving a review item of `cid`
            log.drop(number, entry_id(entry))
            continue
        if number >= log.base:
            log.journal[number] = journal
        for customer, was in step.before.items():
            before.setdefault(customer, was)
    told = dict(sorted(before.items(), key=lambda item: item[1].order.number))
    return Step(book, catalog, before=told).events(cid, ts)


def _roll_back(book: StreamBook, start: int) -> dict[str, Snapshot]:
    """Put the book back as it stood before entry `start` (in the window); the orders this
    touches, as they stand now."""
    journal = [before for number, before in book.log.journal.items() if number >= start]
    customers: dict[str, bytes | None] = {}
    for before in reversed(journal):  # each customer as the earliest entry found it
        customers.update(before.customers)
    told = {c: snapshot(book, book.orders[c]) for c in customers if c in book.orders}
    roll_back(book, Before(book.log.journal[start].head, customers))
    return told


def _clear(book: StreamBook) -> dict[str, Snapshot]:
    """Empty the book (its stock as the session started); every order, as it stands now."""
    told = {customer: snapshot(book, order) for customer, order in book.orders.items()}
    fresh = empty_book(book.stream, book.initial)
    book.orders, book.waitlist, book.reviews = fresh.orders, fresh.waitlist, fresh.reviews
    book.waiting, book.fitting = fresh.waiting, fresh.fitting
    book.remaining, book.reserved = fresh.remaining, fresh.reserved
    book.tickets, book.opened = fresh.tickets, fresh.opened
    return told


def _deletion(entry: Entry) -> bool:
    return isinstance(entry, Intent) and entry.comment is not None and entry.comment.deleted
