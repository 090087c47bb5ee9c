"""`chotdon diff`: exactly the comments two parser configurations read differently, the orders
that changed, and the revenue difference."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from analytics import diff, replay
from analytics.session import load_path
from chotdon.catalog import Catalog
from chotdon.formatting import format_vnd
from chotdon.records import Intent
from parsers import Parser
from stream_jobs import processor
from tests.analytics_helpers import (  # noqa: F401  (fixtures)
    STREAM,
    command,
    demo_db_fixture,
    rows,
)


def replay_to(out: Path, source: Path, *extra: str) -> None:
    argv = ["--stream", STREAM, "--source", str(source), "--out", str(out), *extra]
    assert command(replay, argv) == 0


def readings(db: Path) -> dict[str, tuple[str, list[Any]]]:
    """Each comment's intent and items, straight from the database."""
    out = {}
    for cid, record in rows(db, "intents", "comment_id, record"):
        data = json.loads(record)
        out[str(cid)] = (data["intent"], data["items"])
    return out


def paid_totals(db: Path) -> dict[str, int]:
    totals = {}
    for order_id, record in rows(db, "orders", "order_id, record"):
        total = json.loads(record)["total"]
        if total > 0:
            totals[str(order_id)] = total
    return totals


def without_alias(tmp_path: Path, sku: str, alias: str) -> Path:
    data = json.loads(Path("chotdon/data/kim-an.json").read_text("utf-8"))
    for product in data["products"]:
        if product["sku"] == sku:
            product["aliases"].remove(alias)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def changed_ids(a: Path, b: Path) -> set[str]:
    ra, rb = readings(a), readings(b)
    return {cid for cid in ra.keys() & rb.keys() if ra[cid] != rb[cid]}


def test_a_catalog_without_an_alias_lists_exactly_the_changed_comments(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, changed = tmp_path / "base.db", tmp_path / "changed.db"
    replay_to(base, demo_db)
    replay_to(changed, demo_db, "--catalog", str(without_alias(tmp_path, "LA-DONG", "lá dong")))
    expected = changed_ids(base, changed)
    assert expected  # the configuration matters to some comments, not to all
    assert len(expected) < 50

    code = command(diff, [str(base), str(changed), "--csv", str(tmp_path / "diff.csv")])
    assert code == 1  # like diff(1): something changed
    with open(tmp_path / "diff.csv", encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    assert {r["id"] for r in table if r["change"] == "comment"} == expected

    a, b = paid_totals(base), paid_totals(changed)
    orders = {r["id"]: r for r in table if r["change"] in ("gained", "lost", "changed")}
    assert set(orders) == {o for o in a.keys() | b.keys() if a.get(o, 0) != b.get(o, 0)}
    assert all(int(r["delta"]) == b.get(o, 0) - a.get(o, 0) for o, r in orders.items())
    revenue = next(r for r in table if r["change"] == "revenue")
    assert int(revenue["delta"]) == sum(b.values()) - sum(a.values()) != 0

    shown = capsys.readouterr().out
    assert "Doanh thu (revenue)" in shown and format_vnd(sum(b.values())) in shown
    texts = comment_texts(changed)
    assert all(" ".join(texts[cid].split())[:20] in shown for cid in expected)


def comment_texts(db: Path) -> dict[str, str]:
    return {
        str(cid): json.loads(record)["comment"]["text"]
        for cid, record in rows(db, "intents", "comment_id, record")
    }


class NoShippingQuestions:
    """A parser with a rule changed: questions about shipping are chatter now. (It wraps the
    parser: a compiled parser's methods cannot be replaced.)"""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._parser = Parser(catalog)

    def parse(self, text: str, current: str | None = None) -> Intent:
        intent = self._parser.parse(text, current)
        if intent.intent == "question" and "ship" in text.lower():
            return msgspec.structs.replace(intent, intent="other")
        return intent


def test_a_changed_parser_rule_lists_exactly_the_comments_it_changes(
    demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, changed = tmp_path / "base.db", tmp_path / "changed.db"
    replay_to(base, demo_db)
    monkeypatch.setattr(processor, "Parser", NoShippingQuestions)
    replay_to(changed, demo_db)
    texts = comment_texts(base)
    expected = {
        cid
        for cid, (intent, _) in readings(base).items()
        if intent == "question" and "ship" in texts[cid].lower()
    }
    assert expected and expected == changed_ids(base, changed)
    d = diff.diff_sessions(load_path(base, STREAM), load_path(changed, STREAM))
    assert {c.comment_id for c in d.comments} == expected
    assert all(c.a.intent == "question" and c.b.intent == "other" for c in d.comments)
    assert not d.orders and d.revenue_delta == 0  # questions order nothing


def test_two_identical_replays_differ_in_nothing(
    demo_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay_to(tmp_path / "a.db", demo_db)
    # a replay against the live session: the live run had the same parser
    argv = [str(demo_db), str(tmp_path / "a.db"), "--csv", str(tmp_path / "d.csv")]
    assert command(diff, argv) == 0
    assert "Không bình luận nào đổi" in capsys.readouterr().out
    lines = (tmp_path / "d.csv").read_text("utf-8-sig").splitlines()
    assert lines[0].startswith("change,id,") and lines[1].startswith("revenue,kim-an-oi,")
    assert len(lines) == 2


def test_a_windowed_replay_counts_the_comments_only_one_side_has(
    demo_db: Path, tmp_path: Path
) -> None:
    replay_to(tmp_path / "w.db", demo_db, "--to", "1764230500")
    d = diff.diff_sessions(load_path(demo_db, STREAM), load_path(tmp_path / "w.db", STREAM))
    assert d.only_b == 0 and d.only_a == len(readings(demo_db)) - len(readings(tmp_path / "w.db"))
    assert d.only_a > 0 and not d.comments  # the comments both have read the same


def test_diff_finds_the_one_stream_both_files_hold(demo_db: Path, tmp_path: Path) -> None:
    assert diff.common_stream(demo_db, demo_db) == STREAM
    assert command(diff, [str(demo_db), str(tmp_path / "missing.db"), "--stream", STREAM]) == 2
