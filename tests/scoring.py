"""Scoring of the parser against labelled comments, as ../shared/data/README.md defines it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chotdon.records import Intent

DATA = Path(__file__).parent / "data"
CATALOGS = DATA / "catalogs"  # catalogs of the labelled sets beyond the two bundled ones


def load(name: str) -> list[dict[str, Any]]:
    with (DATA / name).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def items_match(expected: list[dict[str, Any]], got: Intent) -> bool:
    left = [(i.sku, i.qty, i.variant) for i in got.items]
    if len(left) != len(expected):
        return False
    for e in expected:
        for g in left:
            same_qty = e["qty"] is None or (g[1] is not None and abs(g[1] - e["qty"]) < 1e-9)
            if g[0] == e["sku"] and g[2] == e["variant"] and same_qty:
                left.remove(g)
                break
        else:
            return False
    return True


def wrong_lines(expect: dict[str, Any], got: Intent) -> int:
    """Order lines a packer would ship wrongly: lines of an order that match no expected line
    (wrong product, quantity or variant), or any line when no order was meant."""
    if got.intent != "order":
        return 0
    if expect["intent"] != "order":
        return len(got.items)
    left = list(expect.get("items", []))
    wrong = 0
    for g in got.items:
        hit = next((e for e in left if items_match([e], Intent(intent="order", items=[g]))), None)
        if hit is None:
            wrong += 1
        else:
            left.remove(hit)
    return wrong


def case_right(expect: dict[str, Any], got: Intent) -> bool:
    return (
        got.intent == expect["intent"]
        and items_match(expect.get("items", []), got)
        and got.phone == expect.get("phone")
    )


@dataclass
class Score:
    cases: int = 0
    right: int = 0
    wrong_lines: int = 0
    intent_pairs: list[tuple[str, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.cases if self.cases else 0.0

    @property
    def intent_accuracy(self) -> float:
        return sum(e == g for e, g in self.intent_pairs) / len(self.intent_pairs)

    def macro_f1(self) -> float:
        labels = {e for e, _ in self.intent_pairs}
        tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
        for e, g in self.intent_pairs:
            if e == g:
                tp[e] += 1
            else:
                fp[g] += 1
                fn[e] += 1
        f1s = []
        for label in labels:
            p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
            r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
            f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        return sum(f1s) / len(f1s)
