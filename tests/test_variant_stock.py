"""Variants with their own price and stock, rule by rule: a fashion catalog (size x colour, every
shirt combination owning its stock) and a speciality-food one (weights at their own prices)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from analytics.tables import action_from, action_row
from chotdon.catalog import CatalogError, load_catalog, parse_catalog
from chotdon.records import AdjustStock, Approve, Intent, Item, SetCurrent, VariantStock
from ingest.sources import read_record
from parsers.cli import describe
from stream_jobs import ActionError
from stream_jobs.stages import stock_levels
from tests.test_order_book import Session, queues

DATA = Path(__file__).parent / "data" / "variants"


@pytest.fixture
def fashion() -> Session:
    return Session(str(DATA / "thoi-trang.json"))


@pytest.fixture
def food() -> Session:
    return Session(str(DATA / "dac-san.json"))


def shirt(variant: str, amount: float = 1) -> Item:
    return Item("AO-THUN", amount, variant)


def test_a_variant_sells_out_while_the_others_keep_their_stock(fashion: Session) -> None:
    fashion.say("lan", "order", shirt("M / trắng", 2))
    (event,) = fashion.say("hoa", "order", shirt("M / trắng"))
    assert event.kind == "waitlisted"
    fashion.say("minh", "order", shirt("L / trắng"))
    assert fashion.lines("hoa") == [("AO-THUN", "M / trắng", 1, "waitlisted")]
    assert fashion.lines("minh") == [("AO-THUN", "L / trắng", 1, "confirmed")]
    book = fashion.book
    assert book.remaining["AO-THUN / M / trắng"] == 0 and book.reserved["AO-THUN / M / trắng"] == 2
    assert book.remaining["AO-THUN / L / trắng"] == 4
    assert queues(book) == {"AO-THUN / M / trắng": [("tiktok:hoa", "M / trắng")]}


def test_stock_returned_to_a_variant_promotes_only_its_waitlist(fashion: Session) -> None:
    fashion.say("lan", "order", shirt("M / trắng", 2))
    fashion.say("hoa", "order", shirt("M / trắng"))
    fashion.say("minh", "order", shirt("XL / đen", 3))  # 2 in stock: waits whole
    fashion.say("lan", "cancel", Item("AO-THUN", None, "M / trắng"))
    assert fashion.lines("hoa") == [("AO-THUN", "M / trắng", 1, "confirmed")]
    assert fashion.lines("minh") == [("AO-THUN", "XL / đen", 3, "waitlisted")]
    assert fashion.events[-1].customer == "tiktok:hoa"


def test_lines_are_priced_by_their_variant(fashion: Session, food: Session) -> None:
    (event,) = fashion.say("lan", "order", shirt("XL / trắng"), shirt("M / đen"))
    assert [x.unit_price for x in event.lines] == [165_000, 150_000] and event.total == 315_000
    (event,) = food.say("lan", "order", Item("MAT-ONG", 2, "1kg"), Item("MAT-ONG", 1, "500g"))
    assert [x.unit_price for x in event.lines] == [220_000, 120_000] and event.total == 560_000
    (event,) = food.say("hoa", "order", Item("THIT-TRAU", 1, "500g"))  # own price, shared stock
    assert event.total == 480_000 and food.book.remaining["THIT-TRAU"] == 14


def test_variants_without_stock_of_their_own_share_the_product_stock(fashion: Session) -> None:
    fashion.say("lan", "order", Item("VAY-LEN", 4, "S / be"))
    fashion.say("hoa", "order", Item("VAY-LEN", 3, "M / be"))  # 2 left of the shared 6
    fashion.say("minh", "order", Item("VAY-LEN", 1, "M / đỏ"))  # its own 1
    assert fashion.lines("hoa") == [("VAY-LEN", "M / be", 3, "waitlisted")]
    assert fashion.lines("minh") == [("VAY-LEN", "M / đỏ", 1, "confirmed")]
    assert queues(fashion.book) == {"VAY-LEN": [("tiktok:hoa", "M / be")]}
    fashion.say("lan", "change", Item("VAY-LEN", 1, None))  # frees 3 of the shared stock
    assert fashion.lines("hoa") == [("VAY-LEN", "M / be", 3, "confirmed")]


def test_changing_the_variant_moves_the_reservation_and_the_price(fashion: Session) -> None:
    fashion.say("lan", "order", shirt("M / đen", 2))
    fashion.say("hoa", "order", shirt("XL / trắng", 2))  # 1 in stock: waits
    (event,) = fashion.say("lan", "change", Item("AO-THUN", None, "XL / đen"))
    assert fashion.lines("lan") == [("AO-THUN", "XL / đen", 2, "confirmed")]
    assert event.total == 330_000
    book = fashion.book
    assert book.remaining["AO-THUN / M / đen"] == 3 and book.remaining["AO-THUN / XL / đen"] == 0
    # to a variant without the stock: the whole line waits there, the old stock goes back
    fashion.say("lan", "change", Item("AO-THUN", None, "XL / trắng"))
    assert fashion.lines("lan") == [("AO-THUN", "XL / trắng", 2, "waitlisted")]
    assert book.remaining["AO-THUN / XL / đen"] == 2
    assert queues(book)["AO-THUN / XL / trắng"] == [
        ("tiktok:hoa", "XL / trắng"),
        ("tiktok:lan", "XL / trắng"),
    ]


def test_a_waiting_line_moved_between_variants_of_one_pool_keeps_its_place(
    fashion: Session,
) -> None:
    fashion.say("lan", "order", Item("VAY-LEN", 6, "S / be"))
    fashion.say("hoa", "order", Item("VAY-LEN", 1, "S / đỏ"))
    fashion.say("minh", "order", Item("VAY-LEN", 2, "S / be"))
    fashion.say("hoa", "change", Item("VAY-LEN", None, "M / be"))
    assert queues(fashion.book)["VAY-LEN"] == [("tiktok:hoa", "M / be"), ("tiktok:minh", "S / be")]
    assert fashion.lines("hoa") == [("VAY-LEN", "M / be", 1, "waitlisted")]


def test_the_host_changes_a_variant_stock_and_its_waitlist_moves(fashion: Session) -> None:
    fashion.say("lan", "order", shirt("XL / trắng", 2))
    fashion.act(
        AdjustStock(stream=fashion.book.stream, sku="AO-THUN", variant="XL / trắng", delta=1)
    )
    assert fashion.lines("lan") == [("AO-THUN", "XL / trắng", 2, "confirmed")]
    with pytest.raises(ActionError, match="has no stock of its own"):
        fashion.act(
            AdjustStock(stream=fashion.book.stream, sku="VAY-LEN", variant="S / be", delta=1)
        )
    with pytest.raises(ActionError, match="only 4 of AO-THUN / L / đen is unreserved"):
        fashion.act(
            AdjustStock(stream=fashion.book.stream, sku="AO-THUN", variant="L / đen", delta=-5)
        )
    fashion.act(AdjustStock(stream=fashion.book.stream, sku="VAY-LEN", delta=2))
    assert fashion.book.remaining["VAY-LEN"] == 8


def test_stock_levels_count_products_whole_and_tell_owned_variants_apart(food: Session) -> None:
    food.say("lan", "order", Item("MAT-ONG", 3, "1kg"), Item("MAT-ONG", 2, "500g"))
    food.say("hoa", "order", Item("MAT-ONG", 2, "1kg"))
    levels = stock_levels(food.book, 5.0)
    assert levels.remaining["MAT-ONG"] == 18 + 1 and levels.reserved["MAT-ONG"] == 5
    assert levels.waiting == {"MAT-ONG": 2}
    assert levels.variants == [
        VariantStock(sku="MAT-ONG", variant="1kg", remaining=1, reserved=3, waiting=2),
        VariantStock(sku="CHE-SHAN", variant="200g", remaining=2, reserved=0, waiting=0),
    ]


def test_a_sku_cannot_hold_the_variant_separator() -> None:
    product = {"sku": "AO / M", "code": "A", "name": "Áo", "unit": "cái", "price": 1, "stock": 1}
    with pytest.raises(CatalogError, match="field 'sku' must not contain ' / '"):
        parse_catalog({"stream": "s", "products": [product]})


def test_a_catalog_record_decodes_to_the_same_axes_prices_and_stock() -> None:
    """The catalog topic carries the model as msgspec encodes it (variant labels and axes)."""
    for name in ("thoi-trang.json", "dac-san.json"):
        catalog = load_catalog(DATA / name)
        assert parse_catalog(json.loads(msgspec.json.encode(catalog))) == catalog
    shirt = load_catalog(DATA / "thoi-trang.json").products[0]
    assert [a.name for a in shirt.axes] == ["size", "màu"] and len(shirt.variants) == 6


def test_chotdon_parse_prices_an_item_at_its_variant() -> None:
    catalog = load_catalog(DATA / "dac-san.json")
    intent = Intent(intent="order", items=[Item("MAT-ONG", 2, "1kg"), Item("MAT-ONG", 1, "500g")])
    text = describe(intent, catalog, "chốt 2 hũ 1kg 1 hũ 500g", explain=False)
    assert "[1kg] × 2 hũ = 440.000 ₫" in text and "[500g] × 1 hũ = 120.000 ₫" in text
    assert "Tổng: 560.000 ₫" in text


def test_exported_host_actions_read_back_with_their_variant() -> None:
    """An export's actions table, read back for a replay or a report, keeps each variant."""
    lines = (DATA / "thoi-trang.jsonl").read_text("utf-8").splitlines()
    actions = [
        r for r in map(read_record, lines) if isinstance(r, SetCurrent | Approve | AdjustStock)
    ]
    assert any(isinstance(a, AdjustStock) and a.variant for a in actions)
    assert [action_from(action_row(a)) for a in actions] == actions


def test_a_change_naming_one_axis_keeps_the_lines_other_values(fashion: Session) -> None:
    fashion.say("lan", "order", shirt("M / trắng", 2))
    fashion.say("lan", "change", Item("AO-THUN", None, "L"))  # "đổi sang size L"
    assert fashion.lines("lan") == [("AO-THUN", "L / trắng", 2, "confirmed")]
    fashion.say("lan", "change", Item("AO-THUN", 1, "đen"))  # "lấy màu đen 1 cái thôi"
    assert fashion.lines("lan") == [("AO-THUN", "L / đen", 1, "confirmed")]
    assert fashion.book.remaining["AO-THUN / L / trắng"] == 5
    (event,) = fashion.say("lan", "change", Item("AO-THUN", None, "xanh"))  # no such colour
    assert [x.missing for x in event.lines if x.status == "review"] == ["variant"]
