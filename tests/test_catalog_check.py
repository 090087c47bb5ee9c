"""`chotdon catalog check`: findings on bad catalogs, none on a good one, and what each finding
says the parser does is what the parser does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chotdon.catalog import parse_catalog
from chotdon.cli import main
from parsers import Parser
from parsers.catalog_check import check_catalog


def product(sku: str, code: str, name: str, unit: str = "hộp", **more: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "code": code,
        "name": name,
        "unit": unit,
        "price": 1000,
        "stock": 10,
        **more,
    }


GOOD = {
    "stream": "good",
    "products": [
        product(
            "MAT-ONG", "P01", "Mật ong rừng", "hũ", aliases=["mật ong"], variants=["500g", "1kg"]
        ),
        product(
            "AO-THUN",
            "P02",
            "Áo thun cotton",
            "cái",
            aliases=["áo thun"],
            variants={"size": ["S", "M", "L"], "màu": ["trắng", "đen"]},
        ),
        product("THIT-TRAU", "P03", "Thịt trâu gác bếp", "kg", aliases=["thịt trâu"]),
    ],
}

BAD: dict[str, Any] = {
    "stream": "bad",
    "products": [
        product("OI", "M1", "Ổi Kim An", aliases=["ổi", "mật ong"]),
        product("TUI", "T2", "Túi vải", "cái", aliases=["túi"]),
        product("MAT-ONG", "P05", "Mật ong", "can", aliases=["mật ong"]),
        product("AO", "A1", "Áo", "cái", aliases=["áo thun"], variants={"size": ["S", "M", "XL"]}),
        product("SON", "XL", "Son lì", "cây", aliases=["son lì"], variants={"màu": ["1", "2"]}),
        product("QUA", "12", "Hộp quà", aliases=["hộp quà"]),
        product("DAM", "AT", "Đầm hoa", "chiếc", aliases=["đầm hoa"]),
        product("TRAU", "TR1", "Thịt trâu", "kg", aliases=["thịt trâu"], variants=["500g"]),
    ],
}


def kinds(data: Any) -> set[tuple[str, str]]:
    return {(f.kind, f.subject) for f in check_catalog(data)}


def test_a_good_catalog_has_no_finding() -> None:
    assert check_catalog(GOOD) == []


def test_a_bad_catalog_gets_each_finding() -> None:
    findings = check_catalog(BAD)
    assert {(f.kind, f.subject) for f in findings} == {
        ("unknown-unit", "can"),
        ("everyday-alias", "ổi"),
        ("unit-alias", "túi"),
        ("shared-alias", "mat ong"),
        ("code-like-size", "M1"),
        ("code-is-a-variant", "XL"),
        ("variant-like-quantity", "1, 2"),
        ("code-like-quantity", "12"),
        ("code-is-a-word", "AT"),
        ("measure-variant-of-measured-product", "500g"),
    }
    for f in findings:
        assert f.does and f.fix and f.product in f.line()
    unit = next(f for f in findings if f.kind == "unknown-unit")
    assert "chai" in unit.fix or "cái" in unit.fix  # the nearest known units are suggested


def test_what_the_findings_say_the_parser_does() -> None:
    def parser_of(*skus: str) -> Parser:
        products = [p for p in BAD["products"] if p["sku"] in skus]
        return Parser(parse_catalog({**BAD, "products": products}))

    parser = parser_of("OI", "AO", "TRAU")
    # an everyday alias: an order beside a count or an order verb, the everyday word alone
    assert parser.parse("chốt 2 oi", None).items[0].sku == "OI"
    assert parser.parse("oi", None).intent != "order"
    # a code that starts with a size letter: "m1" is the product, not one of size M
    assert parser.parse("m1", "A1").items[0].sku == "OI"
    # a small number that is a variant: alone it is the variant, with a unit it is a count
    parser = parser_of("SON")
    assert parser.parse("chốt 2 oi", "XL").items[0].variant == "2"  # "oi" read as "ơi"
    assert parser.parse("lấy 2", "XL").items[0].variant == "2"
    assert parser.parse("lấy 2 cây", "XL").items[0].qty == 2
    # a weight variant of a product sold by kg is the variant, never the quantity
    assert parser_of("TRAU").parse("chốt 500g thịt trâu", None).items[0].variant == "500g"


def test_the_command_exits_by_what_it_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(GOOD, ensure_ascii=False), encoding="utf-8")
    bad.write_text(json.dumps(BAD, ensure_ascii=False), encoding="utf-8")
    assert main(["catalog", "check", str(good)]) == 0
    assert "no findings" in capsys.readouterr().out
    assert main(["catalog", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "TUI: unit-alias 'túi'" in out and "Fix:" in out and "10 findings" in out
    assert main(["catalog", "check", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
