"""Personal data on public paths: one scrubber for phones however typed, no platform user ids for
viewers, fixed metric labels, a CSV safe to open in Excel, a private SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import stat
from pathlib import Path

import pytest

from chotdon.catalog import load_catalog
from chotdon.phones import mask_phones_in
from chotdon.prometheus import PipelineMetrics
from chotdon.records import Comment, OrderEvent, OrderLine, encode
from ingest.sources import JsonLinesSource
from sinks.feed.csv_export import orders_csv
from sinks.feed.view import StreamView
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner

STREAM = "kim-an-oi"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Lan 0912 345 999", "Lan 0912***999"),
        ("gọi 0912  345  678 nhé", "gọi 0912***678 nhé"),
        ("0912,345,678", "0912***678"),
        ("(091) 234 5678", "0912***678"),
        ("sđt ０９１２３４５６７８", "sđt 0912***678"),
        ("+84 912-345-678", "0912***678"),
        ("84912345678", "0912***678"),
        ("912 345 678", "0912***678"),
        ("chốt 2 0912345678", "chốt 2 0912***678"),  # a quantity right before the number
        ("0912.345.678/0987 654 321", "0912***678/0987***321"),
        ("giá 150.000 200.000, 1.500.000", "giá 150.000 200.000, 1.500.000"),  # prices stay
        ("A3 x2, mã 12345", "A3 x2, mã 12345"),
    ],
)
def test_one_scrubber_masks_a_phone_however_it_is_typed(text: str, shown: str) -> None:
    assert mask_phones_in(text) == shown


def order(name: str, phone: str | None, lines: list[OrderLine] | None = None) -> OrderEvent:
    lines = lines or [OrderLine(sku="OI-HOP", variant=None, qty=2, unit_price=80_000)]
    return OrderEvent(
        kind="confirmed",
        stream=STREAM,
        order_id="o1",
        customer="facebook:100045678901234",
        customer_name=name,
        lines=lines,
        total=160_000,
        phone=phone,
        comment_id="facebook:c1",
        ts=1_714_560_000.0,
        seq=1,
    )


def view_with(event: OrderEvent) -> StreamView:
    view = StreamView.for_catalog(load_catalog("kim-an"), STREAM)
    view.apply(event)
    return view


def test_viewers_see_no_phone_in_names_and_no_platform_user_id() -> None:
    review = OrderLine(
        sku="", variant=None, qty=0, unit_price=0, status="review", review_id="c1#0",
        missing="product",
    )  # fmt: skip
    view = StreamView.for_catalog(load_catalog("kim-an"), STREAM)
    view.apply(
        Comment(stream=STREAM, comment_id="c1", user_id="1", text="lấy cái kia 0912 345 678", ts=1)
    )
    view.apply(order("Lan 0912 345 999", "0912345999", [review]))
    public = view.snapshot(masked=True)
    shown = str(public)
    assert "100045678901234" not in shown
    for digits in ("345 999", "345999", "345 678"):
        assert digits not in shown
    assert public["orders"][0]["customer_name"] == "Lan 0912***999"
    assert public["reviews"][0]["customer_name"] == "Lan 0912***999"
    assert public["reviews"][0]["text"] == "lấy cái kia 0912***678"
    host = view.snapshot(masked=False)
    assert host["orders"][0]["customer"] == "facebook:100045678901234"
    assert host["orders"][0]["phone"] == "0912345999"


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("Lan;=HYPERLINK(1)", "Lan;'=HYPERLINK(1)"),  # Excel in vi-VN splits cells on ";"
        ("Lan, @SUM(1)", "Lan, '@SUM(1)"),
        ("\x00=cmd|'/c calc'!A0", "'=cmd|'/c calc'!A0"),  # a NUL before the formula
        ("Chị Lan", "Chị Lan"),
    ],
)
def test_csv_defuses_formulas_in_every_piece_of_a_cell(name: str, cell: str) -> None:
    rows = read_csv(orders_csv(view_with(order(name, None)), masked=False))
    assert rows[1][1] == cell


def test_csv_keeps_phones_as_text_and_masks_names_for_viewers() -> None:
    view = view_with(order("Lan 0912 345 999", "0912345999"))
    host = read_csv(orders_csv(view, masked=False))[1]
    assert host[1:3] == ["Lan 0912 345 999", "0912 345 999"]  # not 912345999 in Excel
    public = read_csv(orders_csv(view, masked=True))[1]
    assert public[1:3] == ["Lan 0912***999", "0912***999"]


def test_dead_letter_metrics_have_fixed_labels(tmp_path: Path) -> None:
    path = tmp_path / "shop 0912345678.jsonl"
    bad = Comment(stream="lan-0912345678", comment_id="c", user_id="u", text="chốt", ts=1.0)
    path.write_text("{nope\n" + encode(bad).decode() + "\n", encoding="utf-8")
    store = SQLiteStore(tmp_path / "m.db")
    metrics = PipelineMetrics()
    runner = EmbeddedRunner([load_catalog("kim-an")], store, metrics=metrics)
    asyncio.run(runner.run(JsonLinesSource(str(path))))
    store.close()
    samples = [
        s for m in metrics.registry.collect() if m.name == "chotdon_dead_letters" for s in m.samples
    ]
    labels = sorted(
        (s.labels["source"], s.labels["reason"]) for s in samples if s.name.endswith("_total")
    )
    assert labels == [("file", "bad_json"), ("file", "unknown_stream")]


def test_the_session_file_is_private(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = SQLiteStore(db)
    store.put_catalogs([load_catalog("kim-an")])
    for path in (db, Path(f"{db}-wal")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    store.close()
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    SQLiteStore(old).close()
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
