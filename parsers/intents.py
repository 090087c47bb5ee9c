"""Intent cues: what each clause of a comment does (orders, asks, changes, cancels, tells).

A comment is cut into clauses at punctuation. Each clause gets its cues: order verbs and whether
they are live (not past, not hypothetical, not reported speech), question cues, change and
cancel cues, evaluations. `decide` weighs the clauses into one intent.
"""

from __future__ import annotations

from typing import Final

from . import tags
from .grammar import Qty, Reading, Ref, Variant, Word
from .lexicon import (
    CONDITIONAL,
    EVALUATIONS,
    EVERYONE_PHRASES,
    GENERIC_COUNT_UNITS,
    IRREALIS_PHRASES,
    NOT_ORDER_AFTER_LAY,
    ORDER_NOUN,
    PAST_PHRASES,
    PRESENT_PHRASES,
    QUESTION_PHRASES,
    THEN,
    WEAK_QUESTION_PHRASES,
)
from .text import fold

Phrase = tuple[str, ...]
Matches = list[tuple[str, int, int]]  # (rule, first word, end word) for the explanation


class PhraseSet:
    """Multi-word cues, indexed by their first word so a lookup costs one dict access."""

    def __init__(self, phrases: tuple[str, ...] | frozenset[str]) -> None:
        self.by_norm: dict[str, list[Phrase]] = {}
        self.by_plain: dict[str, list[Phrase]] = {}
        for text in sorted(set(phrases), key=lambda p: -len(p.split())):
            words = tuple(text.split())
            self.by_norm.setdefault(words[0], []).append(words)
            self.by_plain.setdefault(fold(words[0]), []).append(words)

    def at(self, words: list[Word], i: int, end: int) -> bool:
        w = words[i]
        candidates = self.by_norm.get(w.norm) or (
            self.by_plain.get(w.plain) if w.norm == w.plain else None
        )
        if not candidates:
            return False
        for phrase in candidates:
            k = len(phrase)
            if i + k <= end and all(words[i + n].is_(phrase[n]) for n in range(1, k)):
                return True
        return False

    def find(self, words: list[Word], start: int, end: int) -> int:
        """Index of the first occurrence in [start, end), or -1."""
        by_norm, by_plain = self.by_norm, self.by_plain
        for i in range(start, end):
            w = words[i]  # most words start no phrase: skip them without a call
            if (w.norm in by_norm or w.plain in by_plain) and self.at(words, i, end):
                return i
        return -1


_PAST: Final = PhraseSet(PAST_PHRASES)
_IRREALIS: Final = PhraseSet(IRREALIS_PHRASES)
_PRESENT: Final = PhraseSet(PRESENT_PHRASES)
_QUESTION: Final = PhraseSet(tuple(p for p in QUESTION_PHRASES if p not in WEAK_QUESTION_PHRASES))
_WEAK_QUESTION: Final = PhraseSet(WEAK_QUESTION_PHRASES)
_EVAL: Final = PhraseSet(EVALUATIONS)
_EVERYONE: Final = PhraseSet(EVERYONE_PHRASES)


class Clause:
    def __init__(self, index: int, start: int, end: int) -> None:
        self.index = index
        self.start = start  # word indices [start, end)
        self.end = end
        self.live_verbs: list[int] = []
        self.dead_verbs: list[int] = []
        self.question = 0  # 0 none, 1 weak ("?", "vậy"), 2 a real question
        self.polite = False  # "… được không": a polite order, but a real question for a change
        self.cancel = -1
        self.change = -1
        self.change_target = -1
        self.past_state = False
        self.evaluation = False
        self.more = False
        self.content = False  # holds a quantity, product or variant
        self.bare = False  # reads as a telegraphic order: "2 hộp ổi nhé", "A2 3kg"


class Cues:
    def __init__(
        self, clauses: list[Clause], mention: bool, complaint: bool, matches: Matches
    ) -> None:
        self.clauses = clauses
        self.mention = mention
        self.complaint = complaint
        self.matches = matches


