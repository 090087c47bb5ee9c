"""`chotdon catalog check`: what the parser will make of a seller's catalog, before the live.

Pure: a decoded catalog document in, findings out. Each finding says what the parser will do with
the catalog as written and how to change the catalog so it does what the seller means.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from chotdon.catalog import UNITS, Catalog, Product, parse_catalog

from .catalog_index import amount_of, everyday_risk, words_of
from .everyday import everyday_readings
from .lexicon import UNIT_WORDS, VOLUME_FACTORS, WEIGHT_FACTORS
from .text import fold, normalise

SIZE_LETTERS = ("xxxl", "xxl", "xl", "xs", "s", "m", "l")  # clothing sizes a code may start with
PLAUSIBLE_COUNT = 20  # a number a viewer may order that many of


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # "unknown-unit", "everyday-alias", "unit-alias", "shared-alias", ...
    product: str  # the product's sku (or its position when it has none)
    subject: str  # the alias, variant, code or unit concerned
    does: str  # what the parser will do
    fix: str  # how to change the catalog

    def line(self) -> str:
        return f"{self.product}: {self.kind} '{self.subject}': {self.does}. Fix: {self.fix}."


def check_catalog(data: Any) -> list[Finding]:
    """Findings for a decoded catalog document; a catalog that cannot load at all raises
    `CatalogError` (after unknown units, which are reported as findings)."""
    findings = _units(data)
    if findings:  # load it with a known unit in their place, to lint the rest
        data = {
            **data,
            "products": [
                {**p, "unit": "cái"} if isinstance(p, dict) and _unknown(p.get("unit")) else p
                for p in data["products"]
            ],
        }
    catalog = parse_catalog(data)
    for product in catalog.products:
        findings += _aliases(product)
        findings += _variants(product)
        findings += _code(product, catalog)
    findings += _shared_aliases(catalog)
    return findings


def _unknown(unit: Any) -> bool:
    return isinstance(unit, str) and unit.strip().lower() not in UNITS


def _units(data: Any) -> list[Finding]:
    if not isinstance(data, dict) or not isinstance(data.get("products"), list):
        return []
    out = []
    for i, raw in enumerate(data["products"]):
        unit = raw.get("unit") if isinstance(raw, dict) else None
        if not _unknown(unit):
            continue
        assert isinstance(unit, str)
        near = difflib.get_close_matches(unit.strip().lower(), sorted(UNITS), n=3, cutoff=0.3)
        out.append(
            Finding(
                "unknown-unit",
                str(raw.get("sku") or f"products[{i}]"),
                unit,
                "the parser knows no such unit, so the catalog does not load and no count of "
                "it can be read",
                f"use one of the known units ({', '.join(near) or ', '.join(sorted(UNITS))}…)",
            )
        )
    return out


def _aliases(product: Product) -> list[Finding]:
    out = []
    for alias in product.aliases:
        ws = words_of(alias)
        if len(ws) != 1:
            continue
        word = ws[0]
        if word in UNIT_WORDS:
            out.append(
                Finding(
                    "unit-alias",
                    product.sku,
                    alias,
                    f"'{word}' is also a selling unit: '2 {word}' reads as two {word} of the "
                    "product named or on screen, not necessarily this one",
                    f"write a longer alias ('{_longer_alias(product, alias)}')",
                )
            )
        elif everyday_risk(word):
            others = sorted(everyday_readings(word) - {word})[:4]
            plain = fold(word)
            out.append(
                Finding(
                    "everyday-alias",
                    product.sku,
                    alias,
                    f"typed without diacritics ('{plain}') it is also "
                    f"{', '.join(others) or 'a word the parser reads as a cue'}; the parser takes "
                    f"'{plain}' for the product only beside a count, a unit, a size or an order "
                    f"verb ('chốt 2 {plain}'), alone it is the everyday word",
                    f"keep a longer alias too ('{_longer_alias(product, alias)}') and show the "
                    f"code {product.code} on screen",
                )
            )
    return out


def _longer_alias(product: Product, alias: str) -> str:
    """A longer way to name the product: one of its aliases that starts with `alias`, else its
    name."""
    start = words_of(alias)
    return next(
        (a for a in product.aliases if len(words_of(a)) > 1 and words_of(a)[:1] == start),
        product.name,
    )


def _variants(product: Product) -> list[Finding]:
    out = []
    measured = product.unit in WEIGHT_FACTORS or product.unit in VOLUME_FACTORS
    for axis in product.axes:
        counts = [v for v in axis.values if v.isdigit() and int(v) <= PLAUSIBLE_COUNT]
        if counts:
            out.append(
                Finding(
                    "variant-like-quantity",
                    product.sku,
                    ", ".join(counts),
                    f"'{counts[0]}' may be a count or the {axis.name or 'variant'}: alone or "
                    f"after the product it is read as the {axis.name or 'variant'} ('lấy "
                    f"{counts[0]}' is one of {counts[0]}), as a count only with a unit ('lấy "
                    f"{counts[0]} {product.unit}')",
                    f"name the values with a word ('số {counts[0]}', 'màu {counts[0]}') and ask "
                    f"viewers to say the unit",
                )
            )
        if measured:
            amounts = [v for v in axis.values if amount_of(v) is not None]
            if amounts:
                out.append(
                    Finding(
                        "measure-variant-of-measured-product",
                        product.sku,
                        ", ".join(amounts),
                        f"the product is sold by {product.unit}, but '{amounts[0]}' is read as "
                        f"its variant, never as a quantity of {product.unit}",
                        f"sell it by a count unit (hũ, túi, gói…) with these variants, or drop "
                        f"the variants and let viewers order by {product.unit}",
                    )
                )
    return out


def _code(product: Product, catalog: Catalog) -> list[Finding]:
    code = normalise(product.code).strip()
    values = {
        normalise(v).strip(): p.sku for p in catalog.products for a in p.axes for v in a.values
    }
    out = []
    if code in values:
        out.append(
            Finding(
                "code-is-a-variant",
                product.sku,
                product.code,
                f"'{product.code}' is also a variant of {values[code]}: it is read as this "
                "product wherever it is typed",
                "give the product a code that is no size, colour or weight",
            )
        )
    size = next((s for s in SIZE_LETTERS if code.startswith(s) and code[len(s) :].isdigit()), "")
    if size and size in values and code != size:
        out.append(
            Finding(
                "code-like-size",
                product.sku,
                product.code,
                f"'{product.code}' reads as this product, so '{code}' never means "
                f"{code[len(size) :]} of size {size.upper()} (a viewer must write "
                f"'{size} {code[len(size) :]}')",
                f"use a code that does not start with a size letter ('{_safe_code(code)}')",
            )
        )
    if code.isdigit():
        out.append(
            Finding(
                "code-like-quantity",
                product.sku,
                product.code,
                "a code of digits only is read as a count, never as the product",
                "start the code with a letter ('SP" + code + "')",
            )
        )
    elif code.isalpha() and everyday_risk(code):
        out.append(
            Finding(
                "code-is-a-word",
                product.sku,
                product.code,
                f"'{code}' is also an everyday word ("
                f"{', '.join(sorted(everyday_readings(code))[:3])}…): a comment using the word "
                "names this product",
                f"add a digit to the code ('{product.code.upper()}1')",
            )
        )
    return out


def _safe_code(code: str) -> str:
    return "P" + code.upper()


def _shared_aliases(catalog: Catalog) -> list[Finding]:
    owners: dict[tuple[str, ...], list[Product]] = {}
    for product in catalog.products:
        for alias in (product.code, *product.aliases):
            key = tuple(fold(w) for w in words_of(alias))
            if key and product not in owners.setdefault(key, []):
                owners[key].append(product)
    out = []
    for key, products in owners.items():
        if len(products) < 2:
            continue
        first = products[0]
        names = ", ".join(p.sku for p in products)
        out.append(
            Finding(
                "shared-alias",
                names,
                " ".join(key),
                f"names {len(products)} products ({names}): the parser chooses by the unit said "
                f"('2 {products[1].unit}' is {products[1].sku}), else the product on screen, "
                f"else {first.sku}",
                "give each product an alias of its own (keep the shared word only in longer "
                "aliases)",
            )
        )
    return out
