"""`chotdon report`: one session as a self-contained HTML page in Vietnamese.

One file (charts are PNGs inside it as data URIs), so it can be mailed or put on a shared
drive as it is. `summarise` computes every figure from the session's records (the same ones the
feed showed: revenue is the confirmed totals at the end, orders those with a confirmed line);
`render` lays them out; `charts` draws.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from chotdon.catalog import Catalog
from chotdon.config import settings
from chotdon.figures import Figures, conversion
from chotdon.formatting import INTENT_LABELS, format_qty, format_vnd
from chotdon.phones import mask_phones_in
from chotdon.records import INTENT_KINDS, MetricsSnapshot, OrderEvent

from .labels import count, decimal, describe, percent
from .options import add_time_arguments
from .session import Session, load_path, resolve_catalog
from .times import TimeRange, local

FINE_BUCKET_S, MINUTE_S = 10, 60
FINE_UNTIL_S = 20 * 60  # sessions shorter than this are charted in 10 s buckets (per-minute rates)
TOP_PRODUCTS, BUSIEST = 10, 5
UNSURE, UNSURE_PER_KIND = 12, 3  # a few of each intent: the lowest are all alike chatter


@dataclass(frozen=True, slots=True)
class ProductSales:
    sku: str
    name: str
    unit: str
    qty: float  # confirmed, in the product's unit
    revenue: int  # VND
    customers: int


@dataclass(frozen=True, slots=True)
class VariantSales:
    """A variant's confirmed sales, at its price (its own, or its product's)."""

    sku: str
    name: str
    variant: str
    unit: str
    qty: float
    revenue: int  # VND
    customers: int


@dataclass(frozen=True, slots=True)
class Waiting:
    sku: str
    name: str
    variant: str | None
    unit: str
    qty: float
    customers: int


@dataclass(frozen=True, slots=True)
class Unsure:
    ts: float
    customer: str
    text: str  # phones masked
    intent: str
    items: str
    confidence: float


@dataclass
class Summary:
    stream: str
    title: str
    start: float
    end: float
    target: int
    parser_version: str
    comments: int = 0
    commenters: int = 0
    viewers_peak: int = 0
    customers_ordering: int = 0  # customers with any order line, even one awaiting review
    orders: int = 0  # orders with a confirmed line at the end (one per customer)
    revenue: int = 0
    intents: dict[str, int] = field(default_factory=dict)
    products: list[ProductSales] = field(default_factory=list)  # by revenue, largest first
    variants: list[VariantSales] = field(default_factory=list)  # by product as above, revenue
    cancel_comments: int = 0
    cancel_events: int = 0
    orders_emptied: int = 0  # orders that ended with no line at all
    waiting: list[Waiting] = field(default_factory=list)
    reviews: int = 0  # lines still awaiting the host's review at the end
    busiest: list[MetricsSnapshot] = field(default_factory=list)  # minutes, busiest first
    unsure: list[Unsure] = field(default_factory=list)
    bucket_s: int = MINUTE_S
    buckets: list[MetricsSnapshot] = field(default_factory=list)  # every bucket, gaps filled
    revenue_curve: list[tuple[float, int]] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)


def summarise(session: Session, catalog: Catalog) -> Summary:
    comments = [c for c in session.comments if not c.deleted]
    intents = [i for i in session.intents if i.comment and not i.comment.deleted]
    times = [c.ts for c in comments] or [0.0]
    final = session.final_orders()
    figures = Figures.of(final)
    versions = Counter(i.parser_version for i in intents)
    s = Summary(
        stream=session.stream,
        title=catalog.title,
        start=min(times),
        end=max(times),
        target=catalog.target_revenue,
        parser_version=versions.most_common(1)[0][0] if versions else "",
        comments=len(comments),
        commenters=len({f"{c.platform}:{c.user_id}" for c in comments}),
        viewers_peak=max((v.viewers for v in session.viewers), default=0),
        customers_ordering=len({e.customer for e in session.order_events}),
        orders=figures.orders,
        revenue=figures.revenue,
        cancel_events=sum(e.kind == "cancelled" for e in session.order_events),
        orders_emptied=sum(not e.lines for e in final),
        reviews=sum(line.status == "review" for e in final for line in e.lines),
    )
    kinds = Counter(i.intent for i in intents)
    s.intents = {kind: kinds.get(kind, 0) for kind in INTENT_KINDS}
    s.cancel_comments = kinds.get("cancel", 0)
    s.products, s.variants, s.waiting = _products(final, catalog)
    minutes = session.windows(MINUTE_S)
    s.busiest = sorted(minutes, key=lambda m: (-m.comments, m.window_start))[:BUSIEST]
    s.bucket_s = FINE_BUCKET_S if s.duration < FINE_UNTIL_S else MINUTE_S
    s.buckets = _filled(session.windows(s.bucket_s), s.bucket_s, session.stream)
    s.revenue_curve = _revenue_curve(session.order_events, s.start)
    s.unsure = _unsure(session)
    return s


@dataclass
class _Tally:
    qty: float = 0.0
    revenue: float = 0.0
    customers: set[str] = field(default_factory=set)

    def add(self, qty: float, revenue: float, customers: set[str]) -> None:
        self.qty += qty
        self.revenue += revenue
        self.customers |= customers


def _products(
    final: list[OrderEvent], catalog: Catalog
) -> tuple[list[ProductSales], list[VariantSales], list[Waiting]]:
    """Confirmed sales per product and per variant, and what is waited for per variant."""
    sold: dict[tuple[str, str | None], _Tally] = defaultdict(_Tally)
    waited: dict[tuple[str, str | None], _Tally] = defaultdict(_Tally)
    for event in final:
        for line in event.lines:
            if line.status in ("confirmed", "waitlisted"):
                tally = (sold if line.status == "confirmed" else waited)[line.sku, line.variant]
                tally.add(line.qty, line.qty * line.unit_price, {event.customer})
    per_sku: dict[str, _Tally] = defaultdict(_Tally)
    for (sku, _), tally in sold.items():
        per_sku[sku].add(tally.qty, tally.revenue, tally.customers)

    def named(sku: str) -> tuple[str, str]:
        product = catalog.by_sku(sku)
        return (product.name, product.unit) if product else (sku, "")

    products = [
        ProductSales(sku, *named(sku), t.qty, round(t.revenue), len(t.customers))
        for sku, t in per_sku.items()
    ]
    products.sort(key=lambda p: (-p.revenue, -p.qty, p.sku))
    rank = {p.sku: i for i, p in enumerate(products)}
    variants = []
    for (sku, variant), t in sold.items():
        if variant is not None:
            name, unit = named(sku)
            variants.append(
                VariantSales(sku, name, variant, unit, t.qty, round(t.revenue), len(t.customers))
            )
    variants.sort(key=lambda v: (rank[v.sku], -v.revenue, v.variant))
    waits = [
        Waiting(sku, named(sku)[0], variant, named(sku)[1], t.qty, len(t.customers))
        for (sku, variant), t in waited.items()
    ]
    waits.sort(key=lambda w: (-w.customers, w.sku, w.variant or ""))
    return products, variants, waits


def _filled(windows: list[MetricsSnapshot], size: int, stream: str) -> list[MetricsSnapshot]:
    """Every bucket from the first to the last, the quiet ones as zeros (the viewers carried)."""
    if not windows:
        return []
    by_start = {w.window_start: w for w in windows}
    out = []
    start, last = windows[0].window_start, windows[-1].window_start
    viewers = 0
    while start <= last:
        window = by_start.get(start) or MetricsSnapshot(
            stream=stream, window_start=start, window_s=size, viewers=viewers
        )
        viewers = window.viewers
        out.append(window)
        start += size
    return out


def _revenue_curve(events: list[OrderEvent], start: float) -> list[tuple[float, int]]:
    """(ts, confirmed revenue so far) after each order event."""
    totals: dict[str, int] = {}
    revenue, curve = 0, [(start, 0)]
    for event in sorted(events, key=lambda e: e.seq):
        revenue += event.total - totals.get(event.order_id, 0)
        totals[event.order_id] = event.total
        curve.append((event.ts, revenue))
    return curve


def _unsure(session: Session) -> list[Unsure]:
    """The comments the parser was least sure of: one of each text (chats repeat a lot) and
    a few of each intent, least sure first."""
    seen: set[str] = set()
    per_kind: Counter[str] = Counter()
    out: list[Unsure] = []
    ranked = sorted(
        (i for i in session.intents if i.comment and not i.comment.deleted),
        key=lambda i: (i.confidence, i.comment.ts if i.comment else 0.0),
    )
    for intent in ranked:
        comment = intent.comment
        assert comment is not None  # filtered above
        key = " ".join(comment.text.casefold().split())
        if key in seen or per_kind[intent.intent] == UNSURE_PER_KIND:
            continue
        seen.add(key)
        per_kind[intent.intent] += 1
        items = describe(intent).partition(": ")[2]
        out.append(
            Unsure(
                comment.ts,
                comment.user_name or comment.user_id,
                mask_phones_in(comment.text),
                intent.intent,
                items,
                intent.confidence,
            )
        )
        if len(out) == UNSURE:
            break
    return out


# --- the page ---


def _clock(ts: float, seconds: bool = False) -> str:
    return local(ts).strftime("%H:%M:%S" if seconds else "%H:%M")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} giờ {minutes} phút"
    return f"{minutes} phút {secs} giây" if minutes else f"{secs} giây"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img class="chart" alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _kpi(key: str, label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{note}</div>' if note else ""
    return (
        f'<div class="kpi" data-kpi="{key}"><div class="label">{label}</div>'
        f'<div class="value">{escape(value)}</div>{note_html}</div>'
    )


def _cell(tag: str, i: int, text: str, numeric: set[int]) -> str:
    return f'<{tag} class="num">{text}</{tag}>' if i in numeric else f"<{tag}>{text}</{tag}>"


def _table(
    headers: list[str], rows: list[list[str]], numeric: set[int], attrs: list[str] | None = None
) -> str:
    """Cells are HTML already (escaped by the caller); `attrs` go on each row's <tr>."""
    head = "".join(_cell("th", i, h, numeric) for i, h in enumerate(headers))
    body = "".join(
        f"<tr{' ' + attrs[r] if attrs else ''}>"
        + "".join(_cell("td", i, cell, numeric) for i, cell in enumerate(row))
        + "</tr>"
        for r, row in enumerate(rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(s: Summary, source: str) -> str:
    from . import charts

    starts = [b.window_start for b in s.buckets]
    per_minute = MINUTE_S / s.bucket_s
    activity = charts.activity(
        starts,
        s.bucket_s,
        [b.comments * per_minute for b in s.buckets],
        [b.window_start for b in s.buckets],
        [b.viewers for b in s.buckets],
    )
    sales = charts.sales(
        starts,
        s.bucket_s,
        [b.orders * per_minute for b in s.buckets],
        [t for t, _ in s.revenue_curve],
        [r for _, r in s.revenue_curve],
        s.target,
    )
    funnel = charts.funnel(
        [
            ("Người xem (cao nhất)", s.viewers_peak),
            ("Người bình luận", s.commenters),
            ("Khách đặt hàng", s.customers_ordering),
            ("Khách có đơn chốt", s.orders),
        ]
    )
    top = s.products[:TOP_PRODUCTS]
    products = charts.ranking(
        "Doanh thu theo sản phẩm",
        [p.name for p in top],
        [p.revenue for p in top],
        [f"{format_vnd(p.revenue)} · {format_qty(p.qty)} {p.unit}" for p in top],
        charts.GREEN,
        charts.compact_vnd,
    )
    total_intents = sum(s.intents.values())
    intents = charts.ranking(
        "Bình luận theo ý định",
        [INTENT_LABELS[k] for k in s.intents],
        list(s.intents.values()),
        [f"{count(n)} ({percent(n, total_intents)})" for n in s.intents.values()],
        charts.BLUE,
        width=charts.WIDTH_IN / 2,
    )
    bucket_note = (
        "tính trên từng 10 giây, quy ra mỗi phút" if s.bucket_s == FINE_BUCKET_S else "mỗi phút"
    )
    reached = next((t for t, r in s.revenue_curve if s.target and r >= s.target), None)
    target_note = (
        f"{percent(s.revenue, s.target)} mục tiêu {escape(format_vnd(s.target))}"
        + (f"<br>đạt mục tiêu lúc {_clock(reached, True)}" if reached else "")
        if s.target
        else "chưa đặt mục tiêu"
    )
    date = local(s.start).strftime("%d/%m/%Y")
    kpis = "".join(
        [
            _kpi("revenue", "Doanh thu", format_vnd(s.revenue), target_note),
            _kpi("orders", "Đơn chốt", count(s.orders), f"{count(s.customers_ordering)} khách đặt"),
            _kpi("comments", "Bình luận", count(s.comments), f"{count(s.commenters)} người"),
            _kpi("viewers", "Người xem cao nhất", count(s.viewers_peak)),
            _kpi(
                "conversion",
                "Tỉ lệ chốt",
                percent(conversion(s.orders, s.commenters), 1) if s.commenters else "–",
                "khách có đơn / người bình luận",
            ),
            _kpi(
                "average",
                "Giá trị đơn trung bình",
                format_vnd(s.revenue / s.orders) if s.orders else "–",
            ),
        ]
    )
    product_rows = [
        [
            escape(p.sku),
            escape(p.name),
            f"{format_qty(p.qty)} {escape(p.unit)}",
            format_vnd(p.revenue),
            percent(p.revenue, s.revenue),
            count(p.customers),
        ]
        for p in s.products
    ]
    product_table = _table(
        ["Mã", "Sản phẩm", "Số lượng", "Doanh thu", "Tỉ trọng", "Khách"],
        product_rows,
        {2, 3, 4, 5},
        [f'data-sku="{escape(p.sku)}"' for p in s.products],
    )
    variant_table = (
        "<h3>Theo phân loại</h3>"
        + _table(
            ["Mã", "Sản phẩm", "Phân loại", "Số lượng", "Đơn giá", "Doanh thu", "Khách"],
            [
                [
                    escape(v.sku),
                    escape(v.name),
                    escape(v.variant),
                    f"{format_qty(v.qty)} {escape(v.unit)}",
                    format_vnd(v.revenue / v.qty) if v.qty else "–",
                    format_vnd(v.revenue),
                    count(v.customers),
                ]
                for v in s.variants
            ],
            {3, 4, 5, 6},
            [f'data-variant="{escape(v.sku)} / {escape(v.variant)}"' for v in s.variants],
        )
        if s.variants
        else ""
    )
    intent_rows = [
        [INTENT_LABELS[k], escape(k), count(n), percent(n, total_intents)]
        for k, n in s.intents.items()
    ]
    waiting_rows = [
        [
            escape(w.name) + (f" – {escape(w.variant)}" if w.variant else ""),
            f"{format_qty(w.qty)} {escape(w.unit)}",
            count(w.customers),
        ]
        for w in s.waiting
    ]
    waiting_table = (
        _table(["Sản phẩm", "Số lượng chờ", "Khách chờ"], waiting_rows, {1, 2})
        if waiting_rows
        else '<p class="muted">Không có khách nào phải chờ hàng.</p>'
    )
    busiest_rows = [
        [
            f"{_clock(m.window_start)}–{_clock(m.window_start + MINUTE_S)}",
            count(m.comments),
            count(m.commenters),
            count(m.orders),
            format_vnd(m.revenue),
            count(m.viewers),
        ]
        for m in s.busiest
    ]
    unsure_rows = [
        [
            _clock(u.ts, True),
            escape(u.customer),
            f"<q>{escape(u.text)}</q>",
            f"{INTENT_LABELS[u.intent]}" + (f" · {escape(u.items)}" if u.items else ""),
            decimal(u.confidence, 2),
        ]
        for u in s.unsure
    ]
    generated = local(time.time()).strftime("%H:%M %d/%m/%Y")
    return PAGE.format(
        title=escape(s.title),
        meta=escape(
            f"Luồng {s.stream} · {date}, {_clock(s.start)}–{_clock(s.end)} "
            f"({_duration(s.duration)})"
        ),
        kpis=kpis,
        activity=_img(activity, "Bình luận mỗi phút và người xem"),
        sales=_img(sales, "Đơn mỗi phút và doanh thu cộng dồn"),
        bucket_note=bucket_note,
        funnel=_img(funnel, "Phễu chuyển đổi"),
        products_chart=_img(products, "Doanh thu theo sản phẩm"),
        products_table=product_table,
        variants_table=variant_table,
        intents_chart=_img(intents, "Bình luận theo ý định"),
        intents_table=_table(["Ý định", "intent", "Bình luận", "Tỉ lệ"], intent_rows, {2, 3}),
        cancel_comments=count(s.cancel_comments),
        cancel_events=count(s.cancel_events),
        orders_emptied=count(s.orders_emptied),
        reviews=count(s.reviews),
        waiting_table=waiting_table,
        busiest_table=_table(
            ["Phút", "Bình luận", "Người", "Đơn mới", "Doanh thu", "Người xem"],
            busiest_rows,
            {1, 2, 3, 4, 5},
        ),
        unsure_table=_table(
            ["Giờ", "Khách", "Bình luận", "Parser hiểu là", "Độ tin cậy"], unsure_rows, {4}
        ),
        footer=escape(
            f"chotdon · parser {s.parser_version} · nguồn {source} · tạo lúc {generated}"
        ),
    )


PAGE = """<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Báo cáo phiên: {title}</title>
<style>
:root {{ --ink: #1f2933; --muted: #7b8794; --line: #e4e7eb; --bg: #f5f7fa;
        --green: #0b7a4b; --blue: #2f6fb3; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 "Noto Sans", "Segoe UI", "DejaVu Sans", system-ui, sans-serif; }}
header {{ background: linear-gradient(120deg, #0b7a4b, #2f6fb3); color: white;
         padding: 28px 40px 24px; }}
header .eyebrow {{ text-transform: uppercase; letter-spacing: .08em; font-size: 12px;
                  opacity: .85; }}
header h1 {{ margin: 4px 0 6px; font-size: 26px; }}
header .meta {{ opacity: .9; }}
main {{ max-width: 1240px; margin: 0 auto; padding: 24px 40px 40px; }}
.kpis {{ display: grid; grid-template-columns: repeat(7, 1fr); gap: 12px; margin-top: -44px; }}
.kpi[data-kpi=revenue] {{ grid-column: span 2; }}
.kpi {{ background: white; border-radius: 10px; padding: 14px 16px;
       box-shadow: 0 1px 3px rgba(31,41,51,.12); }}
.kpi .label {{ color: var(--muted); font-size: 13px; }}
.kpi .value {{ font-size: 22px; font-weight: 700; margin-top: 2px; white-space: nowrap; }}
.kpi[data-kpi=revenue] .value {{ font-size: 26px; }}
.kpi[data-kpi=revenue] .value {{ color: var(--green); }}
.kpi .note {{ color: var(--muted); font-size: 12px; margin-top: 2px; }}
section {{ background: white; border-radius: 10px; padding: 18px 22px; margin-top: 18px;
          box-shadow: 0 1px 3px rgba(31,41,51,.08); }}
h2 {{ font-size: 18px; margin: 0 0 4px; }}
h3 {{ font-size: 15px; margin: 18px 0 4px; }}
section > p.lead {{ color: var(--muted); margin: 0 0 12px; font-size: 13px; }}
.chart {{ width: 100%; height: auto; display: block; }}
.chart + .chart {{ margin-top: 18px; }}
.two {{ display: grid; grid-template-columns: 1fr 1fr; gap: 24px; align-items: start; }}
table {{ border-collapse: collapse; width: 100%; font-size: 14px; }}
th {{ text-align: left; color: var(--muted); font-weight: 600; border-bottom: 2px solid var(--line);
     padding: 6px 8px; }}
td {{ border-bottom: 1px solid var(--line); padding: 6px 8px; vertical-align: top; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
q {{ quotes: "«" "»"; }}
.figures {{ display: flex; gap: 28px; margin: 8px 0 14px; flex-wrap: wrap; }}
.figures div {{ min-width: 150px; }}
.figures b {{ display: block; font-size: 20px; }}
.figures span {{ color: var(--muted); font-size: 13px; }}
.muted {{ color: var(--muted); }}
footer {{ color: var(--muted); font-size: 12px; text-align: center; padding: 0 0 28px; }}
@media (max-width: 900px) {{
  .kpis {{ grid-template-columns: repeat(2, 1fr); margin-top: 12px; }}
  .two {{ grid-template-columns: 1fr; }}
  main, header {{ padding-left: 16px; padding-right: 16px; }}
}}
</style>
</head>
<body>
<header>
  <div class="eyebrow">Báo cáo phiên livestream</div>
  <h1>{title}</h1>
  <div class="meta">{meta}</div>
</header>
<main>
<div class="kpis">{kpis}</div>

<section>
  <h2>Diễn biến phiên</h2>
  <p class="lead">Bình luận, người xem, đơn mới ({bucket_note}) và doanh thu cộng dồn.</p>
  {activity}
  {sales}
</section>

<section>
  <h2>Phễu chuyển đổi</h2>
  <p class="lead">Từ người xem (lúc đông nhất) đến khách có đơn đã chốt ở cuối phiên.</p>
  {funnel}
</section>

<section>
  <h2>Sản phẩm bán chạy</h2>
  <p class="lead">Số lượng và doanh thu đã chốt ở cuối phiên.</p>
  {products_chart}
  {products_table}
  {variants_table}
</section>

<section class="two">
  <div>
    <h2>Ý định bình luận</h2>
    <p class="lead">Parser đọc mỗi bình luận là đặt hàng, sửa, huỷ, hỏi, liên hệ hay khác.</p>
    {intents_table}
  </div>
  <div>{intents_chart}</div>
</section>

<section>
  <h2>Huỷ đơn và hàng chờ</h2>
  <div class="figures">
    <div><b>{cancel_comments}</b><span>bình luận huỷ</span></div>
    <div><b>{cancel_events}</b><span>lần đơn bị huỷ hết</span></div>
    <div><b>{orders_emptied}</b><span>đơn trống ở cuối phiên</span></div>
    <div><b>{reviews}</b><span>dòng chờ chủ shop duyệt</span></div>
  </div>
  {waiting_table}
</section>

<section>
  <h2>Những phút sôi động nhất</h2>
  {busiest_table}
</section>

<section>
  <h2>Bình luận parser ít chắc chắn nhất</h2>
  <p class="lead">Nên đọc lại: độ tin cậy thấp nhất (mỗi nội dung một lần;
    số điện thoại đã che).</p>
  {unsure_table}
</section>
</main>
<footer>{footer}</footer>
</body>
</html>
"""


def write_report(session: Session, catalog: Catalog, out: Path, source: str) -> Summary:
    summary = summarise(session, catalog)
    out.write_text(render(summary, source), encoding="utf-8")
    return summary


# --- the command ---


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stream", required=True, help="stream id (the catalog's `stream`)")
    p.add_argument(
        "--db",
        default=settings().db,
        help="the session's SQLite file (live or a replay) or an export directory "
        "(env CHOTDON_DB; default %(default)s)",
    )
    p.add_argument("--catalog", help="catalog file or bundled name (default: the recorded one)")
    add_time_arguments(p)
    p.add_argument("--out", type=Path, default=Path("report.html"), help="default %(default)s")


def cmd_report(args: argparse.Namespace) -> int:
    try:
        span = TimeRange.parse(args.start, args.end)
        session = load_path(Path(args.db), args.stream)
        catalog = resolve_catalog(args.catalog, session)
    except (OSError, ValueError) as exc:
        print(f"chotdon report: {exc}", file=sys.stderr)
        return 2
    session = session.between(span)
    if not session.comments:
        print(f"chotdon report: no comments of stream '{args.stream}' there", file=sys.stderr)
        return 1
    s = write_report(session, catalog, args.out, args.db)
    print(
        f"Báo cáo (report): {args.out} — {count(s.comments)} bình luận, {count(s.orders)} đơn "
        f"chốt, doanh thu {format_vnd(s.revenue)}"
    )
    return 0