def analyse(reading: Reading) -> Cues:
    words = reading.words
    bounds: list[tuple[int, int]] = []
    for i, w in enumerate(words):
        if not bounds or words[bounds[-1][0]].clause != w.clause:
            bounds.append((i, i + 1))
        else:
            bounds[-1] = (bounds[-1][0], i + 1)
    matches: Matches = []
    clauses: list[Clause] = []
    carried_past = False
    for n, (s, e) in enumerate(bounds):
        c = Clause(n, s, e)
        _content(reading, c)
        _question(words, reading, c, matches)
        _change_cancel(words, reading, c, matches)
        carried_past = _verbs(words, reading, c, carried_past, matches)
        c.evaluation = any(i not in reading.consumed and _EVAL.at(words, i, e) for i in range(s, e))
        c.bare = (
            c.content
            and not c.live_verbs
            and not c.dead_verbs
            and not c.evaluation
            and c.question == 0
            and not c.past_state
            and s in reading.consumed
            and _bare_items(reading, c)
        )
        clauses.append(c)
    mention = any(w.tok.kind == "sym" and w.raw == "@" for w in words)
    return Cues(clauses, mention, _complaint(words, reading, matches), matches)


def _elements_in(reading: Reading, c: Clause) -> list[Qty | Ref | Variant]:
    return [
        e
        for e in reading.elements
        if isinstance(e, Qty | Ref | Variant) and c.start <= e.start < c.end
    ]


def _content(reading: Reading, c: Clause) -> None:
    c.content = bool(_elements_in(reading, c))


def _bare_items(reading: Reading, c: Clause) -> bool:
    """Items with nothing else to read as orders: a quantity or a variant, or a code."""
    elements = _elements_in(reading, c)
    has_ref = any(isinstance(e, Ref) for e in elements)
    has_qty = any(
        isinstance(e, Qty)
        and not e.foreign
        and (e.unit or e.postfix or e.rule != "number" or has_ref)
        for e in elements
    )
    has_variant = any(isinstance(e, Variant) for e in elements)
    has_code = any(isinstance(e, Ref) and e.rule == "code" for e in elements)
    counted = any(isinstance(e, Qty) and not e.foreign for e in elements)
    # "2", "1 ạ", "42", "size M nha": a clause that is only a count or a size means that of
    # what is on screen
    only_items = all(
        i in reading.consumed or reading.words[i].in_(tags.TRAILERS) for i in range(c.start, c.end)
    )
    only_a_count = only_items and (counted or has_variant)
    return (
        has_code
        or (has_ref and (has_qty or has_variant))
        or (has_qty and not has_ref)
        or (has_variant and counted)  # "…, 1 M 2 L": sizes of the product named before
        or only_a_count
    )


