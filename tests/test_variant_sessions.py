"""Sessions with variants of their own price and stock, run end to end through `chotdon run`:
a fashion shop (size x colour, stock per combination) and a speciality-food shop (weights at
their own prices). In the first two the viewers name no variant ("chốt 2 áo thun"), so the host
settles each "Cần duyệt" line with one (approve records in the session file), as she would on the
feed page; in the third the parser reads each weight from the comment itself. The order books
and stock are what the order book must make of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from chotdon.records import StockLevels, VariantStock
from sinks.sqlite_store import SQLiteStore
from stream_jobs import restore_book
from stream_jobs.stages import stock_levels

DATA = Path(__file__).parent / "data" / "variants"
ROOT = Path(__file__).resolve().parent.parent

Lines = list[tuple[str, str | None, float, int, str]]  # sku, variant, qty, unit price, status


def chotdon(*args: str) -> None:
    batch = ("--no-serve", "--exit-at-end") if args[0] == "run" else ()
    subprocess.run(
        [sys.executable, "-m", "chotdon", *args, *batch],
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )


def run_session(
    tmp_path: Path, name: str, stream: str, catalog_name: str | None = None
) -> tuple[dict[str, tuple[Lines, int]], StockLevels]:
    """Each customer's order (lines, total) and the stock when the session file has been run."""
    db = tmp_path / f"{name}.db"
    catalog, source = DATA / f"{catalog_name or name}.json", DATA / f"{name}.jsonl"
    chotdon("run", "--catalog", str(catalog), "--source", str(source), "--db", str(db))
    store = SQLiteStore(db)
    try:
        orders: dict[str, tuple[Lines, int]] = {
            e.customer_name: (
                [(x.sku, x.variant, x.qty, x.unit_price, x.status) for x in e.lines],
                e.total,
            )
            for e in store.latest_orders(stream)
        }
        stored = store.book(stream)
        assert stored is not None
        book = restore_book(stored[0])
    finally:
        store.close()
    return orders, stock_levels(book, 0.0)


def test_fashion_session_sells_out_a_size_and_colour_and_promotes_its_waitlist(
    tmp_path: Path,
) -> None:
    orders, stock = run_session(tmp_path, "thoi-trang", "la-phu-thoi-trang")
    assert orders == {
        "Nguyễn Thị Lan": ([], 0),  # took the last two M / trắng, then cancelled
        # waited for M / trắng while L had stock; promoted by Lan's cancel
        "Hoa Phạm": ([("AO-THUN", "M / trắng", 1, 150_000, "confirmed")], 150_000),
        "Minh Anh": ([("AO-THUN", "L / trắng", 1, 150_000, "confirmed")], 150_000),
        # XL at its own price; 3 waited for 2 in stock until the host added one XL / đen
        "Trần Tuấn": ([("AO-THUN", "XL / đen", 3, 165_000, "confirmed")], 495_000),
        "Mai Lê": ([("VAY-LEN", "S / be", 2, 320_000, "confirmed")], 640_000),
        "Ngọc Bích": ([("VAY-LEN", "M / đỏ", 1, 350_000, "confirmed")], 350_000),
        # M / đỏ owns one dress, taken: Thu waits although the other dresses are in stock
        "Thu Hà": ([("VAY-LEN", "M / đỏ", 1, 350_000, "waitlisted")], 0),
        "Bình An": ([("TAT-LEN", None, 3, 25_000, "confirmed")], 75_000),
    }
    assert stock.remaining == {"AO-THUN": 13, "VAY-LEN": 4, "TAT-LEN": 97}
    assert stock.reserved == {"AO-THUN": 5, "VAY-LEN": 3, "TAT-LEN": 3}
    assert stock.waiting == {"VAY-LEN": 1}
    assert [(v.variant, v.remaining, v.reserved, v.waiting) for v in stock.variants] == [
        ("M / trắng", 1, 1, 0),
        ("M / đen", 3, 0, 0),
        ("L / trắng", 4, 1, 0),
        ("L / đen", 4, 0, 0),
        ("XL / trắng", 1, 0, 0),
        ("XL / đen", 0, 3, 0),
        ("M / đỏ", 0, 1, 1),
    ]

    # the report's sales by variant, each at its price, and who waits for which variant
    page = tmp_path / "report.html"
    chotdon(
        "report",
        "--stream",
        "la-phu-thoi-trang",
        "--db",
        str(tmp_path / "thoi-trang.db"),
        "--out",
        str(page),
    )
    html = page.read_text("utf-8")
    row = html.split('data-variant="AO-THUN / XL / đen">')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells == [
        "AO-THUN",
        "Áo thun cotton La Phù",
        "XL / đen",
        "3 cái",
        "165.000 ₫",
        "495.000 ₫",
        "1",
    ]
    assert "Váy len dệt kim – M / đỏ" in html  # Thu waits for it


