"""Metamorphic tests: the same comments against a catalog changed in ways that must not matter
(products in another order, other codes, other skus, a selling unit swapped for its equivalent,
products renamed) give the same intents and the corresponding items."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
import regex

from chotdon.catalog import parse_catalog, read_catalog_document
from chotdon.records import Intent
from parsers import Parser
from parsers.lexicon import UNIT_SYNONYMS

from .scoring import CATALOGS, load

CATALOG_NAMES = ["kim-an", "phu-xuyen", *sorted(p.stem for p in CATALOGS.glob("*.json"))]
SETS = ("dev_comments.jsonl", "heldout_comments.jsonl", "new_catalogs_comments.jsonl")
Doc = dict[str, Any]
Case = tuple[str, str | None]
# (catalog document, text, current) -> (changed document, text, current, sku map old -> new)
Change = Callable[[Doc, str, str | None], tuple[Doc, str, str | None, dict[str, str]]]


def document(name: str) -> Doc:
    path = CATALOGS / f"{name}.json"
    doc = read_catalog_document(path if path.exists() else name)
    assert isinstance(doc, dict)
    return doc


def cases(name: str) -> list[Case]:
    return [(c["text"], c["current"]) for s in SETS for c in load(s) if c["catalog"] == name]


def same(doc: Doc) -> dict[str, str]:
    return {p["sku"]: p["sku"] for p in doc["products"]}


def shuffled(
    doc: Doc, text: str, current: str | None
) -> tuple[Doc, str, str | None, dict[str, str]]:
    products = list(doc["products"])
    random.Random(7).shuffle(products)
    return {**doc, "products": products}, text, current, same(doc)


def new_codes(
    doc: Doc, text: str, current: str | None
) -> tuple[Doc, str, str | None, dict[str, str]]:
    """Every code replaced by another of the same shape (a letter and digits), in the catalog,
    the comment and the product on screen."""
    codes = {p["code"].upper(): f"K{17 + 3 * i}" for i, p in enumerate(doc["products"])}

    def swap(m: regex.Match[str]) -> str:
        new = codes[m.group().upper()]
        return new if m.group().isupper() else new.lower()

    pattern = regex.compile(
        r"(?<![\p{L}\d])(" + "|".join(map(regex.escape, codes)) + r")(?![\p{L}\d])", regex.I
    )
    products = [{**p, "code": codes[p["code"].upper()]} for p in doc["products"]]
    moved = codes.get(current.upper()) if current else None
    return {**doc, "products": products}, pattern.sub(swap, text), moved, same(doc)


def new_skus(
    doc: Doc, text: str, current: str | None
) -> tuple[Doc, str, str | None, dict[str, str]]:
    skus = {p["sku"]: f"SP-{i:03d}" for i, p in enumerate(doc["products"])}
    products = [{**p, "sku": skus[p["sku"]]} for p in doc["products"]]
    return {**doc, "products": products}, text, current, skus


def equivalent_units(
    doc: Doc, text: str, current: str | None
) -> tuple[Doc, str, str | None, dict[str, str]]:
    """A product sold by the hũ sold by the lọ (the same thing), and so on."""
    other = {u: next(iter(group - {u})) for group in UNIT_SYNONYMS for u in group}
    products = [{**p, "unit": other.get(p["unit"], p["unit"])} for p in doc["products"]]
    return {**doc, "products": products}, text, current, same(doc)


def renamed(
    doc: Doc, text: str, current: str | None
) -> tuple[Doc, str, str | None, dict[str, str]]:
    """Each product's display name replaced by its first alias and a house brand."""
    products = [
        {**p, "name": f"{(p.get('aliases') or [p['name']])[0]} nhà Thơm"} for p in doc["products"]
    ]
    return {**doc, "products": products}, text, current, same(doc)


def key(intent: Intent, skus: dict[str, str]) -> tuple[str, list[tuple[str, Any, Any]], Any]:
    items = sorted((skus[i.sku], json.dumps(i.qty), i.variant or "") for i in intent.items)
    return intent.intent, items, intent.phone


@pytest.mark.parametrize("change", [shuffled, new_codes, new_skus, equivalent_units, renamed])
@pytest.mark.parametrize("name", CATALOG_NAMES)
def test_changes_that_must_not_matter(name: str, change: Change) -> None:
    doc = document(name)
    before = Parser(parse_catalog(doc))
    after: dict[str, Parser] = {}
    differ = []
    for text, current in cases(name):
        changed, text2, current2, skus = change(doc, text, current)
        dump = json.dumps(changed, sort_keys=True)
        parser = after.get(dump) or after.setdefault(dump, Parser(parse_catalog(changed)))
        expected = key(before.parse(text, current), skus)
        got = key(parser.parse(text2, current2), {s: s for s in skus.values()})
        if got != expected:
            differ.append(f"{text!r} -> {text2!r}: {expected} != {got}")
    assert not differ, "\n".join(differ)