def _question(words: list[Word], reading: Reading, c: Clause, matches: Matches) -> None:
    s, e = c.start, c.end
    at = _QUESTION.find(words, s, e)
    if at >= 0:
        c.question = 2
        matches.append(("question:phrase", at, at + 1))
        return
    items: set[int] | None = None
    for i in range(s + 1, e - 1):
        if not words[i].in_(tags.OPTION_WORDS):
            continue
        if items is None:
            items = {k for x in _elements_in(reading, c) for k in (x.start, x.end - 1)}
        if (
            not words[i + 1].in_(tags.NOT_OPTION_AFTER_OR_VERB)
            and not words[i - 1].in_(tags.NOT_OPTION_BEFORE)
            and (
                {i - 1, i + 1} & items
                or any(x.in_(tags.OPTION_QUESTION_TAIL) for x in words[i + 2 : e])
            )
        ):
            c.question = 2
            matches.append(("question:option", i, i + 1))
            return
    for i in range(s, e):
        w = words[i]
        if w.in_(tags.QUESTION_WORDS) and not (
            w.is_("gì") and i + 1 < e and words[i + 1].is_("đâu")
        ):
            c.question = 2
            matches.append(("question:word", i, i + 1))
            return
        if w.raw == "bn" and _bn_is_how_much(words, i, s, e):
            c.question = 2
            matches.append(("question:word", i, i + 1))
            return
        if (
            w.is_("nào")
            and i > s
            and words[i - 1].in_(tags.WHICH_NOUNS)
            and not (
                i + 1 < e and words[i + 1].is_("cũng")  # "cái nào cũng": every one
            )
        ):
            c.question = 2
            matches.append(("question:which", i, i + 1))
            return
        if (
            w.is_("giá")
            and not (i + 1 < e and words[i + 1].in_(tags.NOT_PRICE_AFTER))
            and all(k in reading.consumed or words[k].in_(tags.TRAILERS) for k in range(i + 1, e))
        ):  # "giá bao nhiêu" is caught above; "ib e giá ổi hộp", "xin giá áo size L"
            c.question = 2
            matches.append(("question:price", i, i + 1))
            return
    # the last word once trailing addressees and particles are set aside
    last = e - 1
    while (
        last > s
        and (words[last].tok.kind == "sym" or words[last].in_(tags.TRAILERS))
        and not (words[last].in_(tags.QUESTION_ENDS))
    ):
        last -= 1
    if (
        last >= s
        and words[last].tok.kind == "word"
        and words[last].in_(tags.QUESTION_ENDS)
        and last not in reading.consumed
    ):
        if words[last].is_("không") and _polite_request(words, reading, c, last):
            c.polite = True
            matches.append(("order:polite", last - 1, last + 1))
        elif not (words[last].is_("không") and last > s and words[last - 1].in_(tags.NEGATIONS)):
            c.question = 2
            matches.append(("question:final", last, last + 1))
            return
    weak_at = _WEAK_QUESTION.find(words, s, e)
    if weak_at > s and words[weak_at - 1].tok.kind == "num":
        weak_at = -1  # "5 sao": five stars
    if (
        weak_at >= 0
        or any(w.tok.kind == "sym" and w.raw == "?" for w in words[s:e])
        or (
            words[e - 1].in_(tags.WEAK_QUESTION_END)
            and not (e - 1 > s and words[e - 2].in_(tags.EVALUATIONS))  # "ngon thế": how tasty
        )
    ):
        c.question = 1
        matches.append(("question:weak", e - 1, e))


def _bn_is_how_much(words: list[Word], i: int, s: int, e: int) -> bool:
    """ "bn" is "bao nhiêu" ("giá bn", "bn tiền", "1 bó bn lá") unless it is "bạn" ("bn ơi",
    "các bn")."""
    if i + 1 < e and words[i + 1].in_(tags.BN_FRIEND_AFTER):
        return False
    return not (i > s and words[i - 1].in_(tags.BN_FRIEND_BEFORE))


def _polite_request(words: list[Word], reading: Reading, c: Clause, last: int) -> bool:
    """ "lấy 2 hộp được không shop": a polite order, unless something else is asked
    ("có được giảm giá không")."""
    s = c.start
    if last - 1 < s or not words[last - 1].is_("được"):
        return False
    before = last - 2
    if before < s or words[before].is_("có"):
        return False
    ordered = any(
        (verb := _order_verb(words, reading, k, s, last))
        and not _delivery_only(words, k, s, verb, c.content)
        for k in range(s, before + 1)
    )
    return ordered and (before in reading.consumed or words[before].in_(tags.STRONG_ORDER_VERBS))


