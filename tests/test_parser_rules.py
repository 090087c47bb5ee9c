"""The parser's rules, one behaviour at a time, on comments written for these tests."""

from __future__ import annotations

import unicodedata

import pytest

from chotdon.catalog import load_catalog
from chotdon.records import Intent, Item
from parsers import PARSER_VERSION, Parser

KIM_AN = Parser(load_catalog("kim-an"))
PHU_XUYEN = Parser(load_catalog("phu-xuyen"))


def parse(text: str, current: str | None = None, catalog: Parser = KIM_AN) -> Intent:
    return catalog.parse_uncached(text, current)


def items(text: str, current: str | None = None, catalog: Parser = KIM_AN) -> list[Item]:
    result = parse(text, current, catalog)
    assert result.intent == "order", (text, result)
    return result.items


@pytest.mark.parametrize(
    ("text", "qty"),
    [
        ("lấy 3 hộp", 3),
        ("lấy ba hộp", 3),
        ("lấy mười hai hộp", 12),
        ("lấy hai mươi hộp", 20),
        ("lấy hai mươi lăm hộp", 25),
        ("cho chị 1 chục hộp", 10),
        ("chục hộp ổi nhé", 10),
        ("A1 x4", 4),
        ("a1 sl 5", 5),
        ("2c hộp ổi", 2),
        ("+3", 3),
        ("LẤY 6 HỘP", 6),
    ],
)
def test_counted_quantities(text: str, qty: int) -> None:
    assert items(text, "A1") == [Item("OI-HOP", qty)]


@pytest.mark.parametrize(
    ("text", "qty"),
    [
        ("lấy nửa cân", 0.5),
        ("lấy cân rưỡi", 1.5),
        ("lấy 2 ký rưỡi", 2.5),
        ("lấy 3 lạng", 0.3),
        ("lấy 1kg2", 1.2),
        ("lấy 1 cân 2", 1.2),
        ("lấy 2 kí", 2),
        ("lấy 4 kilo", 4),
        ("lấy 500g", 0.5),
    ],
)
def test_weights_convert_to_the_products_unit(text: str, qty: float) -> None:
    assert items(text, "A2") == [Item("OI-KG", qty)]


def test_the_unit_chooses_between_products_sharing_a_name() -> None:
    assert items("3kg ổi nhé") == [Item("OI-KG", 3)]
    assert items("3 hộp ổi nhé") == [Item("OI-HOP", 3)]
    assert items("2 chai ổi nha") == [Item("NUOC-OI", 2)]


def test_a_comment_naming_no_product_means_the_current_one() -> None:
    assert items("chốt", "A3") == [Item("NUOC-OI", 1)]
    assert items("chốtttt 🔥", "A4") == [Item("LA-DONG", 1)]
    assert items("lấy 2", "A5") == [Item("QUA-OI", 2)]
    # no current product and none named: an order to review, not a guess
    assert parse("chốt 2 nhé").items == []


def test_codes_in_any_case_and_several_items() -> None:
    assert items("a5x1 A3x2") == [Item("QUA-OI", 1), Item("NUOC-OI", 2)]
    assert items("3 bó lá dong với hai chai nước ép") == [Item("LA-DONG", 3), Item("NUOC-OI", 2)]
    assert items("A2 A4 mỗi loại 3") == [Item("OI-KG", 3), Item("LA-DONG", 3)]


def test_same_product_twice_merges() -> None:
    assert items("lấy 2 hộp ổi, thêm 1 hộp ổi nữa") == [Item("OI-HOP", 3)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("chốt giày size 40", [Item("GIAY-DA", 1, "40")]),
        ("G1 sz 39 x2", [Item("GIAY-DA", 2, "39")]),
        ("đôi giày 43 nhé", [Item("GIAY-DA", 1, "43")]),
        ("T1 đỏ", [Item("TUI-XACH", 1, "đỏ")]),
        ("túi da màu nâu 2 chiếc", [Item("TUI-XACH", 2, "nâu")]),
        ("ao size xl 1 cai", [Item("AO-DOAN", 1, "XL")]),
        ("lấy 1 áo M với 1 áo XXL", [Item("AO-DOAN", 1, "M"), Item("AO-DOAN", 1, "XXL")]),
        ("2 đôi giày size 41 và 42", [Item("GIAY-DA", 1, "41"), Item("GIAY-DA", 1, "42")]),
    ],
)
def test_variants(text: str, expected: list[Item]) -> None:
    assert items(text, None, PHU_XUYEN) == expected


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("sdt 0912 345 678", "0912345678"),
        ("đt 0987.654.321 nhé", "0987654321"),
        ("zalo 0356-111-222", "0356111222"),
        ("+84 912 888 345", "0912888345"),
        ("84 868 123 789 nha", "0868123789"),
        ("gọi 0799123456", "0799123456"),
    ],
)
def test_phones_in_every_format_are_contacts_not_quantities(text: str, phone: str) -> None:
    result = parse(text, "A1")
    assert (result.intent, result.phone, result.items) == ("contact", phone, [])


def test_a_phone_inside_an_order_is_attached_and_not_counted() -> None:
    result = parse("sdt 0912 345 678 lấy 3 hộp", "A1")
    assert result.intent == "order" and result.phone == "0912345678"
    assert result.items == [Item("OI-HOP", 3)]


