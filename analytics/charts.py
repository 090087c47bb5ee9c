"""The report's charts, drawn with matplotlib (Agg: no display needed) as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: a server or CI has no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from .labels import count, decimal
from .times import local

VIETNAM_OFFSET_S = 7 * 3600  # ticks on round local times, not round UTC ones
TICK_STEPS_S = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)

WIDTH_IN, DPI = 9.6, 125  # 1200 px wide: sharp on a laptop, small as a PNG
INK, MUTED, GRID = "#1f2933", "#7b8794", "#e4e7eb"
GREEN, ORANGE, BLUE, RED = "#0b7a4b", "#e8833a", "#2f6fb3", "#c0392b"
FUNNEL = ("#9fb3c8", "#5f8fc2", "#2f6fb3", "#0b7a4b")

plt.rcParams.update(
    {
        "font.family": ["DejaVu Sans"],  # has every Vietnamese letter
        "font.size": 10,
        "axes.edgecolor": GRID,
        "axes.labelcolor": INK,
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
        "axes.titlecolor": INK,
        "axes.titlelocation": "left",
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def compact_vnd(amount: float) -> str:
    """Axis labels: 15.000.000 -> "15 tr", 250.000 -> "250 N" (triệu, nghìn)."""
    if abs(amount) >= 1_000_000:
        return decimal(amount / 1_000_000, 1).removesuffix(",0") + " tr"
    if abs(amount) >= 1000:
        return count(amount / 1000) + " N"
    return count(amount)


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    plt.close(fig)
    return out.getvalue()


def _figure(height: float, width: float = WIDTH_IN) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height), layout="constrained")
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    return fig, ax


def _time_axis(ax: Axes, start: float, end: float) -> None:
    """x in unix seconds, ticked on round local times: at most 10 ticks."""
    step = next((s for s in TICK_STEPS_S if (end - start) / s <= 10), TICK_STEPS_S[-1])
    shown = "%H:%M:%S" if step < 60 else "%H:%M"
    ax.xaxis.set_major_locator(MultipleLocator(step, offset=VIETNAM_OFFSET_S % step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: local(v).strftime(shown)))
    ax.set_xlim(start, end)


def activity(
    bucket_starts: Sequence[float],
    bucket_s: int,
    comments_per_minute: Sequence[float],
    viewer_ts: Sequence[float],
    viewers: Sequence[int],
) -> bytes:
    """Comments per minute (bars) and concurrent viewers (line) over the session."""
    fig, ax = _figure(3.4)
    middles = [t + bucket_s / 2 for t in bucket_starts]
    ax.bar(middles, comments_per_minute, width=bucket_s * 0.85, color=BLUE, alpha=0.85)
    ax.set_ylabel("bình luận / phút")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _time_axis(ax, bucket_starts[0], bucket_starts[-1] + bucket_s)
    right = ax.twinx()
    right.step(viewer_ts, viewers, where="post", color=ORANGE, linewidth=2.2)
    right.set_ylabel("người xem", color=ORANGE)
    right.tick_params(axis="y", colors=ORANGE)
    right.set_ylim(bottom=0)
    right.spines["right"].set_visible(True)
    right.spines["right"].set_color(GRID)
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: count(v)))
    ax.set_title("Bình luận mỗi phút (cột) và người xem (đường)")
    return _png(fig)


def sales(
    bucket_starts: Sequence[float],
    bucket_s: int,
    orders_per_minute: Sequence[float],
    revenue_ts: Sequence[float],
    cumulative_revenue: Sequence[int],
    target: int,
) -> bytes:
    """Orders per minute (bars) and cumulative revenue (line) against the target."""
    fig, ax = _figure(3.4)
    middles = [t + bucket_s / 2 for t in bucket_starts]
    ax.bar(middles, orders_per_minute, width=bucket_s * 0.85, color=GREEN, alpha=0.8)
    ax.set_ylabel("đơn mới / phút")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _time_axis(ax, bucket_starts[0], bucket_starts[-1] + bucket_s)
    right = ax.twinx()
    right.step(revenue_ts, cumulative_revenue, where="post", color=INK, linewidth=2.2)
    if target:
        right.axhline(target, color=RED, linestyle="--", linewidth=1.4)
        right.annotate(
            f"mục tiêu {compact_vnd(target)}",
            xy=(1, target),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 4),
            textcoords="offset points",
            ha="right",
            color=RED,
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none"},
        )
    right.set_ylim(0, max([target, *cumulative_revenue, 1]) * 1.12)
    right.set_ylabel("doanh thu cộng dồn")
    right.spines["right"].set_visible(True)
    right.spines["right"].set_color(GRID)
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: compact_vnd(v)))
    ax.set_title("Đơn mới mỗi phút (cột) và doanh thu cộng dồn (đường) so với mục tiêu")
    return _png(fig)


def funnel(steps: Sequence[tuple[str, int]]) -> bytes:
    """Horizontal bars, widest first, each with its count and share of the first step."""
    fig, ax = _figure(0.5 * len(steps) + 0.6)
    ax.grid(False)
    labels = [label for label, _ in steps][::-1]
    values = [n for _, n in steps][::-1]
    top = max(values[-1], 1)
    ax.barh(labels, values, color=FUNNEL[: len(steps)][::-1], height=0.68)
    for y, n in enumerate(values):
        share = "" if y == len(values) - 1 else f"  ({decimal(100 * n / top)} %)"
        ax.text(n, y, f"  {count(n)}{share}", va="center", color=INK, fontweight="bold")
    ax.set_xlim(0, max(values) * 1.25 or 1)
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    ax.set_title("Phễu: người xem → người bình luận → khách đặt → khách có đơn chốt")
    return _png(fig)


def ranking(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    notes: Sequence[str],
    color: str,
    axis: Callable[[float], str] = count,
    width: float = WIDTH_IN,
) -> bytes:
    """Horizontal bars, first on top, each with a note (its amount) at its end."""
    fig, ax = _figure(0.42 * len(labels) + 0.8, width)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.grid(axis="y", visible=False)
    ax.barh(list(labels)[::-1], list(values)[::-1], color=color, height=0.62)
    for y, note in enumerate(list(notes)[::-1]):
        ax.text(list(values)[::-1][y], y, "  " + note, va="center", color=INK)
    ax.set_xlim(0, max([*values, 1]) * 1.3)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: axis(v)))
    ax.set_title(title)
    return _png(fig)
