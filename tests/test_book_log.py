"""The book's log over a long session: a window of recent inputs with the journal an undo rolls
back over, older inputs compressed; undo and restart give exactly what the whole log would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chotdon.book_rows import BookRows
from chotdon.records import Intent, Item
from stream_jobs import (
    Action,
    StreamBook,
    apply,
    new_book,
    order_book,
    restore_book,
    take_changes,
)
from tests.test_order_book import make_intent, stored
from tests.test_order_book_properties import CATALOG, STREAM, comments, run, sessions

WINDOW = 50
INPUTS = 2000


def small(book: StreamBook, window: int) -> StreamBook:
    book.log.window = window
    return book


def long_session() -> list[Intent]:
    """Orders of a scarce product (2 in stock) from 300 customers, a tenth of them cancels."""
    return [
        make_intent(STREAM, f"c{i}", f"u{i % 300}", "cancel")
        if i % 10 == 9
        else make_intent(STREAM, f"c{i}", f"u{i % 300}", "order", [Item("HOP-GO", 1)])
        for i in range(INPUTS)
    ]


def deletion(of: Intent) -> Intent:
    assert of.comment is not None
    return make_intent(STREAM, of.comment.comment_id, of.comment.user_id, "other", deleted=True)


def test_only_the_window_stays_as_it_is_the_rest_is_compressed() -> None:
    book, _ = run(long_session(), small(new_book(CATALOG), WINDOW))
    log = book.log
    assert WINDOW <= len(log.recent) < 2 * WINDOW
    assert log.journal.keys() == log.recent.keys()  # every recent input can be rolled back
    assert len(log.blocks) == (INPUTS - len(log.recent)) // WINDOW
    assert [n for n, _ in log.rows()] == list(range(INPUTS))  # nothing lost
    assert len(log.ids) == INPUTS
    raw = sum(len(data) for _, data in log.rows(0))
    assert sum(len(b.data) for b in log.blocks) < raw / 5  # similar comments compress well
    assert log.get(3) == dict(log.rows())[3]  # an old entry is read from its block


def test_undoing_a_recent_comment_reads_no_older_input(monkeypatch: pytest.MonkeyPatch) -> None:
    ops = long_session()
    book, _ = run(ops, small(new_book(CATALOG), WINDOW))

    def unpack(block: order_book.Block) -> list[tuple[int, bytes]]:
        raise AssertionError(f"read entries {block.first}-{block.last}")

    monkeypatch.setattr(order_book, "_unpack", unpack)
    gone = ops[-WINDOW // 2]
    book, events = apply(book, deletion(gone), CATALOG)
    assert events  # its order, and the waiting orders its stock went to
    monkeypatch.undo()
    never, _ = run([op for op in ops if op is not gone])
    assert view(book) == view(never)


@pytest.mark.parametrize("restart", [False, True], ids=["live", "restored"])
def test_undoing_a_comment_older_than_the_window_rebuilds_the_book(restart: bool) -> None:
    ops = long_session()
    book, _ = run(ops, small(new_book(CATALOG), WINDOW))
    if restart:  # a restored book has no journal: any undo rebuilds
        book = small(stored(book), WINDOW)
    book, events = apply(book, deletion(ops[1]), CATALOG)
    assert events
    never, _ = run(ops[:1] + ops[2:])
    assert view(book) == view(never)
    # the journal is rebuilt with the book, for every recent input but the deletion report
    assert book.log.journal.keys() == book.log.recent.keys() - {book.log.next - 1}


def view(book: StreamBook) -> tuple[object, ...]:
    return (book.orders, book.remaining, book.reserved, book.waiting, book.waitlist, book.reviews)


@settings(max_examples=200, deadline=None)
@given(sessions(), st.integers(1, 3), st.data())
def test_a_small_window_and_a_restart_give_the_same_book_and_events(
    ops: list[Intent | Action], window: int, data: st.DataObject
) -> None:
    """Undo over the journal, undo by a rebuild, and undo after a restart (no journal) against
    the whole session in the window."""
    whole, events = run(ops, check=True)
    at = data.draw(st.integers(0, len(ops)))
    book, first = run(ops[:at], small(new_book(CATALOG), window), check=True)
    book, rest = run(ops[at:], small(stored(book), window))
    assert book == whole and first + rest == events


@settings(max_examples=200, deadline=None)
@given(comments(deletions=False, max_size=60), st.integers(1, 4), st.data())
def test_deleting_with_a_small_window_equals_never_having_seen_it(
    ops: list[Intent], window: int, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(ops) - 1))
    at = data.draw(st.integers(index + 1, len(ops)))
    deleted, _ = run([*ops[:at], deletion(ops[index]), *ops[at:]], small(new_book(CATALOG), window))
    never, _ = run(ops[:index] + ops[index + 1 :])
    assert view(deleted) == view(never)


class Rows:
    """A book's rows as a store keeps them (the SQLite tables, the Faust table): each take of
    changes written over the last."""

    def __init__(self) -> None:
        self.head = b""
        self.customers: dict[str, bytes] = {}
        self.log: dict[int, bytes] = {}
        self.blocks: dict[int, bytes] = {}

    def write(self, book: StreamBook) -> None:
        changes = take_changes(book)
        self.head = changes.head
        for customer, row in changes.customers.items():
            if row is None:
                self.customers.pop(customer, None)
            else:
                self.customers[customer] = row
        for number in changes.dropped:
            del self.log[number]  # a row that was written
        self.log.update(changes.log)
        for first, block in changes.blocks.items():
            if block is None:  # (also of a block made and emptied since the last take)
                self.blocks.pop(first, None)
            else:
                self.blocks[first] = block

    def restore(self, window: int) -> StreamBook:
        rows = BookRows(self.head, dict(self.customers), list(self.log.items()))
        rows.blocks = dict(self.blocks)
        return small(restore_book(rows), window)


def test_the_stored_log_is_the_window_as_it_is_and_the_blocks() -> None:
    ops = long_session()
    book, rows = small(new_book(CATALOG), WINDOW), Rows()
    for i, op in enumerate(ops):
        book, _ = apply(book, op, CATALOG)
        if i % 7 == 0:
            rows.write(book)
    rows.write(book)
    assert rows.log.keys() == book.log.recent.keys()  # at most 2 x WINDOW entry rows
    assert rows.blocks == {b.first: b.data for b in book.log.blocks}  # the same bytes
    assert len(rows.blocks) == (INPUTS - len(book.log.recent)) // WINDOW
    restored = rows.restore(WINDOW)
    assert restored == book
    rows.write(restored)  # a restored book writes its window's entries as a block
    assert not rows.log and len(rows.blocks) == len(book.log.blocks) + 1
    assert rows.restore(WINDOW) == book

    # a comment older than the window, deleted after the restart: exact
    restored, events = apply(restored, deletion(ops[1]), CATALOG)
    assert events
    rows.write(restored)
    never, _ = run(ops[:1] + ops[2:])
    assert view(rows.restore(WINDOW)) == view(restored) == view(never)
    assert rows.blocks == {b.first: b.data for b in restored.log.blocks}


def test_a_checkpoint_cut_after_its_blocks_restores_the_same_book() -> None:
    """The blocks are written before the entry rows they hold are deleted: a checkpoint cut
    between the two leaves entries twice, and the restore reads each once."""
    ops = long_session()[: 5 * WINDOW]
    book, rows = small(new_book(CATALOG), WINDOW), Rows()
    book, _ = run(ops[: 2 * WINDOW], book)
    rows.write(book)
    book, _ = run(ops[2 * WINDOW :], book)
    cut = Rows()
    cut.head, cut.customers, cut.log = rows.head, rows.customers, dict(rows.log)
    rows.write(book)
    cut.blocks, cut.head, cut.customers = rows.blocks, rows.head, rows.customers
    cut.log.update(rows.log)  # the old entry rows are still there
    assert len(cut.log) > len(rows.log)
    assert cut.restore(WINDOW) == book


@settings(max_examples=150, deadline=None)
@given(sessions(), st.integers(1, 3), st.data())
def test_a_book_restored_from_its_stored_rows_goes_on_as_the_whole_session(
    ops: list[Intent | Action], window: int, data: st.DataObject
) -> None:
    """Changes written at random points, a restart from the rows at another: the same book and
    events as the session in one go (deletions included, of entries in blocks too)."""
    whole, events = run(ops)
    restart = data.draw(st.integers(0, len(ops)))
    book, rows, told = small(new_book(CATALOG), window), Rows(), []
    for i, op in enumerate(ops):
        if i == restart:
            rows.write(book)
            book = rows.restore(window)
        book, new = run([op], book)
        told += new
        if data.draw(st.booleans()):
            rows.write(book)
    rows.write(book)
    assert book == whole and told == events
    assert rows.restore(window) == whole
    assert rows.log.keys() == book.log.recent.keys()
