"""Everyday Vietnamese words, from the word list the `underthesea` package ships (Viet74K).

A catalog word typed without diacritics may be another, everyday word ("tui": túi the bag, or tui
"I"; "sua": sữa the milk, or sửa "change"). Which catalog words carry that risk is read from a
real word list, so a new seller's catalog gets the same care as the bundled ones. The list is
static data read once; nothing here depends on the comment being parsed.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Final

from .text import fold, normalise, place_tones

WORD_LIST_PACKAGE: Final = "underthesea"
WORD_LIST_FILE: Final = Path("corpus") / "data" / "Viet74K.txt"


def word_list_path() -> Path:
    """The word list inside the installed package (found without importing the package)."""
    spec = importlib.util.find_spec(WORD_LIST_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {WORD_LIST_PACKAGE} package is not installed (pip install .)")
    return Path(next(iter(spec.submodule_search_locations))) / WORD_LIST_FILE


@lru_cache(maxsize=1)
def _syllables_by_fold() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    text = unicodedata.normalize("NFC", word_list_path().read_text(encoding="utf-8").lower())
    for syllable in set(place_tones(text).replace("-", " ").split()):
        if syllable.isalpha():
            found.setdefault(fold(syllable), set()).add(syllable)
    return {plain: frozenset(toned) for plain, toned in found.items()}


def everyday_readings(word: str) -> frozenset[str]:
    """The words of the language typed like `word` without diacritics ("oi": ơi, ổi, ối, ôi…)."""
    return _syllables_by_fold().get(fold(normalise(word).strip()), frozenset())


def collides(word: str) -> bool:
    """True when `word`, typed without diacritics, is also some other everyday word."""
    return bool(everyday_readings(word) - {normalise(word).strip()})
