"""Per-word tag bitmasks (parsers/tags.py) answer what the word lists answer: a word is in a list
as typed, or by its folded form when it was typed without diacritics."""

from __future__ import annotations

import pytest

from parsers import tags
from parsers.text import fold

LISTS = {name: value for name, value in vars(tags).items() if isinstance(value, tags.WordList)}
WORDS = sorted(
    {w for wl in LISTS.values() for w in wl.words}
    | {fold(w) for wl in LISTS.values() for w in wl.words}
    | {"chốt", "chot", "lấy", "lay", "hộp", "hop", "ổi", "oi", "tui", "túi", "xyz", ""}
)


def member(words: frozenset[str], norm: str) -> bool:
    """The lists' own answer."""
    plain = fold(norm)
    return norm in words or (norm == plain and plain in {fold(w) for w in words})


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_words_tags_say_which_lists_hold_it(name: str) -> None:
    wl = LISTS[name]
    for norm in WORDS:
        plain = fold(norm)
        got = tags.tags(norm, plain, norm != plain) & wl.bit != 0
        assert got == member(wl.words, norm), (name, norm)


def test_every_list_has_a_bit_of_its_own() -> None:
    bits = [wl.bit for wl in LISTS.values()]
    assert len(set(bits)) == len(bits) and all(b & (b - 1) == 0 for b in bits)