def _change_cancel(words: list[Word], reading: Reading, c: Clause, matches: Matches) -> None:
    s, e = c.start, c.end
    for i in range(s, e):
        w = words[i]
        if i in reading.consumed:
            continue
        if c.cancel < 0 and w.in_(tags.CANCEL_VERBS):
            unaccented_bo = w.norm == w.plain and w.plain == "bo"
            nxt = words[i + 1] if i + 1 < e else None
            if not unaccented_bo or (
                nxt is not None and (i + 1 in reading.consumed or nxt.in_(tags.CANCEL_BO_AFTER))
            ):
                c.cancel = i
                matches.append(("cancel:verb", i, i + 1))
        if c.cancel < 0 and w.in_(tags.NEGATIONS) and i + 1 < e:
            j = i + 1
            if words[j].in_(tags.ORDER_VERBS) and not words[j].is_("để"):
                c.cancel = i
                matches.append(("cancel:no-longer", i, j + 1))
        if c.change < 0 and w.in_(tags.CHANGE_VERBS) and w.plain != "thay":
            c.change = i
            matches.append(("change:verb", i, i + 1))
        if (
            c.change < 0
            and w.in_(tags.CHANGE_SHIFT_VERBS)
            # "bớt cho e 1 hộp, còn 2 hộp thôi": the new amount may come in the next clause
            and any(x.in_(tags.CHANGE_TARGETS) for x in words[i + 1 : i + 12])
        ):
            c.change = i
            matches.append(("change:shift", i, i + 1))
        # "chốt nhầm": a correction of what was ordered
        if (
            c.change < 0
            and w.in_(tags.ORDER_VERBS)
            and i + 1 < e
            and words[i + 1].in_(tags.MISTAKE_WORDS)
        ):
            c.change = i
            matches.append(("change:mistake", i, i + 2))
        if c.change >= 0 and c.change_target < 0 and i > c.change and w.in_(tags.CHANGE_TARGETS):
            c.change_target = i


def _on_stock(words: list[Word], s: int, i: int) -> bool:
    """ "nếu còn size XXL thì e lấy", "có thì e lấy": an order on the condition that it is in
    stock."""
    at = next((k for k in range(s, i) if words[k].is_(CONDITIONAL)), -1)
    if at >= 0:
        return any(x.in_(tags.AVAILABILITY) for x in words[at + 1 : i])
    then = next((k for k in range(s, i) if words[k].is_(THEN)), -1)
    return then > s and any(x.in_(tags.AVAILABILITY) for x in words[s:then])


def _self_subject(words: list[Word], s: int, i: int) -> bool:
    for p in range(max(s, i - 3), i):
        if words[p].in_(tags.SELF) and (p == s or words[p - 1].in_(tags.BEFORE_SUBJECT)):
            return True
    return False


