"""`chotdon export`: files that read back exactly, open in spreadsheets and pandas/DuckDB alike,
and the same from Kafka as from SQLite."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq
import pytest

from analytics import export
from analytics.session import load_export, load_sqlite
from analytics.times import TimeRange, parse_time
from chotdon import topics
from chotdon.phones import PHONE_RE
from chotdon.records import ViewerCount
from stream_jobs.metrics import WINDOWS_S
from tests.analytics_helpers import (  # noqa: F401  (fixtures)
    STREAM,
    command,
    delete_topics,
    demo_db_fixture,
    produce,
    rows,
)
from tests.kafka_helpers import make_topics, new_prefix

FORMATS = ["parquet", "csv", "jsonl"]


def export_to(out: Path, db: Path | str, fmt: str, *extra: str) -> None:
    argv = ["--stream", STREAM, "--format", fmt, "--out", str(out), *extra]
    assert command(export, [*argv, *(["--db", str(db)] if db != "kafka" else [])]) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_reads_back_as_the_records_the_database_holds(
    demo_db: Path, tmp_path: Path, fmt: str
) -> None:
    export_to(tmp_path, demo_db, fmt)
    live, back = load_sqlite(demo_db, STREAM), load_export(tmp_path, STREAM)
    assert back.comments == live.comments and len(back.comments) == 2001
    assert back.intents == live.intents
    assert back.order_events == live.order_events
    assert back.viewers == live.viewers and back.actions == live.actions
    # the embedded mode stores no metrics: the export computes them as the live pipeline does
    assert back.metrics == [m for size in WINDOWS_S for m in live.windows(size)]
    assert sum(m.comments for m in back.metrics if m.window_s == 60) == 2001
    assert {p.name for p in tmp_path.iterdir()} == {"catalog.json"} | {
        f"{t}.{fmt}"
        for t in ("comments", "intents", "order_events", "metrics", "viewers", "actions")
    }


def test_csv_is_utf8_with_a_bom_and_flat_columns(demo_db: Path, tmp_path: Path) -> None:
    export_to(tmp_path, demo_db, "csv")
    raw = (tmp_path / "intents.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with it
    with open(tmp_path / "intents.csv", encoding="utf-8-sig", newline="") as f:
        table = list(csv.DictReader(f))
    first = table[0]
    assert first["time"] == "2025-11-27T15:00:00.838+07:00" and first["ts"] == "1764230400.838"
    ordered = next(r for r in table if r["intent"] == "order" and r["items"] != "[]")
    recorded = dict(rows(demo_db, "intents", "comment_id, record"))[ordered["comment_id"]]
    assert json.loads(ordered["items"]) == json.loads(recorded)["items"]  # JSON text
    # "+1" and "=..." show as text in a spreadsheet and still read back exactly
    plus = [r["text"] for r in table if r["text"].startswith("'")]
    assert plus and all(t[1] in "=+-@'\t\r" for t in plus)
    texts = {c.text for c in load_export(tmp_path, STREAM).comments}
    assert {t[1:] for t in plus} <= texts


def test_parquet_keeps_types_and_local_times(demo_db: Path, tmp_path: Path) -> None:
    export_to(tmp_path, demo_db, "parquet")
    table = pq.read_table(tmp_path / "order_events.parquet")
    schema = table.schema
    assert str(schema.field("time").type) == "timestamp[ms, tz=Asia/Ho_Chi_Minh]"
    assert str(schema.field("total").type) == "int64" and str(schema.field("ts").type) == "double"
    first = table.slice(0, 1).to_pylist()[0]
    assert abs(first["time"].timestamp() - first["ts"]) < 0.001
    assert table.num_rows == len(rows(demo_db, "order_events"))


def test_from_and_to_take_iso_local_times_or_unix_seconds(demo_db: Path, tmp_path: Path) -> None:
    assert parse_time("2025-11-27T15:01") == parse_time("2025-11-27 15:01:00+07:00")
    assert parse_time("1764230460") == parse_time("2025-11-27T15:01") == 1764230460.0
    with pytest.raises(ValueError, match="ISO"):
        parse_time("yesterday")
    with pytest.raises(ValueError):
        TimeRange.parse("1764230500", "1764230400")
    export_to(tmp_path, demo_db, "jsonl", "--from", "2025-11-27T15:01", "--to", "1764230520")
    back = load_export(tmp_path, STREAM)
    times = [c.ts for c in back.comments]
    expected = [
        c.ts for c in load_sqlite(demo_db, STREAM).comments if 1764230460 <= c.ts < 1764230520
    ]
    assert times == expected and times
    assert all(1764230460 <= e.ts < 1764230520 for e in back.order_events)


def test_mask_phones_leaves_no_number_in_any_file(demo_db: Path, tmp_path: Path) -> None:
    export_to(tmp_path / "full", demo_db, "csv")
    export_to(tmp_path / "masked", demo_db, "csv", "--mask-phones")
    full = "".join(p.read_text("utf-8-sig") for p in (tmp_path / "full").iterdir())
    masked = "".join(p.read_text("utf-8-sig") for p in (tmp_path / "masked").iterdir())
    assert PHONE_RE.search(full)  # the demo has customers giving phones
    assert not PHONE_RE.search(masked) and "***" in masked


def test_export_from_kafka_equals_export_from_sqlite(
    kafka_broker: str, demo_db: Path, tmp_path: Path
) -> None:
    live = load_sqlite(demo_db, STREAM)
    prefix = new_prefix("export")
    make_topics(prefix, 2)
    try:
        produce(
            kafka_broker,
            prefix,
            [(topics.COMMENTS, r) for r in live.replay_input() if not isinstance(r, ViewerCount)]
            + [(topics.VIEWERS, v) for v in live.viewers]
            + [(topics.INTENTS, i) for i in live.intents]
            + [(topics.ORDERS, e) for e in live.order_events]
            + [(topics.ORDERS, e) for e in live.order_events[:5]],  # delivered twice
        )
        argv = ["--kafka", "--bootstrap", kafka_broker, "--topic-prefix", prefix]
        export_to(tmp_path / "kafka", "kafka", "jsonl", *argv)
        export_to(tmp_path / "sqlite", demo_db, "jsonl")
        for name in ("comments", "intents", "order_events", "viewers", "actions", "metrics"):
            kafka = (tmp_path / "kafka" / f"{name}.jsonl").read_text("utf-8")
            assert kafka == (tmp_path / "sqlite" / f"{name}.jsonl").read_text("utf-8"), name
    finally:
        delete_topics(kafka_broker, prefix)


def test_a_stream_with_nothing_recorded_exports_nothing(demo_db: Path, tmp_path: Path) -> None:
    argv = ["--stream", "no-such", "--db", str(demo_db), "--out", str(tmp_path / "x")]
    assert command(export, argv) == 1
    assert not (tmp_path / "x").exists()


def test_jsonl_and_parquet_keep_nested_records_nested(demo_db: Path, tmp_path: Path) -> None:
    """Analysts' tools read items, explanation and lines as nested values: no JSON inside JSON."""
    export_to(tmp_path / "jsonl", demo_db, "jsonl")
    export_to(tmp_path / "parquet", demo_db, "parquet")
    recorded = {
        cid: json.loads(record) for cid, record in rows(demo_db, "intents", "comment_id, record")
    }

    with open(tmp_path / "jsonl" / "intents.jsonl", encoding="utf-8") as f:
        intents = [json.loads(line) for line in f]
    ordered = next(r for r in intents if r["intent"] == "order" and r["items"])
    assert ordered["items"] == recorded[ordered["comment_id"]]["items"]  # objects, not text
    assert isinstance(ordered["explanation"][0]["rule"], str)
    # Arrow's JSON reader (what DuckDB and Polars do too) infers the nesting on its own
    events = pa_json.read_json(tmp_path / "jsonl" / "order_events.jsonl")
    assert pa.types.is_list(events.schema.field("lines").type)
    assert pa.types.is_struct(events.schema.field("lines").type.value_type)

    table = pq.read_table(tmp_path / "parquet" / "intents.parquet")
    items = table.schema.field("items").type
    assert str(items) == "list<element: struct<sku: string, qty: double, variant: string>>"
    lines = pq.read_table(tmp_path / "parquet" / "order_events.parquet")
    assert str(lines.schema.field("lines").type.value_type) == (
        "struct<sku: string, variant: string, qty: double, unit_price: int64, status: string,"
        " review_id: string, missing: string>"
    )
    first = next(r for r in table.to_pylist() if r["comment_id"] == ordered["comment_id"])
    assert [i["sku"] for i in first["items"]] == [i["sku"] for i in ordered["items"]]
