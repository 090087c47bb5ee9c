"""Per-word tag bitmasks: every word list that a comment's words are matched against has a bit
of its own, and each word reads once, when it is made, the bits of the lists that hold it — as
typed, and by its folded form when it was typed without diacritics (`tags`). A match
(`Word.in_`) is then one AND, where it was a set lookup, a cache lookup and another set lookup.

The lists live in the lexicon; here each one that words are matched against is tagged, at
import, before any word is made. Past 62 lists the masks outgrow a machine word and get slower.
"""

from __future__ import annotations

from typing import Final

from . import lexicon as lx
from .text import fold

_NORM: Final[dict[str, int]] = {}  # a word as typed -> the bits of the lists that hold it
_PLAIN: Final[dict[str, int]] = {}  # a folded word -> the bits of the lists whose folded form does
_LISTS: Final[list[frozenset[str]]] = []


class WordList:
    """A word list with its bit."""

    def __init__(self, words: frozenset[str]) -> None:
        self.words = words
        self.bit = 1 << len(_LISTS)
        _LISTS.append(words)
        for word in words:
            _NORM[word] = _NORM.get(word, 0) | self.bit
            plain = fold(word)
            _PLAIN[plain] = _PLAIN.get(plain, 0) | self.bit


def tags(norm: str, plain: str, accented: bool) -> int:
    """The bits of the lists that hold a word: typed with diacritics, only as typed."""
    return _NORM.get(norm, 0) | (0 if accented else _PLAIN.get(plain, 0))


AFTER_BARE_QTY: Final = WordList(lx.AFTER_BARE_QTY)
AVAILABILITY: Final = WordList(lx.AVAILABILITY)
BEFORE_SUBJECT: Final = WordList(lx.BEFORE_SUBJECT)
BN_FRIEND_AFTER: Final = WordList(lx.BN_FRIEND_AFTER)
BN_FRIEND_BEFORE: Final = WordList(lx.BN_FRIEND_BEFORE)
BODY_WEIGHT_AFTER: Final = WordList(lx.BODY_WEIGHT_AFTER)
BODY_WEIGHT_BEFORE: Final = WordList(lx.BODY_WEIGHT_BEFORE)
CANCEL_BO_AFTER: Final = WordList(lx.CANCEL_BO_AFTER)
CANCEL_VERBS: Final = WordList(lx.CANCEL_VERBS)
CHANGE_SHIFT_VERBS: Final = WordList(lx.CHANGE_SHIFT_VERBS)
CHANGE_TARGETS: Final = WordList(lx.CHANGE_TARGETS)
CHANGE_VERBS: Final = WordList(lx.CHANGE_VERBS)
COMPLAINT_WORDS: Final = WordList(lx.COMPLAINT_WORDS)
DELIVERY_VERBS: Final = WordList(lx.DELIVERY_VERBS)
EACH_KIND: Final = WordList(lx.EACH_KIND)
EVALUATIONS: Final = WordList(lx.EVALUATIONS)
FILLERS: Final = WordList(lx.FILLERS)
FINAL_PARTICLES: Final = WordList(lx.FINAL_PARTICLES)
GOODS_NOUNS: Final = WordList(lx.GOODS_NOUNS)
IRREALIS: Final = WordList(lx.IRREALIS)
KIND_MARKERS: Final = WordList(lx.KIND_MARKERS)
KNOWN_AFTER_UNIT: Final = WordList(lx.KNOWN_AFTER_UNIT)
LONE_VALUE_COMPANY: Final = WordList(lx.LONE_VALUE_COMPANY)
MISTAKE_WORDS: Final = WordList(lx.MISTAKE_WORDS)
MANY: Final = WordList(lx.MANY)
MORE: Final = WordList(lx.MORE)
NARRATIVE: Final = WordList(lx.NARRATIVE)
NEGATIONS: Final = WordList(lx.NEGATIONS)
NOT_OPTION_BEFORE: Final = WordList(lx.NOT_OPTION_BEFORE)
NOT_ORDER_AFTER_CHO: Final = WordList(lx.NOT_ORDER_AFTER_CHO)
NOT_PRICE_AFTER: Final = WordList(lx.NOT_PRICE_AFTER)
NOT_QUANTITY_AFTER: Final = WordList(lx.NOT_QUANTITY_AFTER)
NOT_VERB_AFTER_ADVERB: Final = WordList(lx.NOT_VERB_AFTER_ADVERB)
NUMBER_NAMES: Final = WordList(lx.NUMBER_NAMES)
OPTION_QUESTION_TAIL: Final = WordList(lx.OPTION_QUESTION_TAIL)
OPTION_WORDS: Final = WordList(lx.OPTION_WORDS)
ORDER_VERBS: Final = WordList(lx.ORDER_VERBS)
OTHER_SUBJECTS: Final = WordList(lx.OTHER_SUBJECTS)
PAST_ADVERBS: Final = WordList(lx.PAST_ADVERBS)
PAST_AFTER: Final = WordList(lx.PAST_AFTER)
PLAIN_PRODUCT_AFTER_VERBS: Final = WordList(lx.PLAIN_PRODUCT_AFTER_VERBS)
PRAISE: Final = WordList(lx.PRAISE)
PRESENT: Final = WordList(lx.PRESENT)
PRODUCT_AFTER_VERBS: Final = WordList(lx.PRODUCT_AFTER_VERBS)
QUESTION_ENDS: Final = WordList(lx.QUESTION_ENDS)
QUESTION_WORDS: Final = WordList(lx.QUESTION_WORDS)
REPORT_VERBS: Final = WordList(lx.REPORT_VERBS)
REQUEST_PARTICLES: Final = WordList(lx.REQUEST_PARTICLES)
SELF: Final = WordList(lx.SELF)
SEPARATORS: Final = WordList(lx.SEPARATORS)
SKIP_BEFORE_COUNT: Final = WordList(lx.SKIP_BEFORE_COUNT)
STRONG_ORDER_VERBS: Final = WordList(lx.STRONG_ORDER_VERBS)
TIME_OF_DAY: Final = WordList(lx.TIME_OF_DAY)
TIME_PREPOSITIONS: Final = WordList(lx.TIME_PREPOSITIONS)
TRAILERS: Final = WordList(lx.TRAILERS)
VARIANT_MARKERS: Final = WordList(lx.VARIANT_MARKERS)
WEAK_ORDER_VERBS: Final = WordList(lx.WEAK_ORDER_VERBS)
WEAK_QUESTION_END: Final = WordList(lx.WEAK_QUESTION_END)
WHICH_NOUNS: Final = WordList(lx.WHICH_NOUNS)
# lists read together
NOT_OPTION_AFTER_OR_VERB: Final = WordList(
    lx.NOT_OPTION_AFTER | lx.STRONG_ORDER_VERBS | lx.WEAK_ORDER_VERBS
)
CHANGE_OR_NEGATION: Final = WordList(lx.CHANGE_VERBS | lx.NEGATIONS)
CHANGE_FROM_TO_OR_WEAR: Final = WordList(lx.CHANGE_FROM_TO | lx.WEAR_VERBS)