def _verbs(
    words: list[Word],
    reading: Reading,
    c: Clause,
    carried_past: bool,
    matches: Matches,
) -> bool:
    """Find the order verbs of a clause and whether each is live. Returns the past state the
    next clause inherits."""
    s, e = c.start, c.end
    request = any(
        w.in_(tags.REQUEST_PARTICLES)
        and not (i > s and words[i - 1].is_("ủng"))  # "ủng hộ"
        and not (
            w.in_(tags.FINAL_PARTICLES) and not all(x.in_(tags.TRAILERS) for x in words[i + 1 : e])
        )
        for i, w in enumerate(words[s:e], s)
    )
    present_at = -1
    past_at = -1
    for i in range(s, e):
        w = words[i]
        if w.in_(tags.PRESENT) and not (i > s and words[i - 1].in_(tags.TIME_PREPOSITIONS)):
            present_at = i
        if _PRESENT.at(words, i, e):
            present_at = i
        if _PAST.at(words, i, e) or (
            w.is_("năm")
            and i + 1 < e
            and words[i + 1].tok.kind == "num"
            and len(words[i + 1].raw) == 4
        ):
            past_at = i
        if w.in_(tags.PAST_AFTER) and not request and i not in reading.consumed:  # "R9" is no "rồi"
            past_at = i
        if (
            w.in_(tags.PAST_ADVERBS)
            and i + 1 < e
            and (w.accented or _order_verb(words, reading, i + 1, s, e))
            and not words[i + 1].in_(tags.NOT_VERB_AFTER_ADVERB)
        ):
            past_at = i
        if w.in_(tags.MORE):
            c.more = True
        verb = _order_verb(words, reading, i, s, e)
        if not verb:
            continue
        if _delivery_only(words, i, s, verb, c.content):
            matches.append(("delivery", i, i + 1))
            continue
        dead = ""
        window = words[max(s, i - 2) : i]
        if (
            any(x.in_(tags.PAST_ADVERBS) for x in window)
            or (past_at >= s and past_at > present_at)
            or (
                (
                    any(
                        x.in_(tags.PAST_AFTER)
                        for k, x in enumerate(words[i + 1 : e], i + 1)
                        if k not in reading.consumed
                    )
                    or _PAST.find(words, i + 1, e) >= 0  # "mua tháng trước": bought last month
                )
                and not request
            )
            or (carried_past and present_at < s and not request)
            or (any(x.in_(tags.NARRATIVE) for x in words[s:i]) and present_at < s and not request)
        ):
            dead = "past"
        elif (
            any(x.in_(tags.IRREALIS) for x in words[s:i])
            or _IRREALIS.find(words, s, i) >= 0
            or _on_stock(words, s, i)
        ):
            dead = "hypothetical"
        elif any(x.in_(tags.REPORT_VERBS) for x in words[s:i]):
            dead = "reported"
        elif _others_close(words, reading, c, i):
            dead = "others"
        elif verb == "weak" and not _licensed(words, reading, i, s, e, request):
            dead = "unlicensed"
        if dead == "hypothetical" and _on_stock(words, s, i):
            c.question = max(c.question, 1)  # "nếu còn thì e lấy": asks whether it is there
        if dead:
            c.dead_verbs.append(i)
            matches.append((f"order-verb:{dead}", i, i + 1))
        else:
            c.live_verbs.append(i)
            matches.append(("order-verb", i, i + 1))
    c.past_state = past_at >= s and past_at > present_at
    if c.past_state:
        return True
    return carried_past and present_at < s and not request and not c.live_verbs


def _others_close(words: list[Word], reading: Reading, c: Clause, i: int) -> bool:
    """The verb at i is someone else's closing of orders, or orders talked about: "chúc shop
    chốt 100 đơn nha", "mọi người chốt đơn", "hôm nay ai chốt nhiều nhất", "chốt đơn đi mọi
    người ơi", "chị chốt đơn giỏi ghê", "e chốt đơn thứ 3 rồi nha". Unless the viewer is its
    beneficiary: "shop chốt cho e 2 hộp"."""
    s, e = c.start, c.end
    if any(words[k].is_("cho") and words[k + 1].in_(tags.SELF) for k in range(i + 1, e - 1)):
        return False
    if i > s and words[i - 1].in_(tags.OTHER_SUBJECTS):
        return True
    if i > s + 1 and (
        words[i - 1].is_("kia")  # "chị kia lấy 5 hộp luôn", "anh kia chốt 2 đôi"
        or (words[i - 1].is_("ta") and words[i - 2].is_("người"))  # "người ta chốt 2 hộp"
    ):
        return True
    if any(x.norm == "kìa" for x in words[i + 1 : e]):
        return True  # "bạn Mai chốt 3 hộp kìa mn": look at someone else's order
    for k in range(s, e):
        if not words[k].is_(ORDER_NOUN):
            continue
        before = words[k - 1] if k > s else None
        if before is not None and (
            before.in_(tags.MANY)
            or (before.tok.kind == "num" and k - 1 not in reading.consumed and before.raw != "1")
        ):
            return True  # "chốt 100 đơn", "chốt nhiều đơn": orders counted
        if k + 1 < e and words[k + 1].is_("thứ"):
            return True  # "đơn thứ 3": the viewer's orders told
    if c.content:
        return False
    everyone = _EVERYONE.find(words, s, e) >= 0 and not _self_subject(words, s, i)
    return everyone or any(x.in_(tags.PRAISE) for x in words[i + 1 : e])


