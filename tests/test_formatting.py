from chotdon.formatting import format_qty, format_vnd
from chotdon.phones import mask_phone, mask_phones_in


def test_vnd_groups_thousands_with_dots() -> None:
    assert format_vnd(3_000_000) == "3.000.000 ₫"
    assert format_vnd(75000.4) == "75.000 ₫"
    assert format_qty(2.5) == "2,5" and format_qty(3) == "3" and format_qty(None) == "?"


def test_phones_are_masked_in_values_and_free_text() -> None:
    assert mask_phone("0912345678") == "0912***678"
    assert mask_phones_in("chốt 2 hộp, sđt 0912 345 678 nhé") == "chốt 2 hộp, sđt 0912***678 nhé"
    assert mask_phones_in("zalo +84 987.654.321") == "zalo 0987***321"
    assert mask_phones_in("lấy 2 hộp 160k") == "lấy 2 hộp 160k"
