"""One definition of orders and revenue: the demo session gives the same figures on the
progress line, the host's page, the metrics, the report and a replay."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

from chotdon.catalog import load_catalog
from chotdon.figures import Figures
from chotdon.records import OrderEvent
from sinks.feed.view import StreamView
from sinks.sqlite_store import SQLiteStore
from stream_jobs.metrics import Metrics

DEMO = str(resources.files("chotdon") / "data" / "demo_session.jsonl")
ROOT = Path(__file__).resolve().parent.parent
STREAM = "kim-an-oi"
FIGURES = re.compile(
    r"([\d.]+) đơn chốt\W+(?:\(confirmed orders\) · )?doanh thu (?:\(revenue\) )?([\d.]+) ₫"
)


def chotdon(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "chotdon", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=True,
    )
    return done.stdout + done.stderr


def said(output: str) -> tuple[int, int]:
    """(orders, revenue) of the last line stating them."""
    orders, revenue = FIGURES.findall(output)[-1]
    return int(orders.replace(".", "")), int(revenue.replace(".", ""))


def test_every_place_counts_the_demo_sessions_orders_and_revenue_alike(tmp_path: Path) -> None:
    db, replayed = tmp_path / "demo.db", tmp_path / "replay.db"
    progress = said(chotdon("run", "--catalog", "kim-an", "--source", DEMO, "--db", str(db),
                            "--no-serve", "--exit-at-end"))  # fmt: skip
    report = said(chotdon("report", "--stream", STREAM, "--db", str(db),
                          "--out", str(tmp_path / "report.html")))  # fmt: skip
    replay = said(chotdon("replay", "--stream", STREAM, "--source", str(db),
                          "--out", str(replayed)))  # fmt: skip

    store = SQLiteStore(db)
    try:
        latest = store.latest_orders(STREAM)
        events = [e for e in store.records("order_events", STREAM) if isinstance(e, OrderEvent)]
    finally:
        store.close()
    stored = Figures.of(latest)
    view = StreamView.for_catalog(load_catalog("kim-an"))
    for event in latest:
        view.apply(event)
    metrics = Metrics()
    for event in events:
        metrics.add(event)
    page = (view.summary()["orders"], view.summary()["revenue"])
    totals = metrics.totals(STREAM)

    assert stored.orders < len(latest)  # some orders were cancelled: they do not count
    assert progress == report == replay == page == (stored.orders, stored.revenue)
    assert (totals.orders, totals.revenue) == progress
