"""The parser scored on labelled comments (copies of ../shared/data, held in tests/data)."""

from __future__ import annotations

import pytest

from chotdon.catalog import load_catalog
from parsers import Parser

from .scoring import CATALOGS, Score, case_right, load, wrong_lines

PARSERS = {name: Parser(load_catalog(name)) for name in ("kim-an", "phu-xuyen")}
PARSERS.update({p.stem: Parser(load_catalog(p)) for p in sorted(CATALOGS.glob("*.json"))})


def score_full(name: str, catalog: str | None = None) -> Score:
    score = Score()
    for case in load(name):
        if catalog is not None and case["catalog"] != catalog:
            continue
        got = PARSERS[case["catalog"]].parse(case["text"], case["current"])
        ok = case_right(case["expect"], got)
        score.cases += 1
        score.right += ok
        score.wrong_lines += wrong_lines(case["expect"], got)
        score.intent_pairs.append((case["expect"]["intent"], got.intent))
        if not ok:
            score.failures.append(f"{case['id']} {case['text']!r}: {got.intent} {got.items}")
    return score


def test_dev_set_case_accuracy() -> None:
    score = score_full("dev_comments.jsonl")
    print(f"dev: case accuracy {score.accuracy:.3f}, intent macro-F1 {score.macro_f1():.3f}")
    assert score.accuracy >= 0.97, "\n".join(score.failures)


@pytest.mark.parametrize("catalog", ["kim-an", "phu-xuyen"])
def test_real_set_intents_and_no_false_orders(catalog: str) -> None:
    """Real comments name no product of ours: scored by intent, with no current product."""
    score = Score()
    false_orders = []
    for case in load("real_comments.jsonl"):
        got = PARSERS[catalog].parse(case["text"], None)
        expected = case["expect"]["intent"]
        score.intent_pairs.append((expected, got.intent))
        if got.intent == "order" and expected != "order":
            false_orders.append(f"{case['id']} {case['text']!r}")
    print(f"real ({catalog}): intent accuracy {score.intent_accuracy:.3f}")
    assert not false_orders
    assert score.intent_accuracy >= 0.90


def test_second_set_written_after_the_parser() -> None:
    """200 comments written by a second person after the parser existed (new wordings, not dev
    paraphrases). Its first score was 0.925; the rules it exposed were generalised, so it is a
    regression set now, not a held-out one."""
    score = score_full("heldout_comments.jsonl")
    print(f"second set: case accuracy {score.accuracy:.3f}")
    assert score.accuracy >= 0.97, "\n".join(score.failures)


def catalogs_of(name: str) -> list[str]:
    return sorted({case["catalog"] for case in load(name)})


@pytest.mark.parametrize("catalog", catalogs_of("new_catalogs_comments.jsonl"))
def test_catalogs_written_before_the_parser_knew_them(catalog: str) -> None:
    """Four catalogs of other kinds (fashion with size x colour, food by weight, sauces by volume,
    cosmetics with codes), 60+ comments each, written before the parser was changed for them.
    Their first score (0.53 overall, 117 wrong lines) is in docs/parser-catalogs.md; the rules
    they exposed were generalised, so they are a regression set now."""
    score = score_full("new_catalogs_comments.jsonl", catalog)
    print(f"{catalog}: case accuracy {score.accuracy:.3f}, wrong order lines {score.wrong_lines}")
    assert score.cases >= 60
    assert score.accuracy >= 0.95, "\n".join(score.failures)
    assert score.wrong_lines <= 1, "\n".join(score.failures)


@pytest.mark.parametrize("catalog", catalogs_of("blind_comments.jsonl"))
def test_catalogs_written_after_the_first_fixes(catalog: str) -> None:
    """Two more catalogs (farm produce with weight variants and a product sold by kg; shoes and
    shirts with size x colour, codes B12/V02/Q3), 50+ comments each, written after the fixes the
    first four exposed and scored before any change for them (0.942 and 0.961, 3 wrong lines in
    103: docs/parser-catalogs.md). A regression set now."""
    score = score_full("blind_comments.jsonl", catalog)
    print(f"{catalog}: case accuracy {score.accuracy:.3f}, wrong order lines {score.wrong_lines}")
    assert score.cases >= 50
    assert score.accuracy >= 0.95, "\n".join(score.failures)
    assert score.wrong_lines <= 1, "\n".join(score.failures)


@pytest.mark.parametrize("catalog", catalogs_of("third_catalogs_comments.jsonl"))
def test_third_catalogs_written_before_the_parser_knew_them(catalog: str) -> None:
    """Three more catalogs of kinds the parser had not met (rice and grains by kg, bao and túi,
    a "túi 5kg" in a name, "yến"; polo, jacket, shorts, dress and cap sharing sizes and colours;
    dried shrimp and squid by ký and lạng, "Mực một nắng", honey by volume, mangoes by thùng),
    60 comments each, labelled by hand and scored before any change for them: 0.878 (158/180),
    23 wrong order lines (0.883 with 7, 0.883 with 10, 0.867 with 6). The classes they exposed
    were fixed in the grammar and lexicon (1.000, no wrong line); a regression set now."""
    score = score_full("third_catalogs_comments.jsonl", catalog)
    print(f"{catalog}: case accuracy {score.accuracy:.3f}, wrong order lines {score.wrong_lines}")
    assert score.cases >= 60
    assert score.accuracy >= 0.95, "\n".join(score.failures)
    assert score.wrong_lines <= 1, "\n".join(score.failures)
