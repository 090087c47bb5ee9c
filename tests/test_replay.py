"""`chotdon replay`: deterministic, equal from every source, and never touching the live session."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from analytics import export, replay
from analytics.session import load_sqlite
from analytics.times import iso
from chotdon.catalog import load_catalog
from chotdon.records import SetCurrent
from ingest.sources import JsonLinesSource
from sinks.sqlite_store import SQLiteStore
from stream_jobs.embedded import EmbeddedRunner
from stream_jobs.embedded_session import restore_views
from tests.analytics_helpers import (  # noqa: F401  (fixtures)
    DEMO,
    STREAM,
    command,
    delete_topics,
    demo_db_fixture,
    fingerprint,
    produced,
    rows,
)
from tests.kafka_helpers import make_topics, new_prefix, produce_records


def replay_to(out: Path, source: Path | str, *extra: str) -> None:
    code = command(replay, ["--stream", STREAM, "--source", str(source), "--out", str(out), *extra])
    assert code == 0


def test_a_replay_twice_gives_identical_outputs(demo_db: Path, tmp_path: Path) -> None:
    replay_to(tmp_path / "a.db", demo_db)
    replay_to(tmp_path / "b.db", demo_db)
    a, b = produced(tmp_path / "a.db"), produced(tmp_path / "b.db")
    assert a == b
    assert len(a["intents"]) == 2001 and len(a["order_events"]) > 100
    # the same parser version as the live run: the replay is what happened live
    assert a == produced(demo_db)


def test_replaying_over_an_earlier_replay_starts_afresh(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.db"
    replay_to(out, demo_db, "--to", "1764230500")
    partial = produced(out)
    replay_to(out, demo_db)
    assert produced(out) == produced(demo_db) != partial


def feed(db: Path) -> Any:
    """What the live feed page shows, rebuilt from the live database as a restart does."""
    store = SQLiteStore(db)
    try:
        runner = EmbeddedRunner([load_catalog("kim-an")], store)
        return {s: v.snapshot(masked=False) for s, v in restore_views(store, runner).items()}
    finally:
        store.close()


def test_the_live_order_book_and_feed_are_unchanged_by_a_replay(
    demo_db: Path, tmp_path: Path
) -> None:
    live = tmp_path / "live.db"
    shutil.copy(demo_db, live)  # this test opens it as the live pipeline does
    before, page = fingerprint(live), feed(live)
    replay_to(tmp_path / "r.db", live)
    assert fingerprint(live) == before
    assert feed(live) == page
    assert command(replay, ["--stream", STREAM, "--source", str(live), "--out", str(live)]) == 2
    assert fingerprint(live) == before


def test_a_replay_refuses_to_overwrite_a_database_that_is_not_a_replay(
    demo_db: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other-live.db"
    shutil.copy(demo_db, other)
    before = fingerprint(other)
    with pytest.raises(replay.ReplayError, match="not a replay"):
        replay.prepare_output(other, [demo_db])
    with pytest.raises(replay.ReplayError, match="is the source"):
        replay.prepare_output(tmp_path / ".." / tmp_path.name / "other-live.db", [other])
    assert fingerprint(other) == before


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_then_replay_from_the_file_equals_replay_from_sqlite(
    demo_db: Path, tmp_path: Path, fmt: str
) -> None:
    exported = tmp_path / "export"
    argv = ["--stream", STREAM, "--db", str(demo_db), "--format", fmt, "--out", str(exported)]
    assert command(export, argv) == 0
    replay_to(tmp_path / "from-sqlite.db", demo_db)
    replay_to(tmp_path / "from-file.db", exported / f"comments.{fmt}")
    assert produced(tmp_path / "from-file.db") == produced(tmp_path / "from-sqlite.db")


def test_a_window_replays_its_comments_with_the_product_on_show_when_it_opens(
    demo_db: Path, tmp_path: Path
) -> None:
    session = load_sqlite(demo_db, STREAM)
    switches = [a for a in session.actions if isinstance(a, SetCurrent)]
    start, end = switches[2].ts + 1, switches[4].ts + 1  # the window opens mid-product
    out = tmp_path / "window.db"
    replay_to(out, demo_db, "--from", iso(start), "--to", str(end))
    in_window = [c for c in session.comments if start <= c.ts < end]
    replayed = rows(out, "intents", "comment_id, record")
    assert [cid for cid, _ in replayed] == [c.comment_id for c in in_window]
    # parsing depends only on the text and the product on show: the same as live
    live = dict(rows(demo_db, "intents", "comment_id, record"))
    assert all(live[cid] == record for cid, record in replayed)


def test_the_catalog_recorded_with_the_session_is_the_one_replayed(
    demo_db: Path, tmp_path: Path
) -> None:
    """The live store keeps its catalogs in a `catalogs` table (stream, catalog as JSON): the
    one recorded there is replayed, not the bundled one of the same stream id."""
    live = tmp_path / "live.db"
    shutil.copy(demo_db, live)
    recorded = msgspec.structs.replace(load_catalog("kim-an"), title="recorded")
    with sqlite3.connect(live) as con:
        con.execute(
            "INSERT OR REPLACE INTO catalogs VALUES (?, ?)", (STREAM, msgspec.json.encode(recorded))
        )
    replay_to(tmp_path / "r.db", live)
    assert load_sqlite(tmp_path / "r.db", STREAM).catalog == recorded  # kept in replay_info
    replay_to(tmp_path / "r.db", live, "--catalog", "phu-xuyen")  # given: its products
    replayed = load_sqlite(tmp_path / "r.db", STREAM).catalog
    assert replayed is not None and replayed.stream == STREAM
    assert replayed.products == load_catalog("phu-xuyen").products


def test_a_stream_the_source_does_not_hold_is_said_so(demo_db: Path, tmp_path: Path) -> None:
    argv = ["--stream", "no-such", "--catalog", "kim-an", "--source", str(demo_db)]
    assert command(replay, [*argv, "--out", str(tmp_path / "r.db")]) == 1


def test_replay_from_kafka_equals_replay_from_sqlite(
    kafka_broker: str, demo_db: Path, tmp_path: Path
) -> None:
    prefix = new_prefix("replay")
    make_topics(prefix, 2)
    try:
        catalog = msgspec.structs.replace(load_catalog("kim-an"), title="from the catalog topic")
        produce_records(prefix, [catalog], asyncio.run(_demo_records()))
        out = tmp_path / "from-kafka.db"
        replay_to(out, "kafka", "--bootstrap", kafka_broker, "--topic-prefix", prefix)
        replay_to(tmp_path / "from-sqlite.db", demo_db)
        assert produced(out) == produced(tmp_path / "from-sqlite.db")
        assert load_sqlite(out, STREAM).catalog == catalog  # read from the topic
    finally:
        delete_topics(kafka_broker, prefix)


async def _demo_records() -> list[Any]:
    source = JsonLinesSource(str(DEMO), on_error=lambda *_: None)
    return [record async for _, record in source.records()]
