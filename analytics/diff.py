"""`chotdon diff A B`: what changed between two runs of one session (two replays, or a replay
and the live session): comments whose intent or items changed, orders gained, lost or changed,
and the revenue difference. A table in the terminal, and `--csv FILE` for a spreadsheet.
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chotdon.formatting import format_vnd
from chotdon.phones import mask_phones_in
from chotdon.records import Intent, OrderEvent

from .files import spreadsheet_text
from .labels import count, describe
from .session import Session, is_sqlite, load_path, sqlite_streams
from .times import iso

OrderChangeKind = Literal["gained", "lost", "changed"]
ORDER_LABELS = {"gained": "thêm (gained)", "lost": "mất (lost)", "changed": "đổi (changed)"}
TEXT_WIDTH = 38  # characters of comment text in the terminal table


@dataclass(frozen=True, slots=True)
class CommentChange:
    comment_id: str
    ts: float
    customer_name: str
    text: str
    a: Intent
    b: Intent


@dataclass(frozen=True, slots=True)
class OrderChange:
    kind: OrderChangeKind
    order_id: str
    customer_name: str
    a_total: int  # VND, 0 when the order had no confirmed line
    b_total: int


@dataclass
class SessionDiff:
    stream: str
    comments: list[CommentChange] = field(default_factory=list)
    orders: list[OrderChange] = field(default_factory=list)
    only_a: int = 0  # comments one side has and the other not (a windowed replay)
    only_b: int = 0
    revenue_a: int = 0
    revenue_b: int = 0
    orders_a: int = 0  # orders with confirmed lines
    orders_b: int = 0

    @property
    def revenue_delta(self) -> int:
        return self.revenue_b - self.revenue_a

    def __bool__(self) -> bool:
        return bool(self.comments or self.orders or self.only_a or self.only_b)


def _key(intent: Intent) -> tuple[str, list[tuple[str, float | None, str | None]]]:
    return intent.intent, [(i.sku, i.qty, i.variant) for i in intent.items]


def _paid(session: Session) -> dict[str, OrderEvent]:
    return {e.order_id: e for e in session.final_orders() if e.total > 0}


def diff_sessions(a: Session, b: Session) -> SessionDiff:
    out = SessionDiff(stream=a.stream)
    a_intents = {i.comment.comment_id: i for i in a.intents if i.comment}
    b_intents = {i.comment.comment_id: i for i in b.intents if i.comment}
    out.only_a = len(a_intents.keys() - b_intents.keys())
    out.only_b = len(b_intents.keys() - a_intents.keys())
    for cid, old in a_intents.items():
        new = b_intents.get(cid)
        if new is None or _key(old) == _key(new):
            continue
        comment = old.comment
        assert comment is not None  # keyed by it
        out.comments.append(
            CommentChange(cid, comment.ts, comment.user_name, comment.text, old, new)
        )
    out.comments.sort(key=lambda c: (c.ts, c.comment_id))
    paid_a, paid_b = _paid(a), _paid(b)
    out.orders_a, out.orders_b = len(paid_a), len(paid_b)
    out.revenue_a = sum(e.total for e in paid_a.values())
    out.revenue_b = sum(e.total for e in paid_b.values())
    for order_id in sorted(paid_a.keys() | paid_b.keys()):
        old_event, new_event = paid_a.get(order_id), paid_b.get(order_id)
        a_total = old_event.total if old_event else 0
        b_total = new_event.total if new_event else 0
        if a_total == b_total:
            continue
        kind: OrderChangeKind = "gained" if not a_total else "lost" if not b_total else "changed"
        name = (old_event or new_event).customer_name  # type: ignore[union-attr]
        out.orders.append(OrderChange(kind, order_id, name, a_total, b_total))
    out.orders.sort(key=lambda o: (o.kind, -abs(o.b_total - o.a_total), o.order_id))
    return out


# --- the terminal table ---


def _width(text: str) -> int:
    return sum(
        0
        if unicodedata.combining(ch)
        else 2
        if unicodedata.east_asian_width(ch) in ("W", "F")
        else 1
        for ch in text
    )


def _fit(text: str, width: int) -> str:
    """Cut to `width` terminal columns (with …) and pad to it."""
    if _width(text) > width:
        while _width(text) > width - 1:
            text = text[:-1]
        text += "…"
    return text + " " * (width - _width(text))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - _width(cell))
            out.append(pad + cell if i in right else cell + pad)
        return "  ".join(out).rstrip()

    return [line(headers), "  ".join("─" * w for w in widths), *map(line, rows)]


def render(d: SessionDiff, a_name: str, b_name: str) -> str:
    lines = [f"So sánh (diff) {d.stream}:  A = {a_name}   B = {b_name}", ""]
    if d.comments:
        lines.append(f"Bình luận đổi ý định/món (comments changed): {count(len(d.comments))}")
        rows = [
            [
                iso(c.ts)[11:19],
                _fit(c.customer_name, 18),
                _fit(mask_phones_in(" ".join(c.text.split())), TEXT_WIDTH),
                describe(c.a),
                describe(c.b),
            ]
            for c in d.comments
        ]
        headers = ["Giờ (time)", "Khách (customer)", "Bình luận (comment)", "A", "B"]
        lines += [*_table(headers, rows, set()), ""]
    else:
        lines += ["Không bình luận nào đổi (no comment changed).", ""]
    if d.only_a or d.only_b:
        lines += [f"Bình luận chỉ có ở A: {count(d.only_a)} · chỉ có ở B: {count(d.only_b)}", ""]
    if d.orders:
        lines.append(f"Đơn thay đổi (orders changed): {count(len(d.orders))}")
        rows = [
            [
                ORDER_LABELS[o.kind],
                o.order_id,
                _fit(o.customer_name, 22),
                format_vnd(o.a_total),
                format_vnd(o.b_total),
                _signed_vnd(o.b_total - o.a_total),
            ]
            for o in d.orders
        ]
        headers = ["", "Mã đơn (order)", "Khách (customer)", "A", "B", "Chênh (Δ)"]
        lines += [*_table(headers, rows, {3, 4, 5}), ""]
    rows = [
        [
            "Đơn chốt (orders)",
            count(d.orders_a),
            count(d.orders_b),
            _signed(d.orders_b - d.orders_a),
        ],
        [
            "Doanh thu (revenue)",
            format_vnd(d.revenue_a),
            format_vnd(d.revenue_b),
            _signed_vnd(d.revenue_delta),
        ],
    ]
    lines += _table(["", "A", "B", "Chênh (Δ)"], rows, {1, 2, 3})
    return "\n".join(lines)


def _signed(n: int) -> str:
    return ("+" if n > 0 else "") + count(n)


def _signed_vnd(n: int) -> str:
    return ("+" if n > 0 else "") + format_vnd(n)


# --- CSV ---

CSV_HEADER = (
    "change",
    "id",
    "ts",
    "time",
    "customer_name",
    "text",
    "a_intent",
    "a_items",
    "b_intent",
    "b_items",
    "a_total",
    "b_total",
    "delta",
)


def write_csv(d: SessionDiff, path: Path) -> None:
    """One row a changed comment (change=comment) or order (gained/lost/changed), and a last
    row with the revenues; UTF-8 with BOM for spreadsheets."""
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        writer = csv.DictWriter(f, CSV_HEADER, restval="", lineterminator="\r\n")
        writer.writeheader()
        for c in d.comments:
            writer.writerow(
                {
                    "change": "comment",
                    "id": c.comment_id,
                    "ts": c.ts,
                    "time": iso(c.ts),
                    "customer_name": spreadsheet_text(c.customer_name),
                    "text": spreadsheet_text(c.text),
                    "a_intent": c.a.intent,
                    "a_items": describe(c.a).partition(": ")[2],
                    "b_intent": c.b.intent,
                    "b_items": describe(c.b).partition(": ")[2],
                }
            )
        for o in d.orders:
            writer.writerow(
                {
                    "change": o.kind,
                    "id": o.order_id,
                    "customer_name": spreadsheet_text(o.customer_name),
                    "a_total": o.a_total,
                    "b_total": o.b_total,
                    "delta": o.b_total - o.a_total,
                }
            )
        writer.writerow(
            {
                "change": "revenue",
                "id": d.stream,
                "a_total": d.revenue_a,
                "b_total": d.revenue_b,
                "delta": d.revenue_delta,
            }
        )


# --- the command ---


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", type=Path, help="a replay's SQLite file, the live session's, or an export")
    p.add_argument("b", type=Path, help="the other one")
    p.add_argument("--stream", help="stream id (default: the one stream both hold)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="also write the changes as CSV")


def common_stream(a: Path, b: Path) -> str:
    if not (is_sqlite(a) and is_sqlite(b)):
        raise ValueError("pass --stream (it is only found by itself in SQLite files)")
    shared = sorted(set(sqlite_streams(a)) & set(sqlite_streams(b)))
    if len(shared) != 1:
        found = ", ".join(shared) or "none"
        raise ValueError(f"pass --stream: the files share {len(shared)} streams ({found})")
    return shared[0]


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when nothing changed, 1 when something did (like diff), 2 on an error."""
    try:
        stream = args.stream or common_stream(args.a, args.b)
        d = diff_sessions(load_path(args.a, stream), load_path(args.b, stream))
    except (OSError, ValueError) as exc:
        print(f"chotdon diff: {exc}", file=sys.stderr)
        return 2
    print(render(d, str(args.a), str(args.b)))
    if args.csv:
        write_csv(d, args.csv)
        print(f"\nCSV: {args.csv}")
    return 1 if d else 0