@pytest.mark.parametrize(
    "text",
    [
        "ổi hộp 80k ngon quá",
        "Kim An số 1",
        "nước ép 10 điểm",
        "năm 2023 e mua ở đây rồi",
        "xã có 12 thôn trồng ổi",
        "1000 người xem rồi kìa",
        "c ck 1tr2 rồi nha",
        "hôm trước mua 3 hộp rồi, giòn lắm",
        "@Lan ơi mua 2 hộp ổi đi",
        "e mới nhận 2 hộp, ngon lắm",
    ],
)
def test_never_an_order(text: str) -> None:
    assert parse(text, "A1").intent == "other"


@pytest.mark.parametrize(
    "text",
    [
        "2 hộp bao nhiêu tiền",
        "ổi còn không shop",
        "ship ra Huế mất mấy ngày",
        "a1 giá bn",
        "ổi có ngọt không ạ",
        "hộp quà gồm những gì",
    ],
)
def test_questions_order_nothing(text: str) -> None:
    result = parse(text, "A1")
    assert (result.intent, result.items) == ("question", [])


def test_a_question_then_an_order_is_an_order() -> None:
    assert items("nước ép để được mấy ngày, lấy 3 chai nhé") == [Item("NUOC-OI", 3)]


def test_changes_carry_the_new_state() -> None:
    assert parse("sửa thành 4 hộp nhé", "A1").items == [Item("OI-HOP", 4)]
    change = parse("đổi size 41 sang 42 giúp e", "G1", PHU_XUYEN)
    assert (change.intent, change.items) == ("change", [Item("GIAY-DA", None, "42")])


def test_cancels_of_a_product_and_of_the_whole_order() -> None:
    assert parse("huỷ đơn giúp mình").items == []
    assert parse("hủy đơn giúp mình").intent == "cancel"
    bo = parse("bỏ lá dong giúp c, vẫn lấy ổi", "A1")
    assert (bo.intent, bo.items) == ("cancel", [Item("LA-DONG", None)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tui lấy 2 túi đen", [Item("TUI-XACH", 2, "đen")]),  # tui = I, túi = bag
        ("tui lay 2 tui den", [Item("TUI-XACH", 2, "đen")]),
    ],
)
def test_collisions_without_diacritics(text: str, expected: list[Item]) -> None:
    assert items(text, None, PHU_XUYEN) == expected


def test_dong_is_a_leaf_only_as_a_product() -> None:
    assert items("2 bó dong nha", "A1") == [Item("LA-DONG", 2)]
    assert parse("dong nguoi xem qua", "A4").intent == "other"


def test_k_is_no_but_50k_is_a_price() -> None:
    assert parse("k lấy nữa, hủy đơn nha", "A1").intent == "cancel"
    assert items("2 hộp 50k ok chốt", "A1") == [Item("OI-HOP", 2)]


def test_unicode_forms_all_read_the_same() -> None:
    text = "chốt 2 hộp quà nhé"
    expected = parse(text)
    for variant in (
        unicodedata.normalize("NFD", text),
        text.upper(),
        "chốttttt 2 hộp quàaaa nhé",
        "chốt 2 hộp quà 👨‍👩‍👧 nhé!!!",
        "chot 2 hop qua nhe",
    ):
        assert parse(variant).items == expected.items, variant


def test_both_tone_placements() -> None:
    assert parse("huỷ đơn").intent == parse("hủy đơn").intent == "cancel"


def test_intent_record_carries_confidence_explanation_and_version() -> None:
    result = parse("chốt 2 hộp ổi sdt 0912345678")
    assert result.parser_version == PARSER_VERSION
    assert 0 < result.confidence <= 1
    rules = {m.rule for m in result.explanation}
    assert {"order-verb", "product:alias:OI-HOP", "not-quantity:phone"} <= rules
    span = next(m for m in result.explanation if m.rule.startswith("product:"))
    assert span.text == "hộp ổi"


def test_a_total_then_its_sizes_is_said_once() -> None:
    assert items("cho mình 3 áo, 1 M 2 L", "AT", PHU_XUYEN) == [
        Item("AO-DOAN", 1, "M"),
        Item("AO-DOAN", 2, "L"),
    ]


def test_asking_the_price_of_a_named_product() -> None:
    assert parse("ib e giá ổi hộp", "A1").intent == "question"
    assert parse("chốt 2 hộp, giá vẫn 80k nhé", "A1").intent == "order"


def test_h_after_a_number_is_a_box_or_a_time() -> None:
    assert items("e lấy 3h quà") == [Item("QUA-OI", 3)]
    assert items("lấy 2h nhé", "A1") == [Item("OI-HOP", 2)]
    assert parse("live lúc 8h nha", "A1").intent == "other"  # a time, never a quantity


def test_a_reduction_whose_amount_comes_in_the_next_clause() -> None:
    change = parse("bớt cho e 1 hộp, còn 2 hộp thôi", "A1")
    assert (change.intent, change.items) == ("change", [Item("OI-HOP", 2)])


def test_buying_next_year_is_not_an_order_now() -> None:
    assert parse("ổi ngon quá, năm sau mua tiếp", "A1").intent == "other"


def test_a_lone_count_or_size_means_the_product_on_screen() -> None:
    assert items("2 ạ", "A3") == [Item("NUOC-OI", 2)]
    assert items("42", "G1", PHU_XUYEN) == [Item("GIAY-DA", 1, "42")]
    assert items("M nhé", "AT", PHU_XUYEN) == [Item("AO-DOAN", 1, "M")]
    assert parse("1", None).items == []  # nothing on screen: an order to review, not a guess