def test_speciality_food_session_prices_each_weight(tmp_path: Path) -> None:
    orders, stock = run_session(tmp_path, "dac-san", "tay-bac-dac-san")
    assert orders == {
        "Nguyễn Thị Lan": ([], 0),
        "Hoa Phạm": (
            [
                ("MAT-ONG", "500g", 1, 120_000, "confirmed"),
                ("MANG-KHO", None, 0.5, 180_000, "confirmed"),
            ],
            210_000,
        ),
        # 3 jars of 1 kg waited for the 2 left, promoted when Lan cancelled hers
        "Minh Anh": ([("MAT-ONG", "1kg", 3, 220_000, "confirmed")], 660_000),
        "Trần Tuấn": ([("THIT-TRAU", "500g", 2, 480_000, "confirmed")], 960_000),
        "Mai Lê": ([("THIT-TRAU", "250g", 1, 250_000, "confirmed")], 250_000),
        "Ngọc Bích": ([("CHE-SHAN", "200g", 2, 170_000, "confirmed")], 340_000),
        "Thu Hà": ([("CHE-SHAN", "200g", 1, 170_000, "waitlisted")], 0),
        "Bình An": ([("MANG-KHO", None, 2, 180_000, "confirmed")], 360_000),
    }
    assert stock.remaining == {"MAT-ONG": 20, "THIT-TRAU": 12, "CHE-SHAN": 10, "MANG-KHO": 7.5}
    assert stock.reserved == {"MAT-ONG": 4, "THIT-TRAU": 3, "CHE-SHAN": 2, "MANG-KHO": 2.5}
    assert stock.waiting == {"CHE-SHAN": 1}
    assert stock.variants == [
        VariantStock(sku="MAT-ONG", variant="1kg", remaining=1, reserved=3, waiting=0),
        VariantStock(sku="CHE-SHAN", variant="200g", remaining=0, reserved=2, waiting=1),
    ]


def test_the_parser_reads_the_weights_and_the_order_book_moves_the_jars(tmp_path: Path) -> None:
    """Comments alone (the parser reads each weight): a change of weight moves the reservation
    from the 1 kg jars' own stock to the shared one, and the jars it frees go to the next in
    line; a change between weights sharing stock only changes the price."""
    orders, stock = run_session(tmp_path, "dac-san-binh-luan", "tay-bac-dac-san", "dac-san")
    assert orders == {
        "Nguyễn Thị Lan": ([("MAT-ONG", "500g", 3, 120_000, "confirmed")], 360_000),
        "Hoa Phạm": ([("MAT-ONG", "1kg", 2, 220_000, "confirmed")], 440_000),  # promoted
        "Minh Anh": ([("MAT-ONG", "500g", 1, 120_000, "confirmed")], 120_000),
        "Trần Tuấn": ([("THIT-TRAU", "250g", 2, 250_000, "confirmed")], 500_000),
        "Mai Lê": ([("MANG-KHO", None, 0.5, 180_000, "confirmed")], 90_000),
    }
    assert stock.remaining["MAT-ONG"] == 16 + 2 and stock.reserved["MAT-ONG"] == 4 + 2
    assert stock.remaining["THIT-TRAU"] == 13 and stock.waiting == {}
    assert stock.variants[0] == VariantStock(
        sku="MAT-ONG", variant="1kg", remaining=2, reserved=2, waiting=0
    )