def _delivery_only(words: list[Word], i: int, s: int, verb: str, content: bool) -> bool:
    """ "ship cẩn thận nha shop", "gửi viettel post nha", "ship cho e nhanh nha": how to deliver,
    not what to buy ("gửi e 2 hộp" names what)."""
    w = words[i]
    return not content and (
        (verb == "weak" and w.in_(tags.DELIVERY_VERBS))
        or (verb != "" and w.is_("cho") and i > s and words[i - 1].in_(tags.DELIVERY_VERBS))
    )


def _order_verb(words: list[Word], reading: Reading, i: int, s: int, e: int) -> str:
    """ "strong", "weak" or "" for the word at i."""
    w = words[i]
    if i in reading.consumed:
        q = _qty_at(reading, i)
        return "strong" if q is not None and q.rule == "plus" else ""
    if w.tok.kind != "word":
        return ""
    nxt = words[i + 1] if i + 1 < e else None
    if w.in_(tags.STRONG_ORDER_VERBS):
        if i > s and words[i - 1].in_(tags.CHANGE_OR_NEGATION):
            return ""
        if (
            nxt is not None
            and w.is_("lấy")
            and i + 1 not in reading.consumed
            and any(nxt.is_(x) for x in NOT_ORDER_AFTER_LAY)
            and not any(x.is_(ORDER_NOUN) for x in words[s:i])
        ):
            return ""  # "lấy vía đầu năm", "lấy chồng": an idiom ("lên đơn lấy vía" orders)
        return "strong"
    if w.is_("cho") or w.is_("để"):
        if nxt is not None and nxt.in_(tags.SELF):
            return "" if _asks_for_something_else(words, reading, i, s, e) else "strong"
        return ""
    if (
        w.is_("thêm")
        and (i == s or words[i - 1].in_(tags.SELF))
        and (nxt is None or i + 1 in reading.consumed or nxt.tok.kind == "num")
    ):
        return "strong"
    if w.in_(tags.WEAK_ORDER_VERBS) and not w.is_("để"):
        if i > s and words[i - 1].in_(tags.CHANGE_OR_NEGATION):
            return ""
        return "weak"
    return ""


def _asks_for_something_else(words: list[Word], reading: Reading, i: int, s: int, e: int) -> bool:
    """What "cho e (xin)" (at i) asks for is not goods of ours: "cho e hỏi", "cho e xin link",
    "cho e xin 1 tim", "cho e 1 cơ hội" — after "xin" or a bare count, a word that is no unit,
    product or value. "cho e 2 hộp", "cho e xin 2", "cho e thêm 1 nhé", "cho e 1 hihi" order.
    Nor is a thing counted before it ("thả 100 tim cho chị": for the host); s..e: its clause."""
    if any(_counted_other(words, reading, k, i) for k in range(s, i)):
        return True
    k = i + 2
    xin = k < e and words[k].is_("xin")
    k += xin
    if _counted_other(words, reading, k, e):
        return True
    if xin or k in reading.consumed or k >= e:
        return xin and k < e and k not in reading.consumed and _not_goods(words, k)
    return words[k].in_(tags.NOT_ORDER_AFTER_CHO)


def _counted_other(words: list[Word], reading: Reading, k: int, e: int) -> bool:
    """A count at k of a thing that is not ours: "1 tim", "10 sao", "1 cái ôm" (a count in a
    unit of ours, "2 hộp", or alone, "1 nhé", "1 hihi", is not)."""
    if k in reading.consumed:
        q = _qty_at(reading, k)
        if (
            q is None
            or q.end in reading.consumed
            or (q.unit is not None and q.unit not in GENERIC_COUNT_UNITS)
        ):
            return False
        k = q.end
    elif k < e and (words[k].tok.kind == "num" or words[k].in_(tags.NUMBER_NAMES)):
        k += 1  # a number the grammar took for no count ("1 tim")
    else:
        return False
    return k < e and _not_goods(words, k)


