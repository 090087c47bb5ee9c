from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chotdon.catalog import CatalogError, load_catalog, parse_catalog


def catalog_with(**product_changes: Any) -> dict[str, Any]:
    product = {
        "sku": "OI-HOP",
        "code": "A1",
        "name": "Ổi hộp",
        "unit": "hộp",
        "price": 80000,
        "stock": 10,
        "aliases": ["ổi"],
        "variants": [],
    }
    product.update(product_changes)
    return {"stream": "s1", "title": "Phiên test", "products": [product]}


def test_bundled_catalogs_load_with_every_product() -> None:
    kim_an = load_catalog("kim-an")
    assert kim_an.target_revenue == 3_000_000
    assert [p.code for p in kim_an.products] == ["A1", "A2", "A3", "A4", "A5"]
    g1 = load_catalog("phu-xuyen").by_code("g1")
    assert g1 is not None and g1.variants == ("38", "39", "40", "41", "42", "43")


def test_several_variant_axes_make_labels_in_axis_order() -> None:
    shirt = parse_catalog(
        catalog_with(
            variants={"size": ["M", "L"], "màu": ["trắng", "đen"]},
            options=[{"variant": "L / đen", "price": 90000, "stock": 3}],
        )
    ).products[0]
    assert [a.name for a in shirt.axes] == ["size", "màu"]
    assert shirt.variants == ("M / trắng", "M / đen", "L / trắng", "L / đen")
    assert shirt.label({"màu": "đen", "size": "L"}) == "L / đen"
    assert (shirt.price_of("L / đen"), shirt.price_of("M / đen"), shirt.price_of(None)) == (
        90000,
        80000,
        80000,
    )
    assert shirt.owns_stock("L / đen") and not shirt.owns_stock("M / trắng")


def test_plain_variant_list_is_one_unnamed_axis() -> None:
    honey = parse_catalog(
        catalog_with(variants=["500g", "1kg"], options=[{"variant": "1kg", "price": 150000}])
    ).products[0]
    assert honey.variants == ("500g", "1kg")
    assert [(a.name, a.values) for a in honey.axes] == [("", ("500g", "1kg"))]
    assert honey.price_of("1kg") == 150000 and not honey.owns_stock("1kg")


def test_catalog_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps(catalog_with()), encoding="utf-8")
    product = load_catalog(path).by_sku("OI-HOP")
    assert product is not None and product.price == 80000


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sku": None}, "field 'sku' is missing"),
        ({"price": -5}, "products[0] (OI-HOP): field 'price' is negative"),
        ({"unit": "thúng"}, "products[0] (OI-HOP): field 'unit' has unknown unit 'thúng'"),
        ({"stock": "nhiều"}, "products[0] (OI-HOP): field 'stock' is missing or not a number"),
        ({"variants": "S,M"}, "products[0] (OI-HOP): field 'variants' must be a list"),
        ({"variants": {"size": "S"}}, "(OI-HOP): field 'variants.size' must be a list"),
        (
            {"variants": ["S", "M"], "options": [{"variant": "XL", "stock": 2}]},
            "(OI-HOP): options[0]: field 'variant' must be one of the product's variants (S, M)",
        ),
        (
            {"variants": ["S"], "options": [{"variant": "S", "price": 1.5}]},
            "options[0]: field 'price' must be a whole number of VND",
        ),
        (
            {"variants": ["S"], "options": [{"variant": "S", "stock": -1}]},
            "options[0]: field 'stock' must be a number >= 0",
        ),
        (
            {"variants": ["S"], "options": [{"variant": "S"}, {"variant": "S"}]},
            "options[1]: variant 'S' is listed twice",
        ),
        (
            {"variants": {"a": [str(i) for i in range(40)], "b": [str(i) for i in range(40)]}},
            "field 'variants' makes over 1000 combinations",
        ),
        ({"platform_ids": ["123"]}, "(OI-HOP): field 'platform_ids' must be an object"),
        (
            {"platform_ids": {"lazada": "1"}},
            "platform_ids: unknown platform 'lazada' (known: shopee)",
        ),
        ({"platform_ids": {"shopee": "12a"}}, "platform_ids.shopee must be the item's id"),
        ({"platform_ids": {"shopee": "1" * 21}}, "a number of at most 20 digits"),
        ({"platform_ids": {"shopee": True}}, "platform_ids.shopee must be the item's id"),
    ],
)
def test_bad_product_names_field_and_product(change: dict[str, Any], message: str) -> None:
    data = catalog_with(**change)
    if change.get("sku", "x") is None:
        del data["products"][0]["sku"]
    with pytest.raises(CatalogError, match=re.escape(message)):
        parse_catalog(data)


def test_missing_sku_names_the_product_by_code() -> None:
    data = catalog_with()
    del data["products"][0]["sku"]
    with pytest.raises(CatalogError) as err:
        parse_catalog(data)
    assert "products[0] (A1)" in str(err.value) and "'sku'" in str(err.value)


def test_duplicate_code_is_rejected_naming_both() -> None:
    data = catalog_with()
    data["products"].append(dict(data["products"][0], sku="OI-KG", code="a1"))
    with pytest.raises(
        CatalogError,
        match=r"products\[1\] \(OI-KG\): duplicate code 'a1' "
        r"\(also products\[0\]\)",
    ):
        parse_catalog(data)


def test_duplicate_sku_is_rejected_whatever_its_case() -> None:
    data = catalog_with()
    sku = data["products"][0]["sku"]
    data["products"].append(dict(data["products"][0], sku=sku.lower(), code="A2"))
    with pytest.raises(
        CatalogError,
        match=re.escape(f"products[1] ({sku.lower()}): duplicate sku '{sku.lower()}' "),
    ):
        parse_catalog(data)


def test_a_product_names_its_shopee_item_once() -> None:
    data = catalog_with(platform_ids={"shopee": 22512345678})
    data["products"].append(dict(data["products"][0], sku="OI-KG", code="A2", platform_ids={}))
    catalog = parse_catalog(data)
    assert catalog.platform_codes("shopee") == {"22512345678": "A1"}
    assert parse_catalog(json.loads(msgspec.json.encode(catalog))) == catalog  # a catalog record
    data["products"][1]["platform_ids"] = {"shopee": "22512345678"}
    with pytest.raises(
        CatalogError,
        match=re.escape("products[1] (OI-KG): duplicate platform_ids.shopee '22512345678'"),
    ):
        parse_catalog(data)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bad\.json: not valid JSON"):
        load_catalog(bad)
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.json")
