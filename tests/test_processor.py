"""The stream processor both modes run: what it decides once for both."""

from __future__ import annotations

import pytest

from chotdon.catalog import load_catalog
from chotdon.records import AdjustStock, Comment
from stream_jobs import ActionError, new_book
from stream_jobs.processor import StreamProcessor

CATALOG = load_catalog("kim-an")


def said(cid: str, text: str, ts: float, user: str = "u1") -> Comment:
    return Comment(stream=CATALOG.stream, comment_id=cid, user_id=user, text=text, ts=ts)


def test_stock_levels_are_said_once_stamped_by_the_streams_latest_change() -> None:
    p = StreamProcessor(CATALOG, new_book(CATALOG))
    p.comment(said("c1", "chốt 2 hộp ổi", 9.0))
    p.comment(said("c2", "ổi ngon quá", 12.0, user="u2"))  # no order: stock unchanged
    p.comment(said("c3", "lấy 1 kg ổi", 7.0, user="u3"))  # late, from the platform's clock
    levels = p.take_stock()
    assert levels is not None and levels.ts == 9.0
    assert levels.reserved["OI-HOP"] == 2 and levels.reserved["OI-KG"] == 1
    assert p.take_stock() is None  # nothing since


def test_the_product_on_screen_reads_a_bare_quantity() -> None:
    p = StreamProcessor(CATALOG, new_book(CATALOG), current="OI-HOP")
    p.current = next(x.code for x in CATALOG.products if x.sku == "OI-KG")
    intent, events = p.comment(said("c1", "lấy 3", 1.0))
    assert [(i.sku, i.qty) for i in intent.items] == [("OI-KG", 3)]
    assert events[0].kind == "confirmed"


def test_a_refused_action_is_an_action_error_and_changes_nothing() -> None:
    p = StreamProcessor(CATALOG, new_book(CATALOG))
    with pytest.raises(ActionError):
        p.action(AdjustStock(stream=CATALOG.stream, sku="NO-SUCH", delta=1, action_id="a1"))
    assert p.take_stock() is None
    events = p.action(AdjustStock(stream=CATALOG.stream, sku="OI-HOP", delta=5, ts=3.0))
    levels = p.take_stock()
    assert events == [] and levels is not None and levels.ts == 3.0


def test_a_quantity_beyond_the_bound_after_its_unit_goes_to_review_for_its_count() -> None:
    """ "chốt 999 tạ x 999" is 99,800,100 kg: no count, a review item, no stock reserved."""
    p = StreamProcessor(CATALOG, new_book(CATALOG), current="A2")
    intent, events = p.comment(said("c1", "chốt 999 tạ x 999", 1.0))
    assert [(i.sku, i.qty) for i in intent.items] == [("OI-KG", None)]
    assert [e.kind for e in events] == ["needs_review"]
    assert [(r.sku, r.missing) for r in p.book.reviews.values()] == [("OI-KG", "qty")]
    levels = p.take_stock()
    assert levels is not None and levels.reserved["OI-KG"] == 0 and not levels.waiting