def _not_goods(words: list[Word], k: int) -> bool:
    """The word at k names no goods: not a particle, laughter, praise, "thêm" or a verb, nor
    the label of a phone number ("1 sđt 09…")."""
    w = words[k]
    return (
        w.tok.kind == "word"
        and not (k + 1 < len(words) and words[k + 1].tok.kind == "phone")
        and not any(
            w.in_(t)
            for t in (
                tags.TRAILERS,
                tags.FILLERS,
                tags.EVALUATIONS,
                tags.MORE,
                tags.ORDER_VERBS,
                tags.REQUEST_PARTICLES,
            )
        )
    )


def _licensed(words: list[Word], reading: Reading, i: int, s: int, e: int, request: bool) -> bool:
    """A weak verb ("mua", "đặt", "ship") orders only when someone asks for themselves: a self
    subject or beneficiary, a request particle, "thêm"/"nữa", or a product of the catalog.
    "ủng hộ" (support) orders only what it counts or names: "ủng hộ 5 gói kẹo"."""
    if words[i].is_("ủng"):
        return any(isinstance(x, Qty | Ref) and s <= x.start < e for x in reading.elements)
    if request or _self_subject(words, s, i) or _sends_a_count(words, reading, i, s):
        return True
    nxt = words[i + 1] if i + 1 < e else None
    if nxt is not None and nxt.in_(tags.SELF):  # "gửi chị 1 cái ôm": a hug is not ours
        return not _counted_other(words, reading, i + 2, e)
    if nxt is not None and nxt.is_("cho") and i + 2 < e and words[i + 2].in_(tags.SELF):
        return True
    for x in words[i + 1 : e]:  # "mua thêm", "đặt 1 chiếc nữa", up to the next verb
        if x.in_(tags.MORE):
            return True
        if x.in_(tags.ORDER_VERBS):
            break
    return any(
        isinstance(x, Ref) and x.rule != "weak" and s <= x.start < e for x in reading.elements
    )


def _sends_a_count(words: list[Word], reading: Reading, i: int, s: int) -> bool:
    """ "ship 2 hộp về hà nội", "gửi 3 chai nha": a delivery verb opening its clause and counting
    what to send asks for it (after a subject, "shop gửi về 1 cái", it reports)."""
    return i == s and words[i].in_(tags.DELIVERY_VERBS) and _counted_at(reading, i + 1)


def _counted_at(reading: Reading, i: int) -> bool:
    """A count in a unit of ours starts at i ("2 hộp"; not "9h", a time)."""
    q = _qty_at(reading, i)
    return q is not None and q.unit is not None and not q.foreign


def _qty_at(reading: Reading, i: int) -> Qty | None:
    """The count read from position i (one at most: its words are then consumed)."""
    return next((x for x in reading.elements if isinstance(x, Qty) and x.start == i), None)


def _complaint(words: list[Word], reading: Reading, matches: Matches) -> bool:
    """A delivery told with its count ("đặt 2 giao 1", "shop gửi về 1 cái", "nhận đủ 3 hộp"):
    a report or complaint about a past order, not a new one."""
    counts = {x.start for x in reading.elements if isinstance(x, Qty)}
    for i, w in enumerate(words):
        if not w.in_(tags.DELIVERY_VERBS) or w.tok.kind != "word":
            continue
        j = i + 1
        while j < len(words) and j < i + 4 and words[j].in_(tags.SKIP_BEFORE_COUNT):
            j += 1
        if j >= len(words) or words[j].clause != w.clause:
            continue
        opens = i == 0 or words[i - 1].clause != w.clause
        if (
            opens
            and w.in_(tags.ORDER_VERBS)
            and _counted_at(reading, j)
            and not any(x.in_(tags.COMPLAINT_WORDS) for x in words[j:])
        ):
            continue  # "ship 2 hộp về hà nội": a request to send, not a delivery told
        nxt = words[j]
        if (
            j in counts
            or nxt.tok.kind == "num"
            or nxt.in_(tags.NUMBER_NAMES)
            or nxt.in_(tags.COMPLAINT_WORDS)
        ):
            matches.append(("report:delivery", i, j + 1))
            return True
    return False
