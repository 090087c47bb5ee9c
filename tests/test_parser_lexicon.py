"""The lexicon is the one place a linguist edits, and it agrees with itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import parsers
import parsers.lexicon as lexicon
from chotdon.catalog import load_catalog
from parsers import Parser
from parsers.vocab import canon

PARSERS_DIR = Path(parsers.__file__).parent  # compiled modules (mypyc) give no source path
TYPED_MARKS = ("_LETTER", "_SIGN", "_SIGNS")  # compared as typed ("2c"), before teencode
TOKEN_KINDS = {"word", "num", "sym", "phone", "money", "measure"}  # token kinds, not words


def rule_words() -> set[tuple[str, str]]:
    """(list name, word) for every word of every word list and phrase list of the lexicon."""
    found: set[tuple[str, str]] = set()
    for name in dir(lexicon):
        value = getattr(lexicon, name)
        if not name.isupper() or name == "TEENCODE" or name.endswith(TYPED_MARKS):
            continue
        values = [value] if isinstance(value, str) else value
        if isinstance(values, frozenset | tuple | list | dict):
            found |= {(name, w) for v in values if isinstance(v, str) for w in v.split()}
    return found


def test_no_teencode_key_shadows_a_rule_word() -> None:
    """A rule word that teencode rewrites is never seen by the rule ("sai" as "size" hid the
    complaint word "sai"): every rule word is canonical."""
    shadowed = [(name, w, canon(w)) for name, w in sorted(rule_words()) if canon(w) != (w,)]
    assert not shadowed


def test_teencode_keys_are_words_and_values_canonical() -> None:
    assert all(" " not in key for key in lexicon.TEENCODE), "keys are single typed words"
    for key, value in lexicon.TEENCODE.items():
        for w in value.split():
            assert canon(w) == (w,), f"{key!r} -> {value!r}: {w!r} is rewritten again"


def test_no_word_list_outside_the_lexicon() -> None:
    """grammar.py, intents.py, catalog_index.py hold rules, not vocabulary: no literal list of
    words (a set, tuple or list of two or more strings with a letter) in their code."""
    found = []
    for module in ("grammar.py", "intents.py", "catalog_index.py", "items.py", "parser.py"):
        tree = ast.parse((PARSERS_DIR / module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Set | ast.Tuple | ast.List):
                words = [
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and isinstance(e.value, str)
                ]
                words = [w for w in words if w not in TOKEN_KINDS]
                if len(words) >= 2 and any(c.isalpha() for w in words for c in w):
                    found.append(f"{module}:{node.lineno}: {words}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("bn ơi lấy 2 hộp", "bn oi lấy 2 hộp"),
        ("chốt 2 hộp nhé", "chốt 2 hộp nhe"),
        ("cho e hỏi giá ổi", "cho e hoi giá ổi"),
    ],
)
def test_one_way_of_matching_a_word(typed: str, plain: str) -> None:
    """A cue word typed without its diacritics reads as the same word."""
    parser = Parser(load_catalog("kim-an"))
    assert parser.parse(typed, "A1").intent == parser.parse(plain, "A1").intent


def test_a_complaint_word_is_not_a_size() -> None:
    parser = Parser(load_catalog("kim-an"))
    assert parser.parse("chốt 2 hộp mà shop giao sai", "A1").intent != "order"
    assert Parser(load_catalog("phu-xuyen")).parse("chốt áo sai M", "AT").items[0].variant == "M"
