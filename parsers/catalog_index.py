"""What the parser needs from a catalog, precomputed once per catalog: codes, alias phrases as
canonical word sequences, each product's vocabulary, and variant values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

import regex

from chotdon.catalog import Catalog, Product

from .everyday import collides
from .lexicon import CUE_WORDS, NUMBER_WORDS, UNIT_WORDS, VOLUME_FACTORS, WEIGHT_FACTORS
from .text import fold, normalise, tokenise
from .vocab import canon

# Rule words typed without diacritics: a product word of the same folded form ("cho", "bo")
# only counts as the product where the context says so.
_RULE_PLAIN: Final = frozenset(fold(w) for w in CUE_WORDS)


def everyday_risk(word: str) -> bool:
    """A one-word alias that, typed without diacritics, is also a rule word or another everyday
    word of the language ("oi": ổi or ơi; "tui": túi or tui): it needs the context of an order."""
    return fold(word) in _RULE_PLAIN or collides(word)


Words = tuple[str, ...]


def words_of(text: str) -> Words:
    """Canonical words of a catalog string, the same way a comment's words are made ("gạo st25"
    is "gạo", "st", "25" as a viewer's "gao st25" is)."""
    out: list[str] = []
    for tok in tokenise(text).tokens:
        if tok.kind == "word":
            out.extend(canon(tok.norm))
        elif tok.kind == "num":
            out.append(tok.norm)
    return tuple(out)


def typed_words_of(text: str) -> Words:
    """Words of a variant value as a viewer types them, without teencode: size "M" is "m", not
    the "mình" that teencode reads in a typed "m"."""
    return tuple(t.norm for t in tokenise(text).tokens if t.kind in ("word", "num"))


def _digits(words: Words) -> Words:
    """A name's number words after its first as viewers type them: "mực 1 nắng" for "mực một
    nắng"."""
    return words[:1] + tuple(str(NUMBER_WORDS.get(w, w)) for w in words[1:])


@dataclass(frozen=True, slots=True)
class Phrase:
    words: Words
    plain: Words
    product: Product
    weak: bool  # a single everyday word, or a distinctive word that is not a whole alias
    distinctive: bool = False  # one word of a longer alias, only this product's ("dong")


class Option(NamedTuple):
    """One value of one variant axis of a product ("size" "M" of the shirt)."""

    product: Product
    axis: str
    value: str  # as the catalog writes it


@dataclass(frozen=True, slots=True)
class ValuePhrase:
    words: Words  # canonical words of the value ("đỏ", "gạch")
    plain: Words
    options: list[Option]


Amount = tuple[str, float]  # (canonical measure unit "kg"/"lít", amount in it)


def amount_of(value: str) -> Amount | None:
    """ "500g" -> ("kg", 0.5), "1 lít" -> ("lít", 1.0): a variant that is a weight or a volume."""
    m = _AMOUNT_RE.fullmatch(normalise(value).strip())
    if m is None:
        return None
    unit = next(iter(canon(m.group(2))), "")
    hit = UNIT_WORDS.get(unit)
    if hit is None:
        return None
    return measure(float(m.group(1).replace(",", ".")) * hit[1], hit[0])


def measure(value: float, unit: str | None) -> Amount | None:
    """A weight or volume in its largest unit: (500, "g") -> ("kg", 0.5); None for a count."""
    for factors in (WEIGHT_FACTORS, VOLUME_FACTORS):
        if unit in factors:
            top = next(u for u, f in factors.items() if f == 1.0)
            return top, round(value * factors[unit], 6)
    return None


_AMOUNT_RE: Final = regex.compile(r"(\d+(?:[.,]\d+)?)\s*(\p{L}+)")


@dataclass(slots=True)
class CatalogIndex:
    catalog: Catalog
    codes: dict[str, Product] = field(default_factory=dict)
    phrases: dict[str, list[Phrase]] = field(default_factory=dict)  # by first word, folded
    vocab: dict[str, set[str]] = field(default_factory=dict)  # sku -> folded words
    values: dict[str, list[ValuePhrase]] = field(default_factory=dict)  # by first word, folded
    amounts: dict[Amount, list[Option]] = field(default_factory=dict)  # weight/volume variants
    # the first word of every name and alias, folded: the kind of goods it is ("áo" of "áo
    # khoác", not the "cá" of "chả cá")
    heads: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, catalog: Catalog) -> CatalogIndex:
        index = cls(catalog)
        all_phrases: list[Phrase] = []
        by_words: dict[Words, list[Option]] = {}
        for product in catalog.products:
            index.codes[product.code.lower()] = product
            names = {words_of(a) for a in (product.name, *product.aliases)}
            vocab = {fold(w) for ws in names for w in ws}
            index.vocab[product.sku] = vocab
            index.heads |= {fold(ws[0]) for ws in names if ws}
            for ws in names | {_digits(ws) for ws in names}:
                if ws:
                    plain = tuple(fold(w) for w in ws)
                    weak = len(ws) == 1 and everyday_risk(ws[0])
                    all_phrases.append(Phrase(ws, plain, product, weak))
            for axis in product.axes:
                for value in axis.values:
                    option = Option(product, axis.name, value)
                    amount = amount_of(value)
                    if amount is not None:
                        index.amounts.setdefault(amount, []).append(option)
                        continue
                    ws = typed_words_of(value)
                    if ws:
                        by_words.setdefault(ws, []).append(option)
        # Distinctive words: in exactly one product's vocabulary, not a unit, not a number.
        counts: dict[str, int] = {}
        for vocab in index.vocab.values():
            for w in vocab:
                counts[w] = counts.get(w, 0) + 1
        known = {p.plain for p in all_phrases if len(p.plain) == 1}
        for ws, options in by_words.items():
            found = ValuePhrase(ws, tuple(fold(w) for w in ws), options)
            index.values.setdefault(found.plain[0], []).append(found)
        for values in index.values.values():
            values.sort(key=lambda v: -len(v.words))
        variant_like = set(index.values)  # "do" is đỏ before it is the "đồ" of "đồ gỗ"
        for product in catalog.products:
            for ws in {words_of(a) for a in (product.name, *product.aliases)}:
                for n, w in enumerate(ws):
                    pw = fold(w)
                    if (
                        counts.get(pw) == 1
                        and not (n > 0 and ws[n - 1].isdigit())  # "lốc 10 cuộn": what a pack holds
                        and (pw,) not in known
                        and w not in UNIT_WORDS  # by its marks: "quà" (gift) is not "quả"
                        and pw not in variant_like
                        and w not in CUE_WORDS  # "Nha Trang": its "nha" reads as the "nhé"
                        and not pw.isdigit()
                        and len(pw) > 1
                    ):
                        known.add((pw,))
                        all_phrases.append(Phrase((w,), (pw,), product, True, True))
        for phrase in all_phrases:
            index.phrases.setdefault(phrase.plain[0], []).append(phrase)
        for group in index.phrases.values():
            group.sort(key=lambda p: (-len(p.words), p.weak))
        return index

    def products_with(self, words: Words) -> list[Product]:
        """Products whose vocabulary holds all these (folded) words: "ổi" -> every guava product."""
        return [p for p in self.catalog.products if all(w in self.vocab[p.sku] for w in words)]
