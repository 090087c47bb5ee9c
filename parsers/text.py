"""Text normalisation and tokenisation for Vietnamese comments.

Every comment is reduced to one canonical lower-case NFC string (`Text.norm`) with a single
tone-mark placement (hoà/hòa both become hoà) and elongations collapsed ("chốttttt" -> "chốt").
`Text.plain` is the same string with diacritics folded away, character for character, so a span
found in one is the same span in the other. Phone numbers and prices are found first and become
single tokens, so their digits can never be read as quantities.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import regex

from chotdon.phones import find_phones

MAX_CHARS: Final = 1000  # longer comments are cut: bounds the work per comment whatever the input


def _fold_table() -> str:
    """The folded letter of every code point below U+1F00, at its index (a code point past its
    end folds to itself)."""
    table = [chr(cp) for cp in range(0x1F00)]
    table[ord("đ")], table[ord("Đ")] = "d", "D"
    for cp in range(0xC0, 0x1F00):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if len(base) == 1 and base.isascii() and base.isalpha() and base != ch:
            table[cp] = base
    return "".join(table)


_FOLD: Final = _fold_table()
_FOLD_END: Final = len(_FOLD)
_FOLD_CODES: Final = tuple(map(ord, _FOLD))  # the same table as code points

# Old-style (hòa, thủy) and new-style (hoà, thuỷ) tone placement both map to the new style.
_TONE_MOVES: Final = {
    f"{o}{v}": f"{b}{t}"
    for b, v, pairs in (
        ("o", "a", "óá òà ỏả õã ọạ"),
        ("o", "e", "óé òè ỏẻ õẽ ọẹ"),
        ("u", "y", "úý ùỳ ủỷ ũỹ ụỵ"),
    )
    for pair in pairs.split()
    for o, t in [(pair[0], pair[1])]
}
_TONE_RE: Final = regex.compile("|".join(_TONE_MOVES))
_MARKS_RE: Final = regex.compile(r"\p{M}+")
_INVISIBLE_RE: Final = regex.compile(r"[\p{Cf}\p{Cc}\p{Cs}\p{Co}]+")

# The class of a character, as the `regex` module's Unicode tables say (Python's own may be of
# another Unicode version): a table for the code points below U+2000 (every Vietnamese letter),
# the patterns themselves for the rest. Loops over a comment's characters read the table.
OTHER: Final = 0
LETTER: Final = 1
DIGIT: Final = 2
SYMBOL: Final = 3
_CLASS_PATTERNS: Final = (
    (LETTER, regex.compile(r"\p{L}+")),
    (DIGIT, regex.compile(r"\d+")),
    (SYMBOL, regex.compile(r"[+@?×*&]+")),  # the symbols that are tokens
)
_TABLE_END: Final = 0x2000


def _class_of(ch: str) -> int:
    for kind, pattern in _CLASS_PATTERNS:
        if pattern.match(ch) is not None:
            return kind
    return OTHER


def _class_table() -> bytes:
    chars = "".join(map(chr, range(_TABLE_END)))
    table = bytearray(_TABLE_END)
    for kind, pattern in reversed(_CLASS_PATTERNS):  # the first pattern that matches decides
        for m in pattern.finditer(chars):
            table[m.start() : m.end()] = bytes([kind]) * (m.end() - m.start())
    return bytes(table)


_CLASSES: Final = _class_table()


_LATER_CLASSES: Final[dict[int, int]] = {}  # of the code points past the table met so far
_LATER_MAX: Final = 10_000  # at most: past it, the rest are read with the patterns each time


def char_class(text: str, i: int) -> int:
    """OTHER, LETTER, DIGIT or SYMBOL: the class of text[i]."""
    cp = ord(text[i])
    if cp < _TABLE_END:
        return _CLASSES[cp]
    kind = _LATER_CLASSES.get(cp)
    if kind is None:
        kind = _class_of(text[i])
        if len(_LATER_CLASSES) < _LATER_MAX:
            _LATER_CLASSES[cp] = kind
    return kind


def _elongated(plain: str) -> bool:
    """A run of 3+ of one letter ("chốttttt" folded)."""
    run = 1
    for i in range(1, len(plain)):
        if ord(plain[i]) == ord(plain[i - 1]) and char_class(plain, i) == LETTER:
            run += 1
            if run == 3:
                return True
        else:
            run = 1
    return False


def normalise(text: str) -> str:
    return _normalise(text)[0]


def _normalise(text: str) -> tuple[str, str]:
    """The canonical text and its folded form (`Text.norm`, `Text.plain`)."""
    text = unicodedata.normalize("NFC", text[:MAX_CHARS]).lower()
    if not text.isprintable():  # a printable text holds no invisible character
        text = _INVISIBLE_RE.sub(" ", text)
    text = _MARKS_RE.sub("", text)  # combining marks NFC could not attach to a letter
    plain = fold(text)  # moving a tone mark changes no folded letter
    if "oa" in plain or "oe" in plain or "uy" in plain:
        text = place_tones(text)
    if _elongated(plain):
        text = _collapse_elongations(text)
        plain = fold(text)
    return text, plain


def place_tones(text: str) -> str:
    """Old-style tone placement (hòa) moved to the new style (hoà) in lower-case NFC text."""
    placed: str = _TONE_RE.sub(lambda m: _TONE_MOVES[m.group()], text)
    return placed


def _collapse_elongations(text: str) -> str:
    """ "chốttttt" -> "chốt", "quàaaa" -> "quà": a run of 3+ of one letter (whatever its marks)
    keeps its first letter, which carries the tone. "xxl" (two) is left alone."""
    folded = fold(text)
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and folded[j] == folded[i] and text[j].isalpha():
            j += 1
        out.append(text[i] if j - i >= 3 and text[i].isalpha() else text[i:j])
        i = j
    return "".join(out)


def fold(text: str) -> str:
    """Strip Vietnamese diacritics (same length as the input)."""
    if text.isascii():
        return text
    # the runs between foldable letters copied whole (compiled, a loop of integer compares; not
    # str.translate, which looks each character up with a call)
    parts: list[str] = []
    last = 0
    for i in range(len(text)):
        cp = ord(text[i])
        if 0x80 <= cp < _FOLD_END and _FOLD_CODES[cp] != cp:
            parts.append(text[last:i])
            parts.append(_FOLD[cp])
            last = i + 1
    parts.append(text[last:])
    return "".join(parts)


# Money is never a quantity: 50k, 160k, 1tr2, 90 tr, 2 tỉ, 96 đô, 1000đô, 20.000đ.
_MONEY_RE: Final = regex.compile(
    r"(?<![\p{L}\d])\d+(?:[.,]\d+)*(?:k|tr|củ)\d*(?![\p{L}\d])"
    r"|(?<![\p{L}\d])\d+(?:[.,]\d+)*\s?(?:nghìn|ngàn|ngh|triệu|trieu|tr|củ|đồng|đ|vnđ|vnd|đô|usd"
    r"|\$|tỷ|tỉ|ty|ti)(?!\p{L})"
)
# Not quantities either: heights (1m7), percentages, clock times (9h), hours and minutes.
_MEASURE_RE: Final = regex.compile(
    r"(?<![\p{L}\d])\d+(?:m\d+|\s?%|h\d+|ph|p)(?![\p{L}\d])"
    r"|(?<![\d])\d{1,2}/\d{1,2}(?:/\d{2,4})?(?![\d])"  # dates
)
_DIGIT_RE: Final = regex.compile(r"\d")
CLAUSE_BREAK_RE: Final = regex.compile(r"[,.;!?\n|…:()\[\]{}]|\s-\s|/")


class Token:
    # plain classes with their own __init__, here and for the other records of one comment: the
    # compiled build makes them native constructors (a dataclass's generated one stays Python)
    def __init__(
        self, norm: str, plain: str, start: int, end: int, kind: str, value: float = 0.0
    ) -> None:
        self.norm = norm  # canonical toned form (after teencode expansion)
        self.plain = plain  # the same without diacritics
        self.start = start
        self.end = end
        self.kind = kind  # "word", "num", "sym", "phone", "money", "measure"
        self.glued = False  # no space before it ("a2", "2c", "x2")
        self.value = value  # for "num"
        self.clause = 0

    @property
    def accented(self) -> bool:
        return self.norm != self.plain


class Text:
    def __init__(self, norm: str, plain: str) -> None:
        self.norm = norm
        self.plain = plain
        self.tokens: list[Token] = []
        self.phones: list[tuple[str, int, int]] = []  # (0xxxxxxxxx, start, end)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _scan(work: str, plain: str, tokens: list[Token]) -> None:
    """The numbers (digits, one decimal mark: 1.5, 2,5), words (letters) and symbols (+ @ ? × * &)
    of `work`, in order; any other character separates them."""
    i, n = 0, len(work)
    while i < n:
        kind = char_class(work, i)
        j = i + 1
        if kind == DIGIT:
            while j < n and char_class(work, j) == DIGIT:
                j += 1
            if j + 1 < n and work[j] in ".," and char_class(work, j + 1) == DIGIT:
                j += 2
                while j < n and char_class(work, j) == DIGIT:
                    j += 1
        elif kind == LETTER:
            while j < n and char_class(work, j) == LETTER:
                j += 1
        elif kind == OTHER:
            i = j
            continue
        tokens.append(_token(work[i:j], plain[i:j], i, j))
        i = j


def _token(s: str, plain: str, start: int, end: int) -> Token:
    """A token of the kind Python reads in its first character (its Unicode tables may be older
    than the regex module's): a number, a word or a symbol."""
    if s[0].isdigit():
        try:
            return Token(s, s, start, end, "num", float(s.replace(",", ".")))
        except ValueError:  # digits Python does not know yet: not a number
            pass
    elif s[0].isalpha():
        return Token(s, plain, start, end, "word")
    return Token(s, s, start, end, "sym")


def tokenise(raw: str) -> Text:
    norm, plain = _normalise(raw)
    out = Text(norm, plain)
    work = norm
    specials: list[Token] = []
    digits = _DIGIT_RE.search(norm) is not None  # phones, prices and measures all hold one
    for phone, start, end in find_phones(norm) if digits else ():
        out.phones.append((phone, start, end))
        specials.append(Token(norm[start:end], phone, start, end, "phone"))
        work = _blank(work, start, end)
    # `plain` is folded letter for letter: a span's folded form is its slice of it
    for pattern, kind in ((_MONEY_RE, "money"), (_MEASURE_RE, "measure")) if digits else ():

        def special(m: regex.Match[str], kind: str = kind) -> str:
            start, end = m.span()
            specials.append(Token(m.group(), plain[start:end], start, end, kind))
            return " " * len(m.group())  # blanked: its digits are never read again

        work = pattern.sub(special, work)
    tokens = specials
    _scan(work, plain, tokens)
    if specials:
        tokens.sort(key=lambda t: t.start)
    clause, last_end, after_question_mark = 0, 0, False
    for tok in tokens:
        gap = norm[last_end : tok.start]
        is_question_mark = tok.kind == "sym" and tok.norm == "?"
        # a gap of spaces (most of them) breaks no clause: no need to search it
        if (after_question_mark and not is_question_mark) or (
            gap.count(" ") < len(gap) and CLAUSE_BREAK_RE.search(gap)
        ):
            clause += 1
        after_question_mark = is_question_mark
        tok.glued = tok.start == last_end and last_end > 0
        tok.clause = clause
        last_end = tok.end
    out.tokens = tokens
    return out
