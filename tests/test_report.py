"""`chotdon report` on the bundled demo session: one self-contained page whose charts hold data
and whose figures are the database's."""

from __future__ import annotations

import base64
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from analytics import report
from chotdon.formatting import format_vnd
from chotdon.phones import PHONE_RE
from tests.analytics_helpers import (  # noqa: F401  (fixtures)
    STREAM,
    command,
    demo_db_fixture,
    rows,
)

DATA_URI = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module", name="page")
def page_fixture(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert command(report, ["--stream", STREAM, "--db", str(demo_db), "--out", str(out)]) == 0
    return out.read_text("utf-8")


def kpi(page: str, key: str) -> str:
    found = re.search(rf'data-kpi="{key}".*?<div class="value">(.*?)</div>', page)
    assert found, key
    return found.group(1)


def final_orders(db: Path) -> list[dict[str, object]]:
    return [json.loads(r) for (r,) in rows(db, "orders")]


def test_the_figures_are_the_databases(page: str, demo_db: Path) -> None:
    orders = final_orders(demo_db)
    paid = [o for o in orders if o["total"] > 0]  # type: ignore[operator]
    revenue = sum(o["total"] for o in paid)  # type: ignore[misc]
    assert kpi(page, "revenue") == format_vnd(revenue) == "14.745.000 ₫"
    assert kpi(page, "orders") == str(len(paid))
    assert kpi(page, "comments") == "2.001"
    peak = max(n for (n,) in rows(demo_db, "viewers", "viewers"))
    assert kpi(page, "viewers") == f"{peak:,}".replace(",", ".")

    sold: dict[str, float] = defaultdict(float)
    for order in orders:
        for line in order["lines"]:  # type: ignore[attr-defined]
            if line["status"] == "confirmed":
                sold[line["sku"]] += line["qty"] * line["unit_price"]
    top = max(sold, key=lambda sku: sold[sku])
    skus = re.findall(r'<tr data-sku="([^"]+)">', page)
    assert skus[0] == top and set(skus) == set(sold)
    first_row = page[page.index(f'data-sku="{top}"') :].split("</tr>")[0]
    assert format_vnd(sold[top]) in first_row


def test_the_charts_hold_data(page: str) -> None:
    pngs = DATA_URI.findall(page)
    assert len(pngs) == 5  # activity, sales, funnel, products, intents
    for data in pngs:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.format == "PNG"
        assert image.width >= 600 and image.height >= 200
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 50  # not one flat colour
        ink = sum(n for n, rgb in colours if rgb != (255, 255, 255))
        assert ink / (image.width * image.height) > 0.03, "a chart with (almost) nothing drawn"
        assert max(ImageStat.Stat(pixels).stddev) > 10


def test_the_activity_chart_draws_a_bar_a_bucket(page: str, demo_db: Path) -> None:
    """The comments chart is blue where the bars are: as many columns as busy 10 s buckets."""
    image = Image.open(io.BytesIO(base64.b64decode(DATA_URI.findall(page)[0]))).convert("RGB")

    def blue(y: int) -> list[bool]:
        return [_bluish(image.getpixel((x, y))) for x in range(image.width)]  # type: ignore[arg-type]

    # just above the x axis every bar is drawn, and the viewers line (never 0) is not
    bottom = next(y for y in range(image.height - 1, 0, -1) if sum(blue(y)) > image.width / 3)
    row = blue(bottom - 3)
    bars = sum(1 for x in range(1, len(row)) if row[x] and not row[x - 1])
    stamps = [float(ts) for (ts,) in rows(demo_db, "comments", "ts")]
    buckets = {int(ts // 10) for ts in stamps}
    assert bars == len(buckets)


def _bluish(rgb: tuple[int, int, int]) -> bool:
    r, _, b = rgb
    return b > 150 and r < 140 and b - r > 60


def test_the_page_is_self_contained_vietnamese_and_masks_phones(page: str, demo_db: Path) -> None:
    assert '<html lang="vi">' in page
    for heading in ("Diễn biến phiên", "Phễu chuyển đổi", "Sản phẩm bán chạy", "Ý định bình luận"):
        assert heading in page
    for heading in ("Huỷ đơn và hàng chờ", "Những phút sôi động nhất"):
        assert heading in page
    assert "Bình luận parser ít chắc chắn nhất" in page
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing to fetch
    texts = " ".join(json.loads(r)["text"] for (r,) in rows(demo_db, "comments"))
    assert PHONE_RE.search(texts)  # the session has phone numbers to hide
    assert not PHONE_RE.search(page)


def test_a_stream_the_database_does_not_hold_is_said_so(demo_db: Path, tmp_path: Path) -> None:
    argv = ["--stream", "no-such", "--catalog", "kim-an", "--db", str(demo_db)]
    assert command(report, [*argv, "--out", str(tmp_path / "r.html")]) == 1
    assert not (tmp_path / "r.html").exists()
