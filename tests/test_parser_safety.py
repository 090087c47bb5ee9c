"""Whatever a viewer types, the parser answers: it never raises, and its work is bounded."""

from __future__ import annotations

import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chotdon.catalog import Catalog, Product, load_catalog
from chotdon.prometheus import PipelineMetrics
from chotdon.records import INTENT_KINDS, Comment, Intent, parse_failed
from parsers import Parser
from parsers.text import MAX_CHARS, normalise, tokenise

from .scoring import CATALOGS

PARSERS = [Parser(load_catalog("kim-an")), Parser(load_catalog("phu-xuyen"))] + [
    Parser(load_catalog(p))
    for p in sorted(CATALOGS.glob("*.json"))  # several axes, amounts
]
CURRENTS = st.sampled_from([None, "A1", "a2", "G1", "AT", "M1", "V02", "TT", "ZZ", "", "💥"])
# Comment-shaped noise: the grammar's own pieces in random order.
PIECES = st.sampled_from(
    "chốt lấy mua hủy huỷ đổi sửa thành sang size sz màu đen xl 41 x2 x + sl c 2c 1kg2 cân rưỡi "
    "nửa lạng chục mười hai ổi hộp túi tui áo giày a1 A5 g1 at ko k không được dc ? , . @ 50k "
    "1tr2 0912 345 678 +84 84 số điểm năm 2024 rồi đã nhé ạ shop ơi e c mk và với mỗi loại "
    "500g 1 lít 1l 330ml hũ lọ lốc 10 cuộn hay nếu còn thì trắng M đỏ gạch hong V02 q3 "
    "🔥 👨‍👩‍👧 \u0301 \u200d \x00 \ufffd".split()
)
ADVERSARIAL = st.lists(PIECES, max_size=80).map(" ".join)


def check(text: str, current: str | None) -> None:
    for parser in PARSERS:
        result = parser.parse_uncached(text, current)
        assert result.intent in INTENT_KINDS
        skus = {p.sku for p in parser.catalog.products}
        for item in result.items:
            assert item.sku in skus
            assert item.qty is None or item.qty > 0
        assert result.phone is None or re.fullmatch(r"0[35789]\d{8}", result.phone)
        norm = normalise(text)
        for m in result.explanation:
            assert 0 <= m.start <= m.end <= len(norm)
        assert parser.parse(text, current) == result  # deterministic, cached or not


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400), CURRENTS)
def test_any_unicode_text(text: str, current: str | None) -> None:
    check(text, current)


@settings(max_examples=400)
@given(ADVERSARIAL, CURRENTS)
def test_comment_shaped_noise(text: str, current: str | None) -> None:
    check(text, current)


@settings(max_examples=200)
@given(st.binary(max_size=600), CURRENTS)
def test_binary_looking_input(data: bytes, current: str | None) -> None:
    check(data.decode("utf-8", errors="surrogateescape"), current)
    check(data.decode("latin-1"), current)


def test_huge_and_pathological_inputs_are_cut_to_a_bounded_size() -> None:
    monsters = [
        "chốt " * 200_000,
        "1" * 1_000_000,
        "a" * 1_000_000,
        "\u0301" * 100_000,
        "👨‍👩‍👧" * 50_000,
        "0912 " * 100_000,
        "x2 " * 300_000,
        "ổi hộp " * 100_000,
    ]
    for text in monsters:
        assert len(tokenise(text).norm) <= MAX_CHARS
        check(text, "A1")


def test_surrogates_and_control_characters() -> None:
    for text in ("\ud800chốt 2", "lấy\x00 2 hộp", "\x1b[31mchốt\x1b[0m", "\u202echốt 2 hộp"):
        check(text, "A1")


def test_digits_python_does_not_know_yet() -> None:
    """The regex module's Unicode may be newer than Python's: U+16130 is a digit to it, and
    float() cannot read it (the parser raised on "1\U00016130" before)."""
    for text in ("\U00016130", "1\U00016130 hộp", "chốt 2 \U00016131\U00016132 hộp"):
        check(text, "A1")


def test_a_parser_failure_is_logged_masked_and_counted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug in the parser never stops the stream: the comment reads as "other", and the failure
    is logged (phone masked) and counted, for the shell's metrics, instead of passing silently."""
    parser = Parser(load_catalog("kim-an"))

    def broken(catalog: Catalog, code: str | None) -> Product | None:
        raise KeyError("boom")

    # the compiled parser's own methods cannot be replaced: the failure comes from the catalog
    with monkeypatch.context() as patch, caplog.at_level(logging.ERROR, logger="parsers.parser"):
        patch.setattr(Catalog, "by_code", broken)
        got = parser.parse("chốt 2 hộp sđt 0912345678", "A1")
    assert got.intent == "other" and not got.items
    assert parse_failed(got)
    assert not parse_failed(Parser(load_catalog("kim-an")).parse("chốt 2 hộp", "A1"))
    assert parser.errors == 1
    assert "KeyError" in caplog.text and "0912***678" in caplog.text
    assert "0912345678" not in caplog.text
    metrics = PipelineMetrics()
    metrics.observe_intent("s", got.intent, 1e-4, failed=parse_failed(got))
    metrics.observe_intent("s", "order", 1e-4, failed=False)
    assert metrics.registry.get_sample_value("chotdon_parse_errors_total", {"stream": "s"}) == 1


def test_both_shells_count_a_parse_with_its_intent_time_and_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """StreamMetrics.observe_parse (the embedded runner's and the worker's one way to parse)."""
    parser = Parser(load_catalog("kim-an"))
    metrics = PipelineMetrics()

    def parse(comment: Comment) -> Intent:
        return parser.parse(comment.text, "A1")

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"stream": "s", **labels})

    got = metrics.observe_parse(
        parse, Comment(stream="s", comment_id="c1", user_id="u", text="chốt 2 hộp", ts=1.0)
    )
    assert got.intent == "order" and got.items
    assert sample("chotdon_comments_total") == 1 and sample("chotdon_parse_errors_total") == 0
    assert sample("chotdon_intents_total", intent="order") == 1

    def broken(catalog: Catalog, code: str | None) -> Product | None:
        raise KeyError("boom")

    monkeypatch.setattr(Catalog, "by_code", broken)
    got = metrics.observe_parse(
        parse, Comment(stream="s", comment_id="c2", user_id="u", text="chốt 3 hộp", ts=2.0)
    )
    assert got.intent == "other" and parse_failed(got)
    assert sample("chotdon_comments_total") == 2 and sample("chotdon_parse_errors_total") == 1
    assert sample("chotdon_intents_total", intent="other") == 1
    assert metrics.registry.get_sample_value("chotdon_parse_latency_seconds_count") == 2
