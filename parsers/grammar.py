"""The item grammar: product references, quantities, units and variants found in a comment.

`read_elements` turns the tokens of a comment into a sequence of elements, in text order:

    Qty      a quantity, with its unit when one was written ("2 hộp", "cân rưỡi", "x2", "+1")
    Ref      a product reference: a code ("A2"), an alias ("nước ép"), or a weaker word
    Variant  a size or colour of the catalog ("size 41", "màu đen", "XL")
    Sep      a separator between items ("và", "với", ",")

The intent stage reads cue words from the same tokens; the item builder assembles elements
into items.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from chotdon.catalog import COUNT_UNITS, Product

from . import tags
from .catalog_index import CatalogIndex, Option, Phrase, ValuePhrase, measure
from .everyday import collides
from .lexicon import (
    AND_A_HALF,
    BOX_LETTER,
    COMPOUND_DIGITS,
    COUNT_LETTER,
    EACH,
    HALF,
    LITRE_LETTER,
    NUMBER_WORDS,
    PLUS_SIGN,
    TEENCODE,
    TENS_WORD,
    TIMES_SIGNS,
    UNIT_WORDS,
    VOCATIVE_PARTICLE,
    YEAR_WORDS,
)
from .tags import WordList
from .text import Token, fold
from .vocab import canon

# a bare number above this is a year, a price or a count of something else; and no line counts
# more in its product's unit, whatever its unit and "x n" (items.py)
MAX_QTY: Final = 999


class Word:
    """A canonical word of the comment (teencode expanded), pointing back to its token."""

    def __init__(
        self, norm: str, plain: str, raw: str, tok: Token, clause: int, accented: bool
    ) -> None:
        self.norm = norm
        self.plain = plain
        self.raw = raw  # as typed (normalised), before teencode
        self.tok = tok
        self.clause = clause
        self.accented = accented  # norm != plain: typed with diacritics, it must match exactly
        self.tags = tags.tags(norm, plain, accented)  # the word lists that hold it (tags.py)

    def is_(self, word: str) -> bool:
        if self.norm == word:
            return True
        # folding keeps the length: a word of another length is not worth folding
        return not self.accented and len(self.plain) == len(word) and self.plain == _fold_word(word)

    def in_(self, words: WordList) -> bool:
        """The one way a comment's word matches a word list: exactly, or by its folded form
        when it was typed without diacritics (read once, when the word was made: tags.py)."""
        return self.tags & words.bit != 0


_fold_word: Final = lru_cache(maxsize=4096)(fold)


def canonical_words(tokens: list[Token]) -> list[Word]:
    words: list[Word] = []
    prev: Token | None = None
    for tok in tokens:
        glued_to_number = tok.glued and prev is not None and prev.kind == "num"
        if tok.kind == "word" and not glued_to_number:
            for w in canon(tok.norm):
                plain = _fold_word(w)
                words.append(Word(w, plain, tok.norm, tok, tok.clause, w != plain))
        else:
            words.append(
                Word(tok.norm, tok.plain, tok.norm, tok, tok.clause, tok.norm != tok.plain)
            )
        prev = tok
    return words


class Qty:
    def __init__(
        self,
        value: float,
        unit: str | None,
        start: int,
        end: int,
        rule: str,
        postfix: bool = False,
        foreign: bool = False,
        elsewhere: bool = False,
    ) -> None:
        self.value = value
        self.unit = unit  # canonical unit, or None for a bare count
        self.start = start  # word indices [start, end)
        self.end = end
        self.rule = rule
        self.postfix = postfix  # "x2", "sl 3": belongs to the product before it
        self.foreign = foreign  # "1 chai Tommy": counts a thing the catalog does not name
        # "2 ký cá khô", "1 đôi giày" where neither is sold: goods of another shop, never the
        # product on screen
        self.elsewhere = elsewhere


class Ref:
    def __init__(
        self, product: Product, candidates: list[Product], start: int, end: int, rule: str
    ) -> None:
        self.product = product
        self.candidates = candidates  # products the same words could mean, for the unit to choose
        self.start = start
        self.end = end
        self.rule = rule  # "code", "alias", "weak"


class Variant:
    def __init__(
        self,
        options: list[Option],
        start: int,
        end: int,
        explicit: bool,
        amount: Qty | None = None,
    ) -> None:
        self.options = options  # the products and axes this value may be
        self.start = start
        self.end = end
        self.explicit = explicit  # after "size"/"màu"
        # a weight or volume ("500g", "1 lít"): a variant of the jar it stands beside, or else
        # the quantity of a product sold by weight or volume
        self.amount = amount


class Sep:
    def __init__(self, start: int, end: int, each: bool = False) -> None:
        self.start = start
        self.end = end
        self.each = each  # "mỗi loại 2": the following quantity applies to every item so far


Element = Qty | Ref | Variant | Sep


class Reading:
    def __init__(self, words: list[Word]) -> None:
        self.words = words
        self.elements: list[Element] = []
        self.consumed: set[int] = set()


def _unit_at(words: list[Word], i: int) -> tuple[str, float] | None:
    if i >= len(words) or words[i].tok.kind != "word":
        return None
    w = words[i]
    hit = UNIT_WORDS.get(w.norm)
    if hit is None and w.norm == w.plain:
        hit = _PLAIN_UNITS.get(w.plain)
    return hit


def _read_without_marks(word: str, factor: float) -> bool:
    """A unit that multiplies the count is read only with its marks when its folded form is an
    everyday word: "lấy 1 ta" is the particle ta, never a hundred kilograms (tạ); "2 yen" is not
    twenty (yến). Told apart by the marks, as "quà" (gift) is from "quả"."""
    return factor <= 1 or not collides(word)


# typed without diacritics: the units' folded forms, and those of the teencode that reads as a
# unit ("2 can", "3 ky" as "2 cân", "3 ký")
_PLAIN_UNITS: Final = {
    **{fold(k): UNIT_WORDS[v] for k, v in TEENCODE.items() if v in UNIT_WORDS},
    **{fold(k): v for k, v in reversed(list(UNIT_WORDS.items())) if _read_without_marks(k, v[1])},
}
_NUMBER_PLAIN: Final = {fold(k): v for k, v in NUMBER_WORDS.items()}
_COMPOUND_PLAIN: Final = {fold(k): v for k, v in COMPOUND_DIGITS.items()}


def _number_word(w: Word) -> int | None:
    if w.tok.kind != "word":
        return None
    if w.norm in NUMBER_WORDS:
        return NUMBER_WORDS[w.norm]
    if w.norm == w.plain:
        return _NUMBER_PLAIN.get(w.plain)
    return None


def _number_words(words: list[Word], i: int) -> tuple[float, int] | None:
    """Read "mười hai", "hai mươi lăm", "một chục", "ba" at i: (value, next index)."""
    first = _number_word(words[i])
    if first is None:
        return None
    value, j = float(first), i + 1
    if j < len(words) and first < 10 and words[j].is_(TENS_WORD):
        value, j = first * 10.0, j + 1
    if value >= 10 and j < len(words):
        unit_digit = _number_word(words[j])
        if unit_digit is None and words[j].tok.kind == "word":
            key = words[j].norm if words[j].norm in COMPOUND_DIGITS else words[j].plain
            unit_digit = COMPOUND_DIGITS.get(key) or _COMPOUND_PLAIN.get(key)
        if unit_digit is not None and unit_digit < 10:
            value, j = value + unit_digit, j + 1
    if first < 10 and j < len(words) and words[j].is_("chục"):
        value, j = first * 10.0, j + 1
    return value, j


def _year(words: list[Word], i: int, j: int) -> bool:
    """ "năm" (five) at i, read to j, is the year: "đầu năm", "năm nay", "năm 2020"."""
    if j != i + 1 or not words[i].is_("năm"):
        return False
    beside = [words[k] for k in (i - 1, j) if 0 <= k < len(words)]
    if any(x.tok.kind == "word" and any(x.is_(y) for y in YEAR_WORDS) for x in beside):
        return True
    return j < len(words) and words[j].tok.kind == "num" and len(words[j].raw) == 4


class Grammar:
    def __init__(self, index: CatalogIndex) -> None:
        self.index = index

    def read(self, words: list[Word]) -> Reading:
        reading = Reading(words)
        i, n = 0, len(words)
        while i < n:
            j = (
                self._code(reading, i)
                or self._phrase(reading, i)
                or self._variant(reading, i)
                or self._quantity(reading, i)
                or self._separator(reading, i)
            )
            i = j if j else i + 1
        return reading

    # -- product references ----------------------------------------------------------------

    def _code(self, r: Reading, i: int) -> int:
        w = r.words[i]
        if w.tok.kind != "word":
            return 0
        raw = w.raw
        product = None
        j = i + 1
        if j < len(r.words) and r.words[j].tok.kind == "num" and r.words[j].tok.glued:
            product = self.index.codes.get(raw + r.words[j].raw)
            j += 1
        if product is None:
            # letter-only codes ("AT"), which must not also be an everyday word
            j = i + 1
            product = self.index.codes.get(raw) if len(raw) >= 2 else None
            if product is not None and w.norm != raw and not self._counted_after(r.words, j):
                product = None  # "mk" is "mình", but "MK 1kg", "mk x2" is the code
        if product is None:
            return 0
        r.elements.append(Ref(product, [product], i, j, "code"))
        r.consumed.update(range(i, j))
        return j

    def _counted_after(self, words: list[Word], j: int) -> bool:
        """A count, a measure or a variant follows at j."""
        if j >= len(words) or words[j].clause != words[j - 1].clause:
            return False
        return (
            words[j].tok.kind == "num"
            or words[j].raw in TIMES_SIGNS
            or self._match_value(words, j) is not None
        )

    def _match_phrase(self, words: list[Word], i: int) -> Phrase | None:
        for phrase in self.index.phrases.get(words[i].plain, ()):
            k = len(phrase.words)
            if i + k > len(words):
                continue
            ok = True
            for off in range(k):
                w = words[i + off]
                if w.tok.kind not in ("word", "num") or w.plain != phrase.plain[off]:
                    ok = False
                    break
                # Typed with diacritics, a single word must be exact ("tùi" is not "túi");
                # inside a longer phrase the other words vouch for it ("hôp ổi").
                if k == 1 and w.norm != w.plain and w.norm != phrase.words[off]:
                    ok = False
                    break
            if ok:
                return phrase
        return None

    def _phrase(self, r: Reading, i: int) -> int:
        phrase = self._match_phrase(r.words, i)
        if phrase is None:
            return 0
        j = i + len(phrase.words)
        w = r.words[i]
        accented_exact = len(phrase.words) > 1 or w.norm != w.plain
        if phrase.weak and not accented_exact and not self._product_context(r, i, j):
            return 0
        # an unaccented everyday word right after someone addressed: "e oi" is "em ơi"
        if (
            phrase.weak
            and w.norm == w.plain == fold(VOCATIVE_PARTICLE)
            and i > 0
            and not self._after_quantity(r, i)
        ):
            return 0
        rule = "weak" if phrase.weak else "alias"
        if phrase.distinctive and not self._after_quantity(r, i):
            return 0
        candidates = self.index.products_with(phrase.plain)
        if phrase.product not in candidates:
            candidates.insert(0, phrase.product)
        # "hộp quà ổi Kim An": further words of the same product's name belong to this reference
        vocab = self.index.vocab[phrase.product.sku]
        while (
            j < len(r.words)
            and r.words[j].tok.kind == "word"
            and r.words[j].plain in vocab
            and r.words[j].clause == w.clause
            and r.words[j].plain not in self.index.values
            and _unit_at(r.words, j) is None
        ):
            j += 1
        r.elements.append(Ref(phrase.product, candidates, i, j, rule))
        r.consumed.update(range(i, j))
        return j

    def _after_quantity(self, r: Reading, i: int) -> bool:
        if not r.elements:
            return False
        last = r.elements[-1]
        return isinstance(last, Qty) and last.end == i and not last.postfix

    def _product_context(self, r: Reading, i: int, j: int) -> bool:
        """An everyday word counts as the product after a quantity or unit, before a variant,
        or right after an order verb or a cancel verb."""
        if self._after_quantity(r, i):
            return True
        if i > 0 and _unit_at(r.words, i - 1) is not None and i - 1 not in r.consumed:
            return True
        if j < len(r.words):
            nxt = r.words[j]
            if nxt.in_(tags.VARIANT_MARKERS) or nxt.plain in self.index.values:
                return True
            if nxt.raw in TIMES_SIGNS or _unit_at(r.words, j) is not None:
                return True
            if nxt.tok.kind == "num" and (
                nxt.tok.glued or j + 1 == len(r.words) or _unit_at(r.words, j + 1) is not None
            ):  # "tat 2 set", "cafe 250g": a count or a measure of it follows
                return True
        if i > 0:
            prev = r.words[i - 1]
            if prev.in_(tags.PRODUCT_AFTER_VERBS) and (
                prev.accented or prev.in_(tags.PLAIN_PRODUCT_AFTER_VERBS)
            ):
                return prev.accented or i - 1 > 0
        return False

    # -- quantities ---------------------------------------------------------------------------

    def _quantity(self, r: Reading, i: int) -> int:
        words = r.words
        w = words[i]
        n = len(words)
        postfix = False
        rule = "number"
        if (w.tok.kind == "sym" and w.raw in TIMES_SIGNS | {PLUS_SIGN}) or (
            w.tok.kind == "word" and w.raw in TIMES_SIGNS
        ):
            if i + 1 < n and words[i + 1].tok.kind == "num":
                value = words[i + 1].tok.value
                if w.raw == PLUS_SIGN:
                    if any(x.clause == w.clause for x in words[:i] if x.tok.kind != "sym"):
                        return 0
                    rule, postfix = "plus", False
                else:
                    rule, postfix = "times", True
                if 0 < value <= MAX_QTY:
                    r.elements.append(Qty(value, None, i, i + 2, rule, postfix))
                    r.consumed.update((i, i + 1))
                    return i + 2
            return 0
        if (
            w.is_("số")
            and i + 2 < n
            and words[i + 1].is_("lượng")
            and words[i + 2].tok.kind == "num"
        ):
            value = words[i + 2].tok.value
            if 0 < value <= MAX_QTY:
                r.elements.append(Qty(value, None, i, i + 3, "sl", True))
                return i + 3
            return 0
        if i > 1 and words[i - 1].is_("phải") and words[i - 2].in_(tags.NEGATIONS):
            r.consumed.add(i)  # "2 hộp chứ không phải 3": the 3 is what it is not
            return i + 1
        if w.tok.kind == "num":
            value, j = w.tok.value, i + 1
            if w.tok.glued and i > 0 and words[i - 1].tok.kind == "word":
                return 0  # a model number: "a50s", "ip11", "đặt40"
            if i > 0 and words[i - 1].in_(tags.NOT_QUANTITY_AFTER) and not words[i - 1].is_("số"):
                return 0
            if i > 0 and words[i - 1].is_("số") and not (i > 1 and words[i - 2].is_("lượng")):
                return 0
        elif w.is_(HALF):
            half_of = _unit_at(words, i + 1)
            if half_of is None:
                return 0
            return self._measured(r, Qty(0.5 * half_of[1], half_of[0], i, i + 2, "half"))
        elif (
            (one_of := _unit_at(words, i)) is not None
            and i + 1 < n
            and words[i + 1].is_(AND_A_HALF)
        ):
            return self._measured(r, Qty(1.5 * one_of[1], one_of[0], i, i + 2, "unit-and-a-half"))
        elif (
            (classifier := _unit_at(words, i)) is not None
            and classifier[0] in COUNT_UNITS
            and w.accented
            and self._starts_ref(words, i + 1)
            and words[i + 1].clause == w.clause
            and i not in r.consumed
        ):
            # "đôi giày 43": a unit before a product counts one ("Yến: hộp ổi" is a name)
            r.elements.append(Qty(classifier[1], classifier[0], i, i + 1, "classifier"))
            r.consumed.add(i)
            return i + 1
        elif (parsed := _number_words(words, i)) is not None:
            value, j = parsed
            rule = "number-word"
            if not self._counts_something(r, j, word_number=True) or _year(words, i, j):
                return 0
        else:
            return 0
        if j < n and words[j].is_("chục") and value < 10:
            value, j = value * 10, j + 1
        unit_info = _unit_at(words, j)
        if j < n and words[j].tok.glued and words[j].raw == COUNT_LETTER and w.tok.kind == "num":
            unit_info, rule = ("cái", 1.0), "count-c"
        if j < n and words[j].tok.glued and words[j].raw == BOX_LETTER and w.tok.kind == "num":
            # "2h ổi" is two boxes (hộp); "9h", "8h tối" is a time, never a quantity
            ordering = i > 0 and words[i - 1].in_(tags.ORDER_VERBS)
            at_a_time = j + 1 < n and words[j + 1].in_(tags.TIME_OF_DAY)
            # "ship 9h-11h": from one hour to another
            at_a_time |= (
                j + 2 < n
                and words[j + 1].tok.kind == "num"
                and words[j + 2].tok.glued
                and words[j + 2].raw == BOX_LETTER
            )
            if not self._starts_ref(words, j + 1) and (not ordering or at_a_time):
                r.consumed.update((i, j))
                return j + 1
            unit_info, rule = ("hộp", 1.0), "count-h"
        # the unit word may be or start an alias ("1 hộp quà", "1 túi"): the alias names it
        if unit_info is not None and words[j].raw != COUNT_LETTER:
            phrase = self._match_phrase(words, j)
            if phrase is not None and not phrase.distinctive:
                unit_info = None
        if (
            unit_info is None
            and j < n
            and words[j].raw == LITRE_LETTER
            and words[j].tok.glued
            and LITRE_LETTER not in self.index.values
        ):
            unit_info = UNIT_WORDS["lít"]
        if (
            unit_info is not None
            and unit_info[0] in COUNT_UNITS
            and (self._after_unit_word(r, i) or self._kind_of_counted(r, i))
            and _unit_at(words, i - 1) != unit_info
        ):
            # "hộp 10 miếng", "lốc 6 chai", "2 hộp loại 8 quả": what one pack holds, not how
            # many packs
            r.consumed.update(range(i - 1, j + 1))
            return j + 1
        unit: str | None = None
        if unit_info is not None:
            unit, factor = unit_info
            value *= factor
            j += 1
            if j < n and words[j].is_(AND_A_HALF):
                value += 0.5 * factor
                j += 1
            elif (
                unit == "kg"
                and factor == 1.0
                and j < n
                and words[j].tok.kind == "num"
                and len(words[j].raw) == 1
                and (words[j].tok.glued or _unit_at(words, j + 1) is None)
            ):
                value += words[j].tok.value / 10  # "1kg2", "1 cân 2": 1.2 kg
                j += 1
        elif w.tok.kind == "num" and (
            not 0 < value <= MAX_QTY or not self._counts_something(r, j, word_number=False)
        ):
            return 0
        if (
            unit is None
            and i > 0
            and words[i - 1].in_(tags.KIND_MARKERS)
            and not (i > 1 and words[i - 2].is_(EACH))  # "mỗi loại 2": two of each
        ):
            r.consumed.update(range(i, j))  # "tôm khô loại 1": a grade, not how many
            return j
        if unit == "kg" and self._body_weight(r, i, j):
            r.consumed.update(range(i, j))
            return j
        if value <= 0:
            return 0
        foreign = unit is not None and self._names_other_thing(r, j)
        elsewhere = (
            foreign and words[j].in_(tags.GOODS_NOUNS) and words[j].plain not in self.index.heads
        )
        q = Qty(round(value, 3), unit, i, j, rule, postfix, foreign, elsewhere)
        return self._measured(r, q)

    def _measured(self, r: Reading, q: Qty) -> int:
        """A weight or volume that is a variant of the catalog ("1 hũ 500g"), or that describes
        the counted thing beside it ("3 lọ 250g"), is read as a variant; otherwise a quantity."""
        amount = measure(q.value, q.unit)
        options = self.index.amounts.get(amount, []) if amount else []
        kind = q.start > 0 and r.words[q.start - 1].in_(tags.KIND_MARKERS)  # "loại 2 cân"
        if (
            amount is not None
            and (options or kind or self._beside_counted(r, q.start))
            and not self._weighs_product_before(r, q.start, amount[0], options)
        ):
            # "túi 2kg": the unit word before the weight is the jar's, part of the variant
            start = q.start - 1 if self._after_unit_word(r, q.start) else q.start
            r.elements.append(Variant(options, start, q.end, False, q))
            r.consumed.add(start)
        else:
            times = self._times_after(r.words, q.end) if amount is not None else 0
            if times:  # "bơ 3 ký x2": six kilograms, "5 lạng x2" one
                q.value, q.end = round(q.value * times, 3), q.end + 2
            r.elements.append(q)
        r.consumed.update(range(q.start, q.end))
        return q.end

    def _weighs_product_before(
        self, r: Reading, i: int, dimension: str, options: list[Option]
    ) -> bool:
        """ "bơ 3 ký": right after a product sold by weight, a weight is how much of it, even when
        another product has that weight as a variant (a 3 kg box of plums)."""
        last = r.elements[-1] if r.elements else None
        if not isinstance(last, Ref) or last.end != i:
            return False
        sold = measure(1.0, last.product.unit)
        mine = any(o.product.sku == last.product.sku for o in options)
        return sold is not None and sold[0] == dimension and not mine

    def _times_after(self, words: list[Word], j: int) -> float:
        """The n of an "x n" at j, in the same clause, or 0."""
        if j + 1 >= len(words) or words[j].raw not in TIMES_SIGNS:
            return 0
        n = words[j + 1]
        same = n.clause == words[j - 1].clause
        return n.tok.value if same and n.tok.kind == "num" and 0 < n.tok.value <= MAX_QTY else 0

    def _beside_counted(self, r: Reading, i: int) -> bool:
        """Right after a count ("3 lọ"), a counted product ("hũ mật ong") or a count unit."""
        last = r.elements[-1] if r.elements else None
        if last is not None and last.end == i:
            if isinstance(last, Qty):
                return last.unit in COUNT_UNITS
            if isinstance(last, Ref):
                return all(p.unit in COUNT_UNITS for p in last.candidates)
        return self._after_unit_word(r, i)

    def _kind_of_counted(self, r: Reading, i: int) -> bool:
        """ "2 hộp loại 8 quả": a count at i after "loại" after packs counted."""
        if i < 2 or not r.words[i - 1].in_(tags.KIND_MARKERS):
            return False
        return any(isinstance(x, Qty) and x.unit is not None and x.end == i - 1 for x in r.elements)

    def _after_unit_word(self, r: Reading, i: int) -> bool:
        unit = _unit_at(r.words, i - 1) if i > 0 else None
        return unit is not None and unit[0] in COUNT_UNITS and i - 1 not in r.consumed

    def _starts_ref(self, words: list[Word], j: int) -> bool:
        return j < len(words) and self._match_phrase(words, j) is not None

    def _counts_something(self, r: Reading, j: int, word_number: bool) -> bool:
        """A bare number is our quantity only if what follows is ours: a unit, a product, a
        variant, the end, or words that are not a noun of something else ("10 điểm")."""
        words = r.words
        if j >= len(words):
            return not word_number or len(words) > 1
        nxt = words[j]
        if nxt.clause != words[j - 1].clause:
            return not word_number
        if _unit_at(words, j) is not None or self._starts_ref(words, j):
            return True
        if nxt.tok.kind == "word" and self.index.codes.get(
            nxt.raw + (words[j + 1].raw if j + 1 < len(words) else "")
        ):
            return True
        if nxt.in_(tags.VARIANT_MARKERS) or nxt.plain in self.index.values:
            return True
        if word_number:
            return False
        return nxt.tok.kind in ("phone", "money") or nxt.in_(tags.AFTER_BARE_QTY)

    def _names_other_thing(self, r: Reading, j: int) -> bool:
        """After "2 hộp", a word that is not ours names another product ("10 hộp khô gà")."""
        words = r.words
        if j >= len(words) or words[j].clause != words[j - 1].clause:
            return False
        nxt = words[j]
        if nxt.tok.kind != "word" or self._starts_ref(words, j) or nxt.plain in self.index.values:
            return False
        if nxt.raw in TIMES_SIGNS:  # "3 ký x2"
            return False
        if self.index.codes.get(nxt.raw + (words[j + 1].raw if j + 1 < len(words) else "")):
            return False
        return not nxt.in_(tags.KNOWN_AFTER_UNIT)

    def _body_weight(self, r: Reading, i: int, j: int) -> bool:
        """ "55kg mặc size gì", "mình 55kg", "nặng 74kg": a person's weight."""
        words = r.words
        if (
            i > 0
            and i - 1 not in r.consumed  # "mực 1 nang 1kg": a word of the product's name
            and (words[i - 1].in_(tags.BODY_WEIGHT_BEFORE) or words[i - 1].tok.kind == "measure")
        ):
            return True
        if j < len(words) and words[j].in_(tags.BODY_WEIGHT_AFTER):
            return True
        # "mik 55kg lấy áo": the speaker's own weight, said as the subject ("MK 1kg": a code)
        return (
            i > 0
            and words[i - 1].in_(tags.SELF)
            and i - 1 not in r.consumed
            and (i == 1 or words[i - 2].clause != words[i].clause)
        )

    # -- variants and separators ------------------------------------------------------------

    def _variant(self, r: Reading, i: int) -> int:
        words = r.words
        w = words[i]
        explicit = False
        j = i
        if w.in_(tags.VARIANT_MARKERS) and i + 1 < len(words):
            explicit, j = True, i + 1
        value = self._match_value(words, j)
        if value is None:
            return 0
        end = j + len(value.words)
        if not explicit and words[j].tok.kind == "num" and _unit_at(words, end) is not None:
            return 0  # "2 cây": a number tied to a unit is a count, whatever the variants
        if not explicit and not self._variant_context(r, j):
            return 0
        if not explicit and self._after_unit_word(r, j) and words[j - 1].accented:
            i = j - 1  # "đôi 37": the unit word is part of what is named
        r.elements.append(Variant(value.options, i, end, explicit))
        r.consumed.update(range(i, end))
        return end

    def _match_value(self, words: list[Word], j: int) -> ValuePhrase | None:
        """The longest variant value of the catalog at j ("hồng đất" before "hồng")."""
        if j >= len(words) or words[j].tok.kind not in ("word", "num"):
            return None
        w = words[j]
        values = self.index.values.get(w.plain) or (
            self._values_as_typed(w) if w.raw != w.norm else None
        )
        for value in values or ():
            k = len(value.words)
            if j + k > len(words):
                continue
            typed = words[j : j + k]
            if any(
                p not in (w.plain, fold(w.raw)) or w.clause != typed[0].clause
                for w, p in zip(typed, value.plain, strict=True)
            ):
                continue
            # typed with diacritics, a one-word value must be exact ("đỏ" is not "đồ")
            w = typed[0]
            if k == 1 and w.raw != fold(w.raw) and value.words[0] not in (w.raw, w.norm):
                continue
            return value
        return None

    def _variant_context(self, r: Reading, j: int) -> bool:
        """A bare value ("41", "đen", "L") is a variant right after a product, a quantity, another
        variant, or a change word ("từ M sang L")."""
        if j > 0 and (
            r.words[j - 1].in_(tags.CHANGE_FROM_TO_OR_WEAR)
            or (_unit_at(r.words, j - 1) is not None and r.words[j - 1].accented)
        ):
            return True  # "đổi từ M sang L", "lấy đôi 43"
        if self._only_values(r.words, j):
            return True  # "42", "đen nha", "XL trắng x2": a clause of only sizes and colours
        if not r.elements:
            return False
        last = r.elements[-1]
        if last.end == j and isinstance(last, Ref | Variant | Qty):
            return True
        if isinstance(last, Sep) and last.end == j and len(r.elements) > 1:
            return isinstance(r.elements[-2], Variant)
        return False

    def _values_as_typed(self, w: Word) -> list[ValuePhrase]:
        """A catalog value beats a teencode reading of the same typing ("hong": hồng, not không)."""
        return self.index.values.get(fold(w.raw), [])

    def _only_values(self, words: list[Word], j: int) -> bool:
        """The clause of j holds only variant values, counts and particles ("XL trắng x2")."""
        clause = words[j].clause
        k = j
        while k > 0 and words[k - 1].clause == clause:
            k -= 1
        while k < len(words) and words[k].clause == clause:
            w = words[k]
            value = self._match_value(words, k)
            if value is not None:
                k += len(value.words)
                continue
            if not (
                w.tok.kind in ("num", "sym")
                or w.raw in TIMES_SIGNS
                or w.raw == COUNT_LETTER
                or w.in_(tags.LONE_VALUE_COMPANY)
                or _unit_at(words, k) is not None
            ):
                return False
            k += 1
        return True

    def _separator(self, r: Reading, i: int) -> int:
        w = r.words[i]
        if w.is_(EACH) and i + 1 < len(r.words) and r.words[i + 1].in_(tags.EACH_KIND):
            r.elements.append(Sep(i, i + 2, each=True))
            return i + 2
        if w.in_(tags.SEPARATORS) or w.raw in (",", "+", "&"):
            r.elements.append(Sep(i, i + 1))
            return i + 1
        return 0
