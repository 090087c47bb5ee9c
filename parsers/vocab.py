"""Canonical words: teencode expansion and tone-aware word comparison.

Every word the parser compares (in a comment, in a catalog alias, in the lexicon) goes through
`canon`, so "ko", "k", "hok" and "không" are one word, and "cân", "ký", "kí" are all "kg".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from .lexicon import TEENCODE
from .text import fold


@lru_cache(maxsize=8192)
def canon(word: str) -> tuple[str, ...]:
    """The canonical word(s) for one surface word (teencode may expand to several)."""
    expanded = TEENCODE.get(word)
    if expanded is None and word == fold(word):
        expanded = _PLAIN_TEENCODE.get(word)
    return tuple((expanded or word).split())


# Keys whose only mark is the đ also match typed with a d ("đc" -> "dc"); others ("dòi") do
# not, since their folded form is often a word of its own ("doi": đổi, đôi).
_PLAIN_TEENCODE: Final = {
    fold(k): v
    for k, v in TEENCODE.items()
    if fold(k) not in TEENCODE and fold(k.replace("đ", "d")) == k.replace("đ", "d")
}
